"""A fake Graph API: a real HTTP server on 127.0.0.1 that answers like Meta's, for tests.

Point the service at it with GRAPH_API_BASE_URL=fake.base_url (and the same access
token). Its media download URLs live on the same host and port, so the service's
GraphClient, which sends the token only to the configured Graph host, sends it there.

    with FakeGraph() as fake:
        media = fake.add_media(b"...jpeg bytes...", "image/jpeg")
        ... start the service with fake.env() ...
        assert fake.sent_messages()[0]["text"]["body"] == "Hello"

Endpoints (every one needs `Authorization: Bearer <access token>`, else 401 code 190;
a business number given a token of its own with `number_token` needs that one):

- POST /{version}/{phone_number_id}/messages: a send (answers a new wamid) or, with
  {"status": "read"}, a read receipt (answers {"success": true});
- GET /{version}/{media_id}: url, mime_type, sha256, file_size of a registered media;
- GET /whatsapp_business/attachments/?mid={media_id}: the media's bytes;
- POST /{version}/{phone_number_id}/media: a multipart upload (answers a media id);
- GET /{version}/{waba_id}/message_templates: the templates added with `add_template`,
  paged as Meta pages them (`limit`, `after`; `paging.cursors` and `paging.next`).

Each endpoint has a name (SEND, READ_RECEIPT, MEDIA_INFO, MEDIA_DOWNLOAD, UPLOAD,
TEMPLATES) used to
make it fail (`fail`) or answer slowly (`delay`), and to filter the recorded requests.
Requests are recorded when they arrive, before any delay or failure.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app.config import DEFAULT_API_VERSION
from tests.support.processes import free_port

DEFAULT_ACCESS_TOKEN = "test-access-token"

SEND = "send"
READ_RECEIPT = "read_receipt"
MEDIA_INFO = "media_info"
MEDIA_DOWNLOAD = "media_download"
UPLOAD = "upload"
TEMPLATES = "templates"
ENDPOINTS = (SEND, READ_RECEIPT, MEDIA_INFO, MEDIA_DOWNLOAD, UPLOAD, TEMPLATES)
DEFAULT_TEMPLATE_PAGE = 25

DOWNLOAD_PATH = "/whatsapp_business/attachments/"
DOWNLOAD_CHUNK = 64 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    """A request the fake received."""

    endpoint: str
    method: str
    path: str
    headers: dict[str, str]
    json: Any | None = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)
    received_at: float = field(default_factory=time.monotonic)

    @property
    def phone_number_id(self) -> str | None:
        """The business number in the path of a send, read receipt or upload."""
        parts = self.path.strip("/").split("/")
        return parts[1] if len(parts) == 3 else None


@dataclass
class FakeMedia:
    """A media file the fake serves; `sha256` and `file_size` are what GET /{id} declares."""

    media_id: str
    content: bytes
    mime_type: str
    sha256: str
    file_size: int


@dataclass(frozen=True)
class Failure:
    """An error answer Meta could give."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def meta_error_body(
    code: int,
    message: str,
    *,
    details: str | None = None,
    subcode: int | None = None,
    error_type: str = "OAuthException",
) -> dict[str, Any]:
    """A Graph API error body as Meta writes it."""
    error: dict[str, Any] = {
        "message": message,
        "type": error_type,
        "code": code,
        "fbtrace_id": "AbCdEfGhIjKlMnOpQrStUvW",
    }
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


