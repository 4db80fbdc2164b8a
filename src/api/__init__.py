"""The HTTP face of the service: the JSON API under ``/api/v1`` and the web pages."""

from importlib.metadata import version

VERSION = version("truchement")
"""The installed version (pyproject.toml), in the API's description and the pages' footer."""
