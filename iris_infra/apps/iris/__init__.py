"""IRIS's stack: its config (`config.StackConfig`), route table (`routes`), functions
(`functions`), signals (`observability`) and the stack that wires them (`stack.build_stack`)."""
