"""Webhook bodies as large as the body limit allows, in the shapes Meta can send.

Compact JSON (no spaces), so that tens of thousands of items fit in 4 MiB. Times are
fixed, never the clock's.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tests.conftest import PHONE_NUMBER_ID
from tests.support.payloads import ACCOUNT_ID, BUSINESS_NUMBER

SENT_AT = int(datetime(2026, 3, 4, 10, 0, tzinfo=UTC).timestamp())
_METADATA = {"display_phone_number": BUSINESS_NUMBER, "phone_number_id": PHONE_NUMBER_ID}


def _body(value: dict[str, Any]) -> bytes:
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": ACCOUNT_ID, "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def messages_body(messages: int, senders: int, *, text: str = "hi", tag: str = "L") -> bytes:
    """`messages` text messages from `senders` customers (round robin), wamids by `tag`."""
    return _body(
        {
            "messaging_product": "whatsapp",
            "metadata": _METADATA,
            "contacts": [
                {"profile": {"name": f"C{n}"}, "wa_id": f"9199{n:08d}"} for n in range(senders)
            ],
            "messages": [
                {
                    "from": f"9199{n % senders:08d}",
                    "id": f"wamid.{tag}{n:07d}",
                    "timestamp": str(SENT_AT + n % 600),
                    "type": "text",
                    "text": {"body": text},
                }
                for n in range(messages)
            ],
        }
    )


def status_wamid(n: int, tag: str = "S") -> str:
    """The wamid of the n-th message the statuses of `statuses_body` are about."""
    return f"wamid.{tag}{n:07d}"


def statuses_body(statuses: int, *, status: str = "read", tag: str = "S") -> bytes:
    """`statuses` status updates, one per message `status_wamid(n, tag)`."""
    return _body(
        {
            "messaging_product": "whatsapp",
            "metadata": _METADATA,
            "statuses": [
                {
                    "id": status_wamid(n, tag),
                    "status": status,
                    "timestamp": str(SENT_AT + 60),
                    "recipient_id": f"9177{n:08d}",
                }
                for n in range(statuses)
            ],
        }
    )
