"""Query strings never reach a log: uvicorn logs every request's path with its query (the
access log) and every WebSocket handshake's (its error log), and a query may hold a ticket.
A filter on both loggers cuts the query off before any handler formats the record."""

import logging

REDACTED = "?[redacted]"
_LOGGERS = ("uvicorn.access", "uvicorn.error")


class RedactQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(value) for value in record.args)
        return True


def _redact(value: object) -> object:
    if isinstance(value, str) and value.startswith("/") and "?" in value:
        return value.partition("?")[0] + REDACTED
    return value


def redact_query_strings() -> None:
    """Installs the filter once per process (uvicorn's logging setup keeps logger filters)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(item, RedactQueryStrings) for item in logger.filters):
            logger.addFilter(RedactQueryStrings())
