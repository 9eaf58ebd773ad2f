"""Following the keyset pages of a list route to its end."""

from __future__ import annotations

from typing import Any

import httpx


async def follow_pages(
    api: httpx.AsyncClient, url: str, items: str, key: str, **params: Any
) -> list[Any]:
    """The `key` of every item in the `items` list of each page, following next_cursor."""
    seen: list[Any] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await api.get(url, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item[key] for item in body[items]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
