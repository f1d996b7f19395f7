"""SpendSense's HTTP API (FastAPI): `api.main.app` serves every route."""
