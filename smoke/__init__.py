"""End-to-end smoke test of a running IRIS or SpendSense API, local or deployed: `python -m smoke`.

`make smoke` runs it after `make run` (or `make run-spendsense`, with APP=spendsense) and CI
runs it after every `pulumi up`. It uses the standard library only, so any Python 3.11 runs it
without a virtualenv or an install step.
"""
