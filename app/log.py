"""Logging: plain text or one JSON object per line, with secrets and phone numbers masked.

Every handler carries `PrivacyFilter`, so no line, the access log's included, shows a
secret query parameter or a customer's whole phone number. `LOG_FORMAT=json` gives one
JSON object per line with the request id and, where known, the webhook event, the message
(wamid) and the job the line is about.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import unquote

LogFormat = Literal["text", "json"]

# What the current request or job is about; the JSON lines carry each one that is set.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
job_id: ContextVar[int | None] = ContextVar("job_id", default=None)
wamid: ContextVar[str | None] = ContextVar("wamid", default=None)
CONTEXT: dict[str, ContextVar[Any]] = {"request_id": request_id, "job_id": job_id, "wamid": wamid}
# Fields a call may give with `extra=` (event_id from the webhook, job_id, wamid).
EXTRA_FIELDS = ("event_id", "job_id", "wamid")


@contextmanager
def about_job(job: int, message: str | None) -> Iterator[None]:
    """Lines logged inside carry the job's id and, when it is about one, the wamid."""
    job_token = job_id.set(job)
    wamid_token = wamid.set(message)
    try:
        yield
    finally:
        wamid.reset(wamid_token)
        job_id.reset(job_token)


# The webhook handshake carries the verify token in its query string; access logs
# would print it.
_SECRET_QUERY = re.compile(r"(hub\.verify_token|access_token|token|key)=[^&\s\"]*", re.IGNORECASE)
# A query parameter that holds a phone number, in whatever way it was written.
_PHONE_QUERY = re.compile(
    r"([?&](?:phone|phone_number|to|from|wa_id|recipient_id)=)([^&\s\"]*)", re.IGNORECASE
)
# A number of 10 to 15 digits standing alone (optionally after + or its URL encoding):
# the first five and last three digits stay, enough to tell numbers apart.
_PHONE = re.compile(r"(?<!\w)((?:\+|%2[Bb])?)(\d{5})\d{2,7}(\d{3})(?!\w)")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def mask_digits(digits: str) -> str:
    """`919876543210` → `91987****210`; shorter numbers are hidden whole."""
    return f"{digits[:5]}****{digits[-3:]}" if len(digits) >= 10 else "****"


def _mask_query_phone(match: re.Match[str]) -> str:
    digits = "".join(c for c in unquote(match.group(2)) if c.isdigit())
    return match.group(1) + (mask_digits(digits) if digits else match.group(2))


def mask(text: str) -> str:
    """`text` with secret query parameters replaced by `***` and phone numbers masked."""
    text = _SECRET_QUERY.sub(r"\1=***", text)
    text = _PHONE_QUERY.sub(_mask_query_phone, text)
    return _PHONE.sub(r"\1\2****\3", text)


class PrivacyFilter(logging.Filter):
    """Masks the message and its string arguments (the access log's path among them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(mask(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: mask(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


class TextFormatter(logging.Formatter):
    """The development format; tracebacks are masked too (SQL errors quote parameters)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatException(self, ei: Any) -> str:
        return mask(super().formatException(ei))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and what it is about."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, var in CONTEXT.items():
            value = var.get()
            if value is not None:
                line[name] = value
        for name in EXTRA_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = mask(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def log_config(level: str, log_format: LogFormat) -> dict[str, Any]:
    """The dictConfig of the service and of uvicorn's loggers (the same in every process)."""
    formatter = "app.log.JsonFormatter" if log_format == "json" else "app.log.TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"privacy": {"()": "app.log.PrivacyFilter"}},
        "formatters": {"line": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "line",
                "filters": ["privacy"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            # uvicorn's own handlers are replaced by the root's, so its lines look alike.
            "uvicorn": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.access": {"handlers": [], "level": level.upper(), "propagate": True},
            # One line per Graph API call would drown the job outcomes.
            "httpx": {"level": "WARNING"},
        },
    }


def configure_logging(level: str, log_format: LogFormat = "text") -> None:
    """Log the service's lines (jobs, webhooks, requests) at `level` to stderr."""
    logging.config.dictConfig(log_config(level, log_format))


def install_redaction() -> None:
    """Give every handler already installed the privacy filter.

    For an app run by another server's logging set-up (a test, `uvicorn app...`): the
    service's own commands configure it with `configure_logging`.
    """
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, PrivacyFilter) for f in handler.filters):
                handler.addFilter(PrivacyFilter())
