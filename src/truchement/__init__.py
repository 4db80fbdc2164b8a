"""Truchement: open scheduling of social interpreters and integration ambassadors."""

__version__ = "0.1.0"
