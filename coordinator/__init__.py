"""council: a multi-agent code-review coordinator."""

__version__ = "0.1.0"
