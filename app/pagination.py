"""Keyset pagination: an opaque cursor names the last row of a page, not an offset.

A page is "the next `limit` rows after this sort key", so rows inserted while a client
pages through (new messages arrive all the time) neither repeat nor hide rows of later
pages, and a deep page costs the same as the first one (an index range scan, no OFFSET).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from app.errors import DomainError
from app.models import MAX_ID

T = TypeVar("T")

# Longer than any cursor this module writes; the API rejects longer input before decoding.
MAX_CURSOR_LENGTH = 256
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


class PageParams(BaseModel):
    """The paging every list shares: where the previous page ended, and how many rows."""

    # A misspelt filter would otherwise be ignored and answer an unfiltered list.
    model_config = ConfigDict(extra="forbid")

    cursor: str | None = Field(
        None,
        max_length=MAX_CURSOR_LENGTH,
        description="The `next_cursor` of the previous page; omit for the first page.",
    )
    limit: int = Field(
        DEFAULT_PAGE_SIZE,
        ge=1,
        le=MAX_PAGE_SIZE,
        description=f"Rows per page, at most {MAX_PAGE_SIZE}.",
    )


class InvalidCursor(DomainError):
    """The cursor was not produced by this list (edited, truncated, or from another list)."""

    status_code = 422
    error = "invalid_cursor"


@dataclass(frozen=True)
class Cursor:
    """The sort key of the last row of a page: a timestamp (may be NULL) and the row id."""

    at: datetime | None
    id: int


def encode_cursor(list_name: str, cursor: Cursor) -> str:
    """An opaque, URL-safe token for `cursor`, valid only for the list named `list_name`."""
    data = {"l": list_name, "t": cursor.at.isoformat() if cursor.at else None, "i": cursor.id}
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(list_name: str, token: str) -> Cursor:
    """The position `token` names, or InvalidCursor if it is not one of this list's cursors."""
    invalid = InvalidCursor(
        "cursor is not valid for this list: pass the next_cursor of a previous page unchanged"
    )
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise invalid from None
    if not isinstance(data, dict) or data.get("l") != list_name:
        raise invalid
    at, id_ = data.get("t"), data.get("i")
    if type(id_) is not int or not 1 <= id_ <= MAX_ID or not (at is None or isinstance(at, str)):
        raise invalid
    try:
        moment = datetime.fromisoformat(at) if at is not None else None
    except ValueError:
        raise invalid from None
    if moment is not None and moment.tzinfo is None:
        raise invalid
    return Cursor(at=moment, id=id_)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and the cursor of the next page (None on the last page)."""

    items: list[T]
    next_cursor: str | None


def paginate(rows: Sequence[T], limit: int, list_name: str, key: Callable[[T], Cursor]) -> Page[T]:
    """Split `rows` (fetched with `limit + 1`) into a page and the next page's cursor.

    The extra row only says that another page exists, so the last page has no cursor
    and a client never asks for an empty page.
    """
    items = list(rows[:limit])
    if len(rows) <= limit or not items:
        return Page(items, None)
    return Page(items, encode_cursor(list_name, key(items[-1])))
