"""Each app's wiring of the shared components, one package per app: its typed config, route
table, functions, observability and the stack it declares."""
