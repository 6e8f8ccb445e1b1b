"""The custodian console's domain: UI-free. Never imports textual, rich or console."""

__version__ = "0.1.0"
