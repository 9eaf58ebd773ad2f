"""The one client of Meta's Graph API, and the typed error its failures become."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

import httpx

from app.config import Settings
from app.metrics.registry import graph_called

# Rate and capacity errors, and transient ones: waiting and trying again can help.
RETRYABLE_CODES = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131056, 131057})
# Errors that the same request will meet again, whatever the HTTP status: outside the
# 24-hour window (131047), not a WhatsApp user (131026), spam rate limit (131048),
# the user stopped marketing messages (131050), bad parameters (100), the access
# token (190). Template errors are the whole 132xxx range.
PERMANENT_CODES = frozenset({100, 190, 131026, 131047, 131048, 131050})
TEMPLATE_ERROR_CODES = range(132000, 133000)
# Pair rate limit (too many messages to one recipient): Meta asks for a pause.
PAIR_RATE_LIMIT_CODE = 131056
PAIR_RATE_LIMIT_WAIT_SECONDS = 6.0
# Hosts that may receive the access token, besides the configured Graph API host.
META_HOST_SUFFIXES = (".facebook.com", ".fbsbx.com", ".fbcdn.net", ".whatsapp.net")


class GraphAPIError(Exception):
    """A failed Graph API call, with what Meta said and whether a retry can help."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        title: str | None = None,
        details: str | None = None,
        http_status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        fbtrace_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        self.title = title
        self.details = details
        self.http_status = http_status
        self.retryable = retryable
        self.retry_after = retry_after
        self.fbtrace_id = fbtrace_id

    def as_dict(self) -> dict[str, Any]:
        """What an API error body or a job's last error says of this failure."""
        return {
            "code": self.code,
            "subcode": self.subcode,
            "title": self.title,
            "message": self.message,
            "details": self.details,
            "retryable": self.retryable,
        }

    def __str__(self) -> str:
        where = f"Graph API error {self.code}" if self.code is not None else "Graph API error"
        extra = f" ({self.details})" if self.details else ""
        return f"{where}: {self.message}{extra}"


def is_retryable(code: int | None, http_status: int | None) -> bool:
    """Whether a failure with Meta's `code` and this HTTP status is worth retrying.

    Meta's code decides when it is one we know; an unknown code (or none) falls back on
    the HTTP status: 5xx and 429 are worth another try, other 4xx are not.
    """
    if code in RETRYABLE_CODES:
        return True
    if code in PERMANENT_CODES or (code is not None and code in TEMPLATE_ERROR_CODES):
        return False
    return http_status is None or http_status >= 500 or http_status == 429


def _retry_after(response: httpx.Response, code: int | None) -> float | None:
    header = response.headers.get("retry-after")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
    return PAIR_RATE_LIMIT_WAIT_SECONDS if code == PAIR_RATE_LIMIT_CODE else None


def _scrub(text: str | None, secret: str) -> str | None:
    """`text` without `secret` in it: Meta echoes a malformed token in its error message."""
    return text.replace(secret, "***") if text and secret else text


def error_from_response(response: httpx.Response, *, secret: str = "") -> GraphAPIError:
    """Turn a non-2xx Graph API answer into a GraphAPIError, with `secret` (the access
    token) blanked wherever Meta's text repeats it, so it reaches no log or error body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return GraphAPIError(
            f"HTTP {response.status_code} from the Graph API",
            http_status=response.status_code,
            retryable=is_retryable(None, response.status_code),
            retry_after=_retry_after(response, None),
        )
    code = _int_or_none(error.get("code"))
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else None
    return GraphAPIError(
        _scrub(str(error.get("message") or f"HTTP {response.status_code}"), secret) or "",
        code=code,
        subcode=_int_or_none(error.get("error_subcode")),
        title=_scrub(_str_or_none(error.get("error_user_title") or error.get("type")), secret),
        details=_scrub(_str_or_none(details or error.get("error_user_msg")), secret),
        http_status=response.status_code,
        retryable=is_retryable(code, response.status_code),
        retry_after=_retry_after(response, code),
        fbtrace_id=_str_or_none(error.get("fbtrace_id")),
    )


def _int_or_none(value: Any) -> int | None:
    """Meta's codes are numbers, but some proxies send them as strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _str_or_none(value: Any) -> str | None:
    return str(value) if value is not None else None


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of `url`, with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    default_port = {"https": 443, "http": 80}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port or default_port


@dataclass(frozen=True)
class MediaInfo:
    """What GET /{media-id} tells of a media file."""

    id: str
    url: str
    mime_type: str | None
    sha256: str | None
    file_size: int | None


