"""Meta's limits on media: the largest file per media type, and the MIME types it takes.

Figures from Meta's "Supported media types" table for the Cloud API: audio 16 MB,
documents 100 MB, images 5 MB, video 16 MB, stickers 500 KB animated / 100 KB static.
Meta's MB and KB are read as binary units, the generous reading, so a file Meta
accepted is never refused here.
"""

from __future__ import annotations

import mimetypes

KB = 1024
MB = 1024 * KB

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")

MAX_BYTES: dict[str, int] = {
    "audio": 16 * MB,
    "document": 100 * MB,
    "image": 5 * MB,
    "video": 16 * MB,
    "sticker": 500 * KB,
}
STATIC_STICKER_MAX_BYTES = 100 * KB

# The largest file any media type allows: the ceiling while an upload is still arriving.
LARGEST_MEDIA_BYTES = max(MAX_BYTES.values())

# The MIME types Meta takes for each media type, for uploads (what we send must be one).
MIME_TYPES: dict[str, frozenset[str]] = {
    "audio": frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}),
    "document": frozenset(
        {
            "text/plain",
            "application/pdf",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        }
    ),
    "image": frozenset({"image/jpeg", "image/png"}),
    "sticker": frozenset({"image/webp"}),
    "video": frozenset({"video/mp4", "video/3gpp"}),
}

# Extensions for stored files, chosen where the standard table is ambiguous or missing.
_EXTENSIONS: dict[str, str] = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/3gpp": ".3gp",
    "audio/aac": ".aac",
    "audio/amr": ".amr",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/ogg": ".ogg",
    "text/plain": ".txt",
    "application/pdf": ".pdf",
}


def normalize_mime(mime_type: str | None) -> str | None:
    """`audio/ogg; codecs=opus` → `audio/ogg`; None or blank → None."""
    if not mime_type:
        return None
    base = mime_type.split(";", 1)[0].strip().lower()
    return base or None


def max_bytes_for(media_type: str, *, animated: bool | None = None) -> int:
    """The largest file Meta allows for `media_type`.

    A sticker not known to be static gets the animated (larger) limit.
    """
    if media_type == "sticker" and animated is False:
        return STATIC_STICKER_MAX_BYTES
    return MAX_BYTES.get(media_type, LARGEST_MEDIA_BYTES)


def media_type_for_mime(mime_type: str | None) -> str | None:
    """The media type Meta files an upload of `mime_type` under, or None if unsupported."""
    base = normalize_mime(mime_type)
    for media_type, accepted in MIME_TYPES.items():
        if base in accepted:
            return media_type
    return None


def extension_for(mime_type: str | None) -> str:
    """A file extension (with the dot) for `mime_type`, or "" when none is known."""
    base = normalize_mime(mime_type)
    if base is None:
        return ""
    return _EXTENSIONS.get(base) or mimetypes.guess_extension(base) or ""


def guess_mime(filename: str | None) -> str | None:
    """The MIME type a file name suggests, or None."""
    if not filename:
        return None
    guessed, _encoding = mimetypes.guess_type(filename)
    return guessed
