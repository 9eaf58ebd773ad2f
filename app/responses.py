"""JSON responses built straight from rows, for lists read often and in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import Response
from sqlalchemy import Row

# UTC times end in `Z`, as the response models write them.
_OPTIONS = orjson.OPT_UTC_Z


def json_response(content: Any) -> Response:
    """`content` (dicts, lists, datetimes, numbers, strings, JSON text read by
    app.db.as_json_text) as a JSON response.

    The same JSON that the response model would give (datetimes in ISO 8601 with `Z`
    for UTC, NaN and infinities as null), without validating every row through a model
    first: lists of fifty rows spent more time there than in the database.
    """
    return Response(orjson.dumps(content, option=_OPTIONS), media_type="application/json")


def page_response(name: str, rows: Sequence[Row[Any]], next_cursor: str | None) -> Response:
    """A page of a list: `count`, the rows (by column name) under `name`, `next_cursor`."""
    # The names once per page: Row._asdict() looks them up again for every row.
    fields = rows[0]._fields if rows else ()
    items = [dict(zip(fields, row, strict=True)) for row in rows]
    return json_response({"count": len(rows), name: items, "next_cursor": next_cursor})
