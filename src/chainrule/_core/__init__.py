"""The kernel: primitives, the rule table's lookups, pytrees, caches and the shared checks (no
engine, no NumPy namespace; see docs/architecture.md)."""
