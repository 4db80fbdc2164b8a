"""The access log names paths, never query strings.

Uvicorn logs each request as ``'%s - "%s %s HTTP/%s" %d'`` with the path and
its query string. A query string may carry a secret: the calendar feed's
address holds its token (``calendar.ics?token=...``), and a log travels to
places (files, collectors, support tickets) a credential must not. The
filter below cuts the query string off before the line is written; it is
installed on the ``uvicorn.access`` logger by the app factory, so every
worker process of every server that logs through it (``truchement serve``,
uvicorn or gunicorn workers) drops it.
"""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"
PATH_ARGUMENT = 2
"""The position of the path in uvicorn's access log arguments (client, method, path, ...)."""


def path_only(target: str) -> str:
    """``/a/b?token=x`` -> ``/a/b``."""
    return target.split("?", 1)[0]


class QueryStringFilter(logging.Filter):
    """Rewrite an access log record so its path has no query string (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > PATH_ARGUMENT:
            target = args[PATH_ARGUMENT]
            if isinstance(target, str) and "?" in target:
                record.args = (*args[:PATH_ARGUMENT], path_only(target), *args[PATH_ARGUMENT + 1 :])
        return True


def install_access_log_filter() -> None:
    """Add the filter to the access logger once per process."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, QueryStringFilter) for f in logger.filters):
        logger.addFilter(QueryStringFilter())
