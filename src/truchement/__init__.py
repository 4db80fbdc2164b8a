"""Truchement: open scheduling of social interpreters and integration ambassadors."""

from importlib.metadata import version

__version__ = version("truchement")