class FakeGraph:
    """The fake Graph API server; a context manager that starts and stops it."""

    def __init__(
        self, access_token: str = DEFAULT_ACCESS_TOKEN, version: str = DEFAULT_API_VERSION
    ) -> None:
        self.access_token = access_token
        self.version = version
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._media: dict[str, FakeMedia] = {}
        self._failures: dict[str, deque[Failure]] = defaultdict(deque)
        self._delays: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._templates: dict[str, list[dict[str, Any]]] = defaultdict(list)
        # The most templates a page holds, whatever `limit` asks (to make paging visible).
        self.template_page_size = DEFAULT_TEMPLATE_PAGE
        # Business numbers with an access token of their own (another app's).
        self._number_tokens: dict[str, str] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- running -------------------------------------------------------------------

    def start(self) -> FakeGraph:
        """Serve on self.port in a background thread; return once it accepts requests."""
        config = uvicorn.Config(
            self._app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-graph", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake Graph API did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeGraph:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """Environment variables that point a service process at this fake."""
        return {
            "GRAPH_API_BASE_URL": self.base_url,
            "WHATSAPP_API_VERSION": self.version,
            "WHATSAPP_ACCESS_TOKEN": self.access_token,
        }

    # -- what it serves --------------------------------------------------------------

    def add_media(
        self,
        content: bytes,
        mime_type: str,
        *,
        media_id: str | None = None,
        sha256: str | None = None,
        file_size: int | None = None,
    ) -> FakeMedia:
        """Register a media file; `sha256`/`file_size` override what GET /{id} declares."""
        media = FakeMedia(
            media_id=media_id or f"{next(self._ids):015d}",
            content=content,
            mime_type=mime_type,
            sha256=sha256 if sha256 is not None else hashlib.sha256(content).hexdigest(),
            file_size=file_size if file_size is not None else len(content),
        )
        with self._lock:
            self._media[media.media_id] = media
        return media

    def add_template(
        self,
        waba_id: str,
        name: str,
        *,
        language: str = "en_US",
        status: str = "APPROVED",
        category: str = "UTILITY",
        components: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Register a template of a business account, as GET message_templates lists it."""
        template = {
            "id": f"{next(self._ids) + 594425479261000}",
            "name": name,
            "language": language,
            "status": status,
            "category": category,
            "components": components or [{"type": "BODY", "text": f"{name} body"}],
        }
        with self._lock:
            self._templates[waba_id].append(template)
        return template

    def media(self, media_id: str) -> FakeMedia | None:
        """A registered or uploaded media file."""
        with self._lock:
            return self._media.get(media_id)

    def download_url(self, media_id: str) -> str:
        """The URL GET /{media_id} gives for a media file."""
        return f"{self.base_url}{DOWNLOAD_PATH}?mid={media_id}"

    # -- misbehaving -----------------------------------------------------------------

    def fail(
        self,
        endpoint: str,
        *,
        times: int = 1,
        status: int = 400,
        code: int | None = 131000,
        message: str = "(#131000) Something went wrong",
        details: str | None = None,
        subcode: int | None = None,
        retry_after: float | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Make the next `times` requests to `endpoint` fail with Meta's error shape.

        `code=None` answers a body without Meta's error object (as a proxy would);
        `body` replaces the body entirely.
        """
        assert endpoint in ENDPOINTS, endpoint
        if body is None:
            body = (
                meta_error_body(code, message, details=details, subcode=subcode)
                if code is not None
                else {"message": message}
            )
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        with self._lock:
            for _ in range(times):
                self._failures[endpoint].append(Failure(status, body, headers))

    def delay(self, endpoint: str, seconds: float) -> None:
        """Answer requests to `endpoint` only after `seconds` (0 to answer at once)."""
        assert endpoint in ENDPOINTS, endpoint
        with self._lock:
            self._delays[endpoint] = seconds

    # -- what it saw -----------------------------------------------------------------

    def requests(self, endpoint: str | None = None) -> list[RecordedRequest]:
        """Requests received so far, oldest first, optionally to one endpoint."""
        with self._lock:
            recorded = list(self._requests)
        return [r for r in recorded if endpoint is None or r.endpoint == endpoint]

    def sent_messages(self) -> list[dict[str, Any]]:
        """JSON bodies of the message sends (read receipts excluded), oldest first."""
        return [r.json for r in self.requests(SEND)]

    def read_receipts(self) -> list[str]:
        """Wamids marked read, in the order the read receipts arrived."""
        return [r.json["message_id"] for r in self.requests(READ_RECEIPT)]

    def uploads(self) -> list[RecordedRequest]:
        """Media uploads received, oldest first."""
        return self.requests(UPLOAD)

    def reset(self) -> None:
        """Forget recorded requests, pending failures and delays (media stay)."""
        with self._lock:
            self._requests.clear()
            self._failures.clear()
            self._delays.clear()

    # -- the server ------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    async def _misbehave(self, endpoint: str) -> Response | None:
        with self._lock:
            seconds = self._delays.get(endpoint, 0.0)
            queue = self._failures[endpoint]
            failure = queue.popleft() if queue else None
        if seconds:
            await asyncio.sleep(seconds)
        if failure is not None:
            return JSONResponse(failure.body, status_code=failure.status, headers=failure.headers)
        return None

    def number_token(self, phone_number_id: str, token: str) -> None:
        """Make sends from `phone_number_id` need `token` instead of the default one."""
        with self._lock:
            self._number_tokens[phone_number_id] = token

    def _authorized(self, request: Request) -> bool:
        number = request.path_params.get("phone_number_id", "")
        with self._lock:
            token = self._number_tokens.get(number, self.access_token)
        return request.headers.get("authorization") == f"Bearer {token}"

    @staticmethod
    def _unauthorized() -> JSONResponse:
        return JSONResponse(
            meta_error_body(190, "Invalid OAuth access token - Cannot parse access token"),
            status_code=401,
        )

    async def _messages(self, request: Request) -> Response:
        body = await request.json()
        endpoint = READ_RECEIPT if body.get("status") == "read" else SEND
        self._record(
            RecordedRequest(endpoint, "POST", request.url.path, dict(request.headers), json=body)
        )
        if not self._authorized(request):
            return self._unauthorized()
        if (answer := await self._misbehave(endpoint)) is not None:
            return answer
        if endpoint == READ_RECEIPT:
            return JSONResponse({"success": True})
        to = str(body.get("to", ""))
        wamid = f"wamid.FAKE{next(self._ids):06d}{uuid.uuid4().hex[:16].upper()}"
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": wamid}],
            }
        )

    async def _media_info(self, request: Request) -> Response:
        media_id = request.path_params["media_id"]
        self._record(RecordedRequest(MEDIA_INFO, "GET", request.url.path, dict(request.headers)))
        if not self._authorized(request):
            return self._unauthorized()
        if (answer := await self._misbehave(MEDIA_INFO)) is not None:
            return answer
        media = self.media(media_id)
        if media is None:
            return JSONResponse(
                meta_error_body(
                    100,
                    f"Unsupported get request. Object with ID '{media_id}' does not exist",
                    subcode=33,
                    error_type="GraphMethodException",
                ),
                status_code=400,
            )
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": self.download_url(media.media_id),
                "mime_type": media.mime_type,
                "sha256": media.sha256,
                "file_size": media.file_size,
                "id": media.media_id,
            }
        )

    async def _download(self, request: Request) -> Response:
        self._record(
            RecordedRequest(
                MEDIA_DOWNLOAD,
                "GET",
                f"{request.url.path}?{request.url.query}",
                dict(request.headers),
            )
        )
        if not self._authorized(request):
            return self._unauthorized()
        if (answer := await self._misbehave(MEDIA_DOWNLOAD)) is not None:
            return answer
        media = self.media(request.query_params.get("mid", ""))
        if media is None:
            return Response(status_code=404)

        async def chunks(content: bytes) -> AsyncIterator[bytes]:
            for start in range(0, len(content), DOWNLOAD_CHUNK):
                yield content[start : start + DOWNLOAD_CHUNK]

        return StreamingResponse(
            chunks(media.content),
            media_type=media.mime_type,
            headers={"Content-Length": str(len(media.content))},
        )

    async def _upload(self, request: Request) -> Response:
        form = await request.form()
        fields: dict[str, str] = {}
        files: dict[str, tuple[str, str, bytes]] = {}
        for name, value in form.multi_items():
            if isinstance(value, str):
                fields[name] = value
            else:
                files[name] = (
                    value.filename or "",
                    value.content_type or "",
                    await value.read(),
                )
        self._record(
            RecordedRequest(
                UPLOAD,
                "POST",
                request.url.path,
                dict(request.headers),
                form=fields,
                files=files,
            )
        )
        if not self._authorized(request):
            return self._unauthorized()
        if (answer := await self._misbehave(UPLOAD)) is not None:
            return answer
        if "file" not in files or fields.get("messaging_product") != "whatsapp":
            return JSONResponse(
                meta_error_body(100, "(#100) The parameter file is required."), status_code=400
            )
        _filename, content_type, content = files["file"]
        media = self.add_media(content, fields.get("type") or content_type)
        return JSONResponse({"id": media.media_id})

    async def _message_templates(self, request: Request) -> Response:
        self._record(
            RecordedRequest(
                TEMPLATES, "GET", f"{request.url.path}?{request.url.query}", dict(request.headers)
            )
        )
        if not self._authorized(request):
            return self._unauthorized()
        if (answer := await self._misbehave(TEMPLATES)) is not None:
            return answer
        with self._lock:
            templates = list(self._templates.get(request.path_params["waba_id"], []))
        limit = min(int(request.query_params.get("limit", 25)), self.template_page_size)
        # Meta's cursors are opaque; here they are the position, base16-encoded.
        start = int(bytes.fromhex(request.query_params.get("after", "30")).decode())
        page = templates[start : start + limit]
        body: dict[str, Any] = {"data": page}
        if page:
            end = str(start + len(page)).encode().hex()
            body["paging"] = {"cursors": {"before": str(start).encode().hex(), "after": end}}
            if start + len(page) < len(templates):
                body["paging"]["next"] = f"{self.base_url}{request.url.path}?after={end}"
        return JSONResponse(body)

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(DOWNLOAD_PATH, self._download, methods=["GET"]),
                Route("/{version}/{phone_number_id}/messages", self._messages, methods=["POST"]),
                Route("/{version}/{phone_number_id}/media", self._upload, methods=["POST"]),
                Route(
                    "/{version}/{waba_id}/message_templates",
                    self._message_templates,
                    methods=["GET"],
                ),
                Route("/{version}/{media_id}", self._media_info, methods=["GET"]),
            ]
        )
