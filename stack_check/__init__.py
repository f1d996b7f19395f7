"""Tools never deployed that check a stack offline: `make check` (a stack's config validated and
what the program would declare for it, planned under Pulumi's mocks by `plan`, the only module
that drives the engine's mocks) and the deployer policy and boundary (`make deployer-policy`,
`make boundary-policy`).

Reading stack files is this tool's business (and the tests'), never the program's: `pulumi up`
hands the program its config.
"""
