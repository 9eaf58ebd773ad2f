"""/docs works without internet: every file it loads comes from the service."""

import re

import httpx


async def test_docs_page_loads_nothing_from_other_hosts(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    assert all(source.startswith("/") for source in sources), sources


async def test_every_file_of_the_docs_page_is_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    for source in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        asset = await client.get(source)
        assert asset.status_code == 200, source
        assert asset.content


async def test_docs_page_reads_the_services_openapi_schema(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert "url: '/openapi.json'" in page.text
    assert (await client.get("/openapi.json")).status_code == 200