class GraphClient:
    """Calls the Graph API over one shared httpx.AsyncClient (one per process)."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self._http = http
        self._settings = settings
        self._graph_origin = _origin(settings.graph_api_base_url)

    @staticmethod
    def create_http_client(settings: Settings) -> httpx.AsyncClient:
        """The process-wide HTTP client, with the configured timeouts."""
        timeout = httpx.Timeout(settings.graph_timeout_seconds, connect=5.0)
        return httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    def _is_meta_host(self, url: str) -> bool:
        """The configured Graph API origin, or one of Meta's own hosts over HTTPS."""
        if _origin(url) == self._graph_origin:
            return True
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        return parts.scheme == "https" and host.endswith(META_HOST_SUFFIXES)

    def _auth(self, url: str, token: str | None = None) -> dict[str, str]:
        if not self._is_meta_host(url):
            raise GraphAPIError(f"refusing to send the access token to {urlsplit(url).hostname}")
        return {"Authorization": f"Bearer {token or self._token}"}

    @property
    def _token(self) -> str:
        return self._settings.whatsapp_access_token.get_secret_value()

    def _url(self, path: str) -> str:
        return f"{self._settings.graph_base}/{path.lstrip('/')}"

    async def _request(
        self, endpoint: str, method: str, url: str, *, token: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Call `url` with `token` (the default access token if None); count the call under
        `endpoint` (a fixed name, never the URL)."""
        try:
            data = await self._call(method, url, token=token or self._token, **kwargs)
        except GraphAPIError as exc:
            graph_called(endpoint, exc)
            raise
        graph_called(endpoint, None)
        return data

    async def _call(self, method: str, url: str, *, token: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(
                method, url, headers=self._auth(url, token), **kwargs
            )
        except httpx.TimeoutException as exc:
            raise GraphAPIError("the Graph API timed out", retryable=True) from exc
        except httpx.TransportError as exc:
            raise GraphAPIError(
                f"could not reach the Graph API: {type(exc).__name__}", retryable=True
            ) from exc
        if response.status_code >= 400:
            raise error_from_response(response, secret=token)
        try:
            data = response.json()
        except ValueError as exc:
            raise GraphAPIError(
                "the Graph API answered with something that is not JSON",
                http_status=response.status_code,
                retryable=True,
            ) from exc
        return data if isinstance(data, dict) else {"data": data}

    async def send_message(self, phone_number_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST /{phone_number_id}/messages; returns Meta's answer (contacts, messages)."""
        body = {"messaging_product": "whatsapp", **payload}
        return await self._request(
            "messages",
            "POST",
            self._url(f"{phone_number_id}/messages"),
            token=self._settings.access_token_for(phone_number_id),
            json=body,
        )

    async def list_templates(
        self, business_account_id: str, *, after: str | None = None, limit: int = 100
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of GET /{waba-id}/message_templates: the templates, and the cursor of
        the next page (None on the last one)."""
        params: dict[str, Any] = {
            "limit": limit,
            "fields": "id,name,language,status,category,components,quality_score",
        }
        if after is not None:
            params["after"] = after
        data = await self._request(
            "message_templates",
            "GET",
            self._url(f"{business_account_id}/message_templates"),
            params=params,
        )
        templates = data.get("data")
        if not isinstance(templates, list):
            raise GraphAPIError("the Graph API returned no template list", retryable=True)
        paging = data.get("paging")
        cursors = paging.get("cursors") if isinstance(paging, dict) else None
        following = cursors.get("after") if isinstance(cursors, dict) else None
        has_next = isinstance(paging, dict) and bool(paging.get("next"))
        page = [t for t in templates if isinstance(t, dict)]
        return page, following if has_next and isinstance(following, str) else None

    async def mark_read(self, phone_number_id: str, message_id: str) -> dict[str, Any]:
        """Tell Meta that an inbound message was read (blue ticks for the customer)."""
        body = {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}
        return await self._request(
            "messages",
            "POST",
            self._url(f"{phone_number_id}/messages"),
            token=self._settings.access_token_for(phone_number_id),
            json=body,
        )

    async def get_media(self, media_id: str) -> MediaInfo:
        """GET /{media-id}: the short-lived download URL and what Meta knows of the file."""
        data = await self._request("media_info", "GET", self._url(media_id))
        url = data.get("url")
        if not isinstance(url, str):
            raise GraphAPIError(f"no download URL for media {media_id}", retryable=False)
        size = data.get("file_size")
        return MediaInfo(
            id=str(data.get("id") or media_id),
            url=url,
            mime_type=data.get("mime_type"),
            sha256=data.get("sha256"),
            file_size=int(size) if size is not None else None,
        )

    @asynccontextmanager
    async def stream_media(self, url: str) -> AsyncIterator[httpx.Response]:
        """Open a media download; the caller reads it with `aiter_bytes()`."""
        try:
            async with self._http.stream("GET", url, headers=self._auth(url)) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise error_from_response(response, secret=self._token)
                yield response
        except httpx.TimeoutException as exc:
            error = GraphAPIError("the media download timed out", retryable=True)
            graph_called("media_download", error)
            raise error from exc
        except httpx.TransportError as exc:
            error = GraphAPIError(f"could not download media: {type(exc).__name__}", retryable=True)
            graph_called("media_download", error)
            raise error from exc
        except GraphAPIError as exc:
            graph_called("media_download", exc)
            raise
        graph_called("media_download", None)

    async def upload_media(
        self, phone_number_id: str, filename: str, content_type: str, content: bytes | IO[bytes]
    ) -> str:
        """POST /{phone_number_id}/media (multipart); returns Meta's media id.

        `content` may be an open file, which httpx sends in chunks instead of whole.
        """
        data = await self._request(
            "media_upload",
            "POST",
            self._url(f"{phone_number_id}/media"),
            token=self._settings.access_token_for(phone_number_id),
            data={"messaging_product": "whatsapp", "type": content_type},
            files={"file": (filename, content, content_type)},
        )
        media_id = data.get("id")
        if not isinstance(media_id, str):
            raise GraphAPIError("the Graph API returned no media id", retryable=False)
        return media_id
