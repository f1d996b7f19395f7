"""`make check`: a stack's config validated offline and what the program would declare for it.

Reading stack files is this tool's business (and the tests'), never the program's: `pulumi up`
hands the program its config.
"""
