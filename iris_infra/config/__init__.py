"""The config machinery every program's typed stack config is built on, one concern a module:

- `errors`: ConfigError, which lists every problem of a stack at once, and `construct`;
- `keys`: a settings dataclass's config keys, read from Pulumi (`pulumi.Config`) or from raw
  values, each parsed as its field's type;
- `checks`: value checks shared by the programs (Lambda's and API Gateway's limits, origins,
  stack names, alarm emails, image URIs, custom domains);
- `suggestions`: "did you mean …?" for a misspelt key or namespace;
- `program`: what every program's config derives from its stack name and architecture.

Each program's own settings are in `iris_infra.apps.<app>.config`.
"""
