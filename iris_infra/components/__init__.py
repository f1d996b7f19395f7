"""App-agnostic ComponentResources and the helpers they share, one concern a module: an image,
functions and their releases, an HTTP API and its route table, secrets, a cache table, a data
bucket, a custom domain, a warm-up schedule, log metrics, a dashboard and alarms, and the
physical names every program's resources carry. They know nothing of the apps they deploy:
each app wires them in `iris_infra.apps.<app>`."""
