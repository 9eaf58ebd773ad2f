"""Media in the admin: inline players for a message, and the login-protected file route."""

from __future__ import annotations

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.errors import DomainError
from app.media.service import stream_message_media
from app.messages.repository import MessageRepository
from app.models import MediaState, Message
from app.runtime import Runtime

MEDIA_ROUTE = "admin:view-message-media"


def media_url(request: Request, message: Message) -> str:
    """The admin's URL of a message's stored file."""
    return str(request.url_for(MEDIA_ROUTE, pk=str(message.id)))


def has_media(message: Message) -> bool:
    """True when the message carries (or carried) a media file."""
    return bool(message.media_id or message.media_state or message.media_path)


def media_markup(request: Request, message: Message) -> Markup:
    """The message's media as people expect it: a picture, a player or a download link.

    While the file is not stored, says why instead (still downloading, or failed).
    """
    if not has_media(message):
        return Markup("")
    if message.media_state != MediaState.STORED or not message.media_path:
        if message.media_state == MediaState.FAILED:
            return Markup('<span class="text-danger inbox-media-missing">{}</span>').format(
                f"Media could not be downloaded: {message.media_error or 'unknown error'}"
            )
        return Markup('<span class="text-muted inbox-media-missing">{}</span>').format(
            "Media is being downloaded from WhatsApp…"
        )
    url = media_url(request, message)
    mime = message.mime_type or ""
    if message.message_type in ("image", "sticker") or (
        mime.startswith("image/") and message.message_type != "document"
    ):
        return Markup(
            '<a href="{url}" target="_blank" rel="noopener">'
            '<img class="inbox-media inbox-image" src="{url}" alt="{alt}" loading="lazy"></a>'
        ).format(url=url, alt=message.caption or message.message_type)
    if message.message_type == "audio" or mime.startswith("audio/"):
        return Markup(
            '<audio class="inbox-media inbox-audio" controls preload="metadata" src="{}"></audio>'
        ).format(url)
    if message.message_type == "video" or mime.startswith("video/"):
        return Markup(
            '<video class="inbox-media inbox-video" controls preload="metadata" src="{}"></video>'
        ).format(url)
    size = f" ({message.media_size:,} bytes)" if message.media_size else ""
    return Markup(
        '<a class="inbox-media inbox-download" href="{url}" download="{name}">'
        '<i class="fa-solid fa-file-arrow-down"></i> {name}{size}</a>'
    ).format(url=url, name=message.filename or "document", size=size)


async def media_response(request: Request, runtime: Runtime) -> Response:
    """Stream the stored file of the message named by the path's pk (404 when none)."""
    pk = str(request.path_params.get("pk", ""))
    if not pk.isdigit():
        raise HTTPException(status_code=404, detail=f"no message with id {pk!r}")
    async with runtime.sessions() as session:
        message = await MessageRepository(session).get_by_id(int(pk))
        if message is None:
            raise HTTPException(status_code=404, detail=f"no message with id {pk}")
        try:
            response = await stream_message_media(session, runtime.storage, message.message_id)
        except DomainError as exc:
            raise HTTPException(status_code=exc.status_code, detail=exc.detail) from exc
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
