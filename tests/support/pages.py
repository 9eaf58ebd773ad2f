"""Following the keyset pages of a list route to its end."""

from __future__ import annotations

from typing import Any

import httpx


async def follow_pages(
    api: httpx.AsyncClient,
    url: str,
    items: str,
    key: str,
    *,
    resend_filters: bool = True,
    **params: Any,
) -> list[Any]:
    """The `key` of every item in the `items` list of each page, following next_cursor.

    Later pages send `params` again with the cursor, or with `resend_filters=False` only
    the cursor and the `limit` (which is not a filter), as a client that trusts the
    cursor to carry its filters does.
    """
    later = params if resend_filters else {k: v for k, v in params.items() if k == "limit"}
    seen: list[Any] = []
    query = params
    while True:
        response = await api.get(url, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item[key] for item in body[items]]
        if body["next_cursor"] is None:
            return seen
        query = {**later, "cursor": body["next_cursor"]}
