"""Helpers shared by test packages (import with ``tests/`` on sys.path: ``from support import ...``)."""
