"""Log lines: JSON when asked, with the request id, and no whole phone number anywhere."""

from __future__ import annotations

import json
import logging

from app.config import Settings
from app.log import JsonFormatter, PrivacyFilter, about_job, mask, request_id


def test_a_phone_in_a_query_string_is_masked() -> None:
    line = '127.0.0.1:5 - "GET /api/whatsapp/messages/?phone=919876543210&limit=5 HTTP/1.1" 200'
    assert "?phone=91987****210&limit=5" in mask(line)


def test_a_phone_written_with_plus_and_spaces_in_a_query_string_is_masked() -> None:
    assert mask("/api/whatsapp/messages/?phone=%2B91%2098765%2043210") == (
        "/api/whatsapp/messages/?phone=91987****210"
    )


def test_a_phone_in_a_path_or_a_message_is_masked() -> None:
    assert mask("DELETE /api/whatsapp/customers/919876543210") == (
        "DELETE /api/whatsapp/customers/91987****210"
    )
    assert mask("sent to +919876543210.") == "sent to +91987****210."


def test_secret_query_parameters_stay_hidden() -> None:
    assert mask("/webhook/?hub.verify_token=abc&hub.challenge=1") == (
        "/webhook/?hub.verify_token=***&hub.challenge=1"
    )


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("app.test", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    PrivacyFilter().filter(record)
    return record


def test_a_json_line_has_time_level_logger_message_and_what_it_is_about() -> None:
    token = request_id.set("req-1")
    try:
        with about_job(42, "wamid.A"):
            line = JsonFormatter().format(
                _record("event %s from %s", 7, "919876543210", event_id=7)
            )
    finally:
        request_id.reset(token)
    data = json.loads(line)
    assert data["level"] == "warning"
    assert data["logger"] == "app.test"
    assert data["message"] == "event 7 from 91987****210"
    assert data["request_id"] == "req-1"
    assert data["event_id"] == 7
    assert data["job_id"] == 42
    assert data["wamid"] == "wamid.A"
    assert data["time"].endswith("+00:00")


def test_plain_text_is_the_default_format() -> None:
    assert Settings(_env_file=None).log_format == "text"  # type: ignore[call-arg]
