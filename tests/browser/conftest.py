"""A real server (per database backend), a fake Graph API, and Debian's Chromium driving
the admin panel. A failing test leaves a screenshot in test-artifacts/."""

from __future__ import annotations

import random
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import pytest
from argon2 import PasswordHasher
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.conftest import API_KEY, APP_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN
from tests.support.databases import BACKENDS, create_database, require_backend
from tests.support.fake_graph import FakeGraph
from tests.support.payloads import WEBHOOK_URL, encode
from tests.support.processes import ROOT, ServiceProcess, start_server
from tests.support.signing import signature

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts"
ADMIN_USERNAME = "inbox-admin"
ADMIN_PASSWORD = "a long browser test password"
TIMEOUT_MS = 15_000

T = TypeVar("T")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test item, so fixtures can see a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@dataclass
class Service:
    """The running server, the fake Graph API it talks to, and its database backend."""

    url: str
    graph: FakeGraph
    backend: str
    process: ServiceProcess

    def deliver(self, payload: dict[str, Any]) -> None:
        """POST a webhook to the server, signed as Meta signs it."""
        body = encode(payload)
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature(body, APP_SECRET),
        }
        response = httpx.post(f"{self.url}{WEBHOOK_URL}", content=body, headers=headers)
        assert response.status_code == 200, response.text


def _outside_the_event_loop(function: Callable[..., T], *args: Any) -> T:
    """Run `function` in a thread of its own: Playwright's sync API keeps an event loop
    running in this one, and the database helpers start their own with asyncio.run."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


@contextmanager
def serving(
    backend: str,
    directory: Path,
    extra_env: dict[str, str] | None = None,
    prepare: Callable[[FakeGraph], None] | None = None,
) -> Iterator[Service]:
    """`whatsapp-inbox serve` with the admin login on a fresh database of `backend`, its
    Graph API a fake one (given to `prepare` before the server starts)."""
    _outside_the_event_loop(require_backend, backend)
    database = _outside_the_event_loop(create_database, backend, directory)
    password_hash = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(
        ADMIN_PASSWORD
    )
    with FakeGraph() as graph:
        if prepare is not None:
            prepare(graph)
        env = {
            "ENVIRONMENT": "test",
            "DATABASE_URL": database.url,
            "WHATSAPP_APP_SECRET": APP_SECRET,
            "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
            "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "API_KEYS": API_KEY,
            "ADMIN_USERNAME": ADMIN_USERNAME,
            "ADMIN_PASSWORD_HASH": password_hash,
            "SESSION_SECRET": "browser-test-session-secret",
            "MEDIA_DIR": str(directory / "media"),
            "WORKER_ENABLED": "true",
            "WORKER_POLL_SECONDS": "0.1",
            "SEND_READ_RECEIPTS": "false",
            **graph.env(),
            **(extra_env or {}),
        }
        process, url = start_server(env, directory / "server.log")
        try:
            yield Service(url=url, graph=graph, backend=backend, process=process)
        finally:
            process.stop()
            _outside_the_event_loop(database.drop)


@pytest.fixture(scope="module", params=BACKENDS)
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """`whatsapp-inbox serve` with the admin login, on a fresh database of the backend."""
    backend = str(request.param)
    with serving(backend, tmp_path_factory.mktemp(f"browser-{backend}")) as running:
        yield running


# Module scope, not session: while Playwright's sync driver runs, its event loop is the
# running loop of this thread, and the async tests of later modules could not run theirs.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver for the browser tests."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def foreign_requests() -> list[str]:
    """URLs the page tried to load from any host but the server (refused)."""
    return []


@pytest.fixture
def page(
    browser: Browser,
    service: Service,
    foreign_requests: list[str],
    request: pytest.FixtureRequest,
) -> Iterator[Page]:
    """A fresh browser tab that may load only from the server; screenshot on failure."""
    context: BrowserContext = browser.new_context(
        base_url=service.url, viewport={"width": 1600, "height": 1000}
    )
    context.set_default_timeout(TIMEOUT_MS)
    server_host = urlsplit(service.url).netloc

    def only_the_server(route: Any) -> None:
        if urlsplit(route.request.url).netloc == server_host:
            route.continue_()
        else:
            foreign_requests.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_server)
    tab = context.new_page()
    yield tab
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()


def log_in(page: Page) -> None:
    """Log in through the login form."""
    page.goto("/admin/")
    page.fill("input[name=username]", ADMIN_USERNAME)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/conversation/list"))


@pytest.fixture
def admin_page(page: Page) -> Page:
    """A tab logged in to the admin panel."""
    log_in(page)
    return page


@pytest.fixture
def customer() -> str:
    """A phone number no other test uses, so tests can share the server's database."""
    return "1555" + "".join(random.choices("0123456789", k=7))


def png(width: int = 3, height: int = 2) -> bytes:
    """A valid PNG picture of a solid colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = b"".join(b"\x00" + b"\x25\xd3\x66" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )
