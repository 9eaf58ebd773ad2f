"""Keyset pagination: an opaque cursor names the last row of a page, not an offset.

A page is "the next `limit` rows after this sort key", so rows inserted while a client
pages through (new messages arrive all the time) neither repeat nor hide rows of later
pages, and a deep page costs the same as the first one (an index range scan, no OFFSET).

A cursor also carries the filters of the page it ends, normalised, so the next page is
of the same list: `?cursor=` alone pages on with those filters, and a cursor sent with
other filters is refused rather than silently paging a different list. The filters are
not signed: an API key already reads every list under any filters, so an edited cursor
reaches nothing its caller could not ask for directly; instead they are validated by the
list's own parameter model, exactly as the query's are, and must be in normalised form.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.errors import DomainError
from app.models import MAX_ID

T = TypeVar("T")
P = TypeVar("P", bound="PageParams")

# A list's filters, as a cursor carries them: query parameter names to JSON values.
Filters = dict[str, Any]

# Longer than any cursor this module writes, its list's filters at their longest included
# (tests/messages/test_cursors.py checks it); the API rejects longer input before decoding.
MAX_CURSOR_LENGTH = 4096
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


class PageParams(BaseModel):
    """The paging every list shares: where the previous page ended, and how many rows."""

    # A misspelt filter would otherwise be ignored and answer an unfiltered list.
    model_config = ConfigDict(extra="forbid")

    cursor: str | None = Field(
        None,
        max_length=MAX_CURSOR_LENGTH,
        description="The `next_cursor` of the previous page; omit for the first page. "
        "It carries the filters of the page it came from: sent alone, the next page has "
        "those filters; sent with filters, they must be the same ones (422 otherwise). "
        "`limit` may change from page to page.",
    )
    limit: int = Field(
        DEFAULT_PAGE_SIZE,
        ge=1,
        le=MAX_PAGE_SIZE,
        description=f"Rows per page, at most {MAX_PAGE_SIZE}.",
    )

    def filters(self) -> Filters:
        """The list's filters that were given, normalised, by query parameter name.

        Everything but the paging is a filter; an unset filter is left out, so a cursor
        of an unfiltered list carries nothing.
        """
        return self.model_dump(
            mode="json", by_alias=True, exclude={"cursor", "limit"}, exclude_none=True
        )


class InvalidCursor(DomainError):
    """The cursor was not produced by this list (edited, truncated, or from another list),
    or it was sent with filters other than the ones it carries."""

    status_code = 422
    error = "invalid_cursor"


@dataclass(frozen=True)
class Cursor:
    """The sort key of the last row of a page: a timestamp (may be NULL) and the row id."""

    at: datetime | None
    id: int


def encode_cursor(list_name: str, cursor: Cursor, filters: Filters | None = None) -> str:
    """An opaque, URL-safe token for `cursor`, valid only for the list named `list_name`
    and carrying that list's `filters` (left out when there are none, to stay short)."""
    data: dict[str, Any] = {
        "l": list_name,
        "t": cursor.at.isoformat() if cursor.at else None,
        "i": cursor.id,
    }
    if filters:
        data["f"] = filters
    # Not ASCII-escaped: a filter's non-ASCII text costs its UTF-8 bytes, not `\uXXXX`s.
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid() -> InvalidCursor:
    return InvalidCursor(
        "cursor is not valid for this list: pass the next_cursor of a previous page unchanged"
    )


def _position(data: dict[str, Any]) -> Cursor:
    at, id_ = data.get("t"), data.get("i")
    if type(id_) is not int or not 1 <= id_ <= MAX_ID or not (at is None or isinstance(at, str)):
        raise _invalid()
    try:
        moment = datetime.fromisoformat(at) if at is not None else None
    except ValueError:
        raise _invalid() from None
    if moment is not None and moment.tzinfo is None:
        raise _invalid()
    return Cursor(at=moment, id=id_)


def read_cursor(list_name: str, token: str) -> tuple[Cursor, Filters]:
    """The position `token` names and the filters it carries (not yet validated), or
    InvalidCursor if it is not one of this list's cursors."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise _invalid() from None
    if not isinstance(data, dict) or data.get("l") != list_name:
        raise _invalid()
    filters = data.get("f", {})
    if not isinstance(filters, dict) or data.keys() - {"l", "t", "i", "f"}:
        raise _invalid()
    return _position(data), filters


def decode_cursor(list_name: str, token: str) -> Cursor:
    """The position `token` names, for a list without filters; InvalidCursor if it is not
    one of this list's cursors."""
    position, filters = read_cursor(list_name, token)
    if filters:
        raise _invalid()
    return position


@dataclass(frozen=True)
class PageStart(Generic[P]):
    """Where a page starts (None: at the top) and the parameters it is fetched with."""

    params: P
    after: Cursor | None


def _carried_params(params: P, filters: Filters) -> P:
    """`params` with the cursor's `filters` instead of the query's, validated like them."""
    try:
        carried = type(params).model_validate({**filters, "limit": params.limit})
    except ValidationError:
        raise _invalid() from None
    # Only filters this list wrote: normalised, and nothing else (no paging fields).
    if carried.filters() != filters:
        raise _invalid()
    return carried


def _differing(given: Filters, carried: Filters) -> list[str]:
    return sorted(
        name for name in given.keys() | carried.keys() if given.get(name) != carried.get(name)
    )


def page_start(list_name: str, params: P) -> PageStart[P]:
    """Where the page `params` asks for starts, and the filters that apply to it.

    Without a cursor, the query's filters. With a cursor, the filters it carries: the
    query may repeat them, but other filters (or filters the cursor was made without)
    are an InvalidCursor naming them, so a client never pages one list into another.
    """
    if params.cursor is None:
        return PageStart(params, None)
    position, filters = read_cursor(list_name, params.cursor)
    carried = _carried_params(params, filters)
    given = params.filters()
    if given and given != filters:
        raise InvalidCursor(
            "the filters differ from the ones the cursor was made with "
            f"({', '.join(_differing(given, filters))}): send the cursor alone, "
            "or with the same filters"
        )
    return PageStart(carried, position)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and the cursor of the next page (None on the last page)."""

    items: list[T]
    next_cursor: str | None


def paginate(
    rows: Sequence[T], params: PageParams, list_name: str, key: Callable[[T], Cursor]
) -> Page[T]:
    """Split `rows` (fetched with `params.limit + 1`) into a page and the next page's
    cursor, which carries the filters of `params`.

    The extra row only says that another page exists, so the last page has no cursor
    and a client never asks for an empty page.
    """
    items = list(rows[: params.limit])
    if len(rows) <= params.limit or not items:
        return Page(items, None)
    return Page(items, encode_cursor(list_name, key(items[-1]), params.filters()))
