"""SpendSense's data and insights, standard library only (`lambda_entry`, for the Lambda entry
points, adds the handler kit beside them in the image).

Each module imports only what it needs, so one insight's entry point loads that insight, the
data layer and nothing else (no FastAPI, no other insight).
"""
