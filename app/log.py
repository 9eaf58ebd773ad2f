"""Logging set-up that keeps secrets out of every log line."""

from __future__ import annotations

import logging
import re

# The webhook handshake carries the verify token in its query string; access logs
# would print it.
_SECRET_QUERY = re.compile(r"(hub\.verify_token|access_token|token|key)=[^&\s\"]*", re.IGNORECASE)


class RedactSecrets(logging.Filter):
    """Replace secret query parameters in a record's arguments with `***`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SECRET_QUERY.sub(r"\1=***", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _SECRET_QUERY.sub(r"\1=***", record.msg)
        return True


def install_redaction() -> None:
    """Attach the redacting filter to the loggers that print request lines."""
    for name in ("uvicorn.access", "uvicorn.error", "httpx", "app"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


def configure_logging(level: str) -> None:
    """Log the service's own lines (jobs, webhooks) at `level`, one line each, to stderr."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # One line per Graph API call would drown the job outcomes.
    logging.getLogger("httpx").setLevel(logging.WARNING)
