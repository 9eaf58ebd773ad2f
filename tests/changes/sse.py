"""A minimal Server-Sent Events client for the tests: reads events off an open stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class SseEvent:
    """One message of the stream."""

    id: str
    event: str
    data: dict[str, Any]


async def read_events(response: httpx.Response) -> AsyncIterator[SseEvent]:
    """The events of an open stream as they arrive (comments and retry lines skipped)."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in fields:
                yield SseEvent(
                    fields.get("id", ""), fields.get("event", ""), json.loads(fields["data"])
                )
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
