"""The insight functions' entry points (the split shape): `insights.<name>.handler`.

Each module serves its one insight's route through the Lambda handler kit with
`spendsense_core`'s framework-free app, so its cold start loads that insight and the data layer,
and no FastAPI, Starlette or pydantic.
"""
