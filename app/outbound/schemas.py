"""The send request: one model per message type, checked against Meta's documented limits.

Each model knows the part of the Graph API payload that is its own (`content()`) and the
columns the stored outbound message gets from it (`columns()`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    TypeAdapter,
    field_validator,
    model_validator,
)

from app.business_numbers import MAX_NAME_LENGTH
from app.models import MAX_ID
from app.phone import normalize_customer

# Meta's limits (Cloud API message reference).
MAX_TEXT_BODY = 4096
MAX_CAPTION = 1024
MAX_BUTTON_BODY = 1024
MAX_LIST_BODY = 4096
MAX_HEADER_TEXT = 60
MAX_FOOTER_TEXT = 60
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_ID = 256
MAX_LIST_BUTTON = 20
MAX_SECTIONS = 10
MAX_LIST_ROWS = 10
MAX_SECTION_TITLE = 24
MAX_ROW_TITLE = 24
MAX_ROW_ID = 200
MAX_ROW_DESCRIPTION = 72
MAX_TEMPLATE_NAME = 512
MAX_WAMID = 255
# Not Meta's limit: the longest name common file systems allow.
MAX_FILENAME = 255
# Meta documents no limit for a location's name and address; this keeps them sane.
MAX_LOCATION_TEXT = 1000


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


NonBlank = AfterValidator(_not_blank)


def _unstorable_text(value: Any, path: str = "") -> str | None:
    """The path of the first string in `value` that no column or Meta can take, or None.

    A NUL is refused by PostgreSQL's text and by Meta, and a lone surrogate cannot be
    encoded as UTF-8: found before Meta is called, such a request sends nothing.
    """
    if isinstance(value, str):
        if "\x00" in value:
            return path or "value"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "value"
        return None
    if isinstance(value, dict):
        items: list[tuple[str, Any]] = [(str(k), v) for k, v in value.items()]
        for name, _ in items:
            found = _unstorable_text(name, f"{path}.{name}" if path else name)
            if found:
                return found
    elif isinstance(value, list):
        items = [(str(i), v) for i, v in enumerate(value)]
    else:
        return None
    for name, item in items:
        found = _unstorable_text(item, f"{path}.{name}" if path else name)
        if found:
            return found
    return None


class _SendBase(BaseModel, ABC):
    """What every send request has: the recipient, an optional reply, how to deliver."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: str = Field(description="The kind of message; decides which other fields apply.")
    to: str | None = Field(
        None,
        max_length=128,
        description="The customer's number, written any way (`+91 98765-43210`), or "
        "their business-scoped user id (`US.13491208655302741918`); give this or "
        "conversation_id.",
        examples=["919876543210"],
    )
    from_: str | None = Field(
        None,
        alias="from",
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        description="The business number to send from: its phone_number_id or its label. "
        "Default: the conversation's number (the one the customer wrote to), else the "
        "first configured number.",
        examples=["support"],
    )
    conversation_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="The conversation to answer; give this or `to`."
    )
    reply_to: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_WAMID,
        description="The wamid of a message this one replies to (shown quoted).",
    )
    queued: bool = Field(
        False,
        description="Deliver in the background: answer 202 with the job instead of waiting "
        "for Meta (201 with the message).",
    )

    @field_validator("to")
    @classmethod
    def _normalize_to(cls, value: str | None) -> str | None:
        return normalize_customer(value) if value is not None else None

    @model_validator(mode="after")
    def _one_recipient(self) -> Self:
        if (self.to is None) == (self.conversation_id is None):
            raise ValueError("give exactly one of `to` and `conversation_id`")
        return self

    @model_validator(mode="after")
    def _storable_text(self) -> Self:
        where = _unstorable_text(self.model_dump(mode="json"))
        if where is not None:
            raise ValueError(f"`{where}` holds a NUL character or invalid Unicode")
        return self

    @property
    def is_template(self) -> bool:
        """Templates are the only messages allowed outside the 24-hour window."""
        return False

    @abstractmethod
    def content(self) -> dict[str, Any]:
        """The type-specific object of the Graph API payload (under the key of the type)."""

    def columns(self) -> dict[str, Any]:
        """Message columns this request fills, beyond the ones every message has."""
        return {}


class TextMessage(_SendBase):
    """A text message; `preview_url` asks WhatsApp to show a preview of the first link."""

    type: Literal["text"]
    body: Annotated[str, Field(max_length=MAX_TEXT_BODY), NonBlank]
    preview_url: bool = False

    def content(self) -> dict[str, Any]:
        return {"body": self.body, "preview_url": self.preview_url}

    def columns(self) -> dict[str, Any]:
        return {"text_body": self.body}


class TemplateMessage(_SendBase):
    """An approved template, the only kind of message that may start a conversation."""

    type: Literal["template"]
    name: str = Field(
        min_length=1,
        max_length=MAX_TEMPLATE_NAME,
        pattern=r"^[a-z0-9_]+$",
        description="The template's name: lowercase letters, digits and underscores.",
        examples=["order_update"],
    )
    language: str = Field(
        pattern=r"^[A-Za-z]{2,3}(_[A-Za-z0-9]{2,4})?$",
        description="The template's language code.",
        examples=["en_US"],
    )
    components: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Meta's template components (header, body, button parameters), as is.",
    )

    @property
    def is_template(self) -> bool:
        return True

    def content(self) -> dict[str, Any]:
        template: dict[str, Any] = {"name": self.name, "language": {"code": self.language}}
        if self.components:
            template["components"] = self.components
        return template


class _MediaBase(_SendBase):
    """Media by `link` (a public URL) or by `id` (from POST /api/whatsapp/media/)."""

    link: HttpUrl | None = Field(None, description="A public http(s) URL of the file.")
    id: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        pattern=r"^[0-9A-Za-z_.:-]+$",
        description="A media id returned by POST /api/whatsapp/media/.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.link is None) == (self.id is None):
            raise ValueError("give exactly one of `link` and `id`")
        return self

    def _source(self) -> dict[str, Any]:
        return {"id": self.id} if self.id is not None else {"link": str(self.link)}

    def content(self) -> dict[str, Any]:
        return self._source()

    def columns(self) -> dict[str, Any]:
        return {"media_id": self.id}


class _CaptionedMediaBase(_MediaBase):
    caption: Annotated[str, Field(max_length=MAX_CAPTION), NonBlank] | None = None

    def content(self) -> dict[str, Any]:
        media = self._source()
        if self.caption is not None:
            media["caption"] = self.caption
        return media

    def columns(self) -> dict[str, Any]:
        return {"media_id": self.id, "caption": self.caption}


class ImageMessage(_CaptionedMediaBase):
    """An image (JPEG or PNG) with an optional caption."""

    type: Literal["image"]


class VideoMessage(_CaptionedMediaBase):
    """A video (MP4 or 3GP) with an optional caption."""

    type: Literal["video"]


class DocumentMessage(_CaptionedMediaBase):
    """A document with an optional caption and the file name the customer sees."""

    type: Literal["document"]
    filename: Annotated[str, Field(max_length=MAX_FILENAME), NonBlank] | None = None

    def content(self) -> dict[str, Any]:
        media = super().content()
        if self.filename is not None:
            media["filename"] = self.filename
        return media

    def columns(self) -> dict[str, Any]:
        return {**super().columns(), "filename": self.filename}


class AudioMessage(_MediaBase):
    """An audio file or voice note (no caption: Meta does not allow one)."""

    type: Literal["audio"]


class StickerMessage(_MediaBase):
    """A WebP sticker (no caption)."""

    type: Literal["sticker"]


class LocationMessage(_SendBase):
    """A location pin."""

    type: Literal["location"]
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: Annotated[str, Field(max_length=MAX_LOCATION_TEXT), NonBlank] | None = None
    address: Annotated[str, Field(max_length=MAX_LOCATION_TEXT), NonBlank] | None = None

    def content(self) -> dict[str, Any]:
        location: dict[str, Any] = {"latitude": self.latitude, "longitude": self.longitude}
        if self.name is not None:
            location["name"] = self.name
        if self.address is not None:
            location["address"] = self.address
        return location

    def columns(self) -> dict[str, Any]:
        return {
            "latitude": self.latitude,
            "longitude": self.longitude,
            "location_name": self.name,
            "location_address": self.address,
        }


class ReplyButton(BaseModel):
    """One reply button; its id comes back in the customer's button_reply."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(max_length=MAX_BUTTON_ID), NonBlank]
    title: Annotated[str, Field(max_length=MAX_BUTTON_TITLE), NonBlank]


class _InteractiveBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    header: Annotated[str, Field(max_length=MAX_HEADER_TEXT), NonBlank] | None = Field(
        None, description="Text above the body."
    )
    footer: Annotated[str, Field(max_length=MAX_FOOTER_TEXT), NonBlank] | None = Field(
        None, description="Text below the body."
    )

    def _frame(self, body: str) -> dict[str, Any]:
        frame: dict[str, Any] = {"body": {"text": body}}
        if self.header is not None:
            frame["header"] = {"type": "text", "text": self.header}
        if self.footer is not None:
            frame["footer"] = {"text": self.footer}
        return frame


class ButtonsInteractive(_InteractiveBase):
    """Up to three reply buttons under a body text."""

    type: Literal["button"]
    body: Annotated[str, Field(max_length=MAX_BUTTON_BODY), NonBlank]
    buttons: list[ReplyButton] = Field(min_length=1, max_length=MAX_BUTTONS)

    @model_validator(mode="after")
    def _unique_buttons(self) -> Self:
        ids = [b.id for b in self.buttons]
        titles = [b.title for b in self.buttons]
        if len(set(ids)) != len(ids) or len(set(titles)) != len(titles):
            raise ValueError("button ids and titles must be unique within the message")
        return self

    def content(self) -> dict[str, Any]:
        """Meta's `interactive` object for reply buttons."""
        buttons = [{"type": "reply", "reply": {"id": b.id, "title": b.title}} for b in self.buttons]
        return {"type": "button", **self._frame(self.body), "action": {"buttons": buttons}}


class ListRow(BaseModel):
    """One choice of a list; its id comes back in the customer's list_reply."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(max_length=MAX_ROW_ID), NonBlank]
    title: Annotated[str, Field(max_length=MAX_ROW_TITLE), NonBlank]
    description: Annotated[str, Field(max_length=MAX_ROW_DESCRIPTION), NonBlank] | None = None


class ListSection(BaseModel):
    """A group of rows; a title is required when the list has more than one section."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(max_length=MAX_SECTION_TITLE), NonBlank] | None = None
    rows: list[ListRow] = Field(min_length=1, max_length=MAX_LIST_ROWS)


class ListInteractive(_InteractiveBase):
    """A menu of up to ten rows in sections, opened by a button."""

    type: Literal["list"]
    body: Annotated[str, Field(max_length=MAX_LIST_BODY), NonBlank]
    button: Annotated[str, Field(max_length=MAX_LIST_BUTTON), NonBlank] = Field(
        description="The label of the button that opens the list."
    )
    sections: list[ListSection] = Field(min_length=1, max_length=MAX_SECTIONS)

    @model_validator(mode="after")
    def _within_limits(self) -> Self:
        rows = [row for section in self.sections for row in section.rows]
        if len(rows) > MAX_LIST_ROWS:
            raise ValueError(f"a list has at most {MAX_LIST_ROWS} rows across all sections")
        if len({row.id for row in rows}) != len(rows):
            raise ValueError("row ids must be unique within the list")
        if len(self.sections) > 1 and any(s.title is None for s in self.sections):
            raise ValueError("every section needs a title when there is more than one")
        return self

    def content(self) -> dict[str, Any]:
        """Meta's `interactive` object for a list."""
        sections = [
            {
                **({"title": s.title} if s.title is not None else {}),
                "rows": [
                    {
                        "id": r.id,
                        "title": r.title,
                        **({"description": r.description} if r.description is not None else {}),
                    }
                    for r in s.rows
                ],
            }
            for s in self.sections
        ]
        return {
            "type": "list",
            **self._frame(self.body),
            "action": {"button": self.button, "sections": sections},
        }


class InteractiveMessage(_SendBase):
    """Reply buttons or a list."""

    type: Literal["interactive"]
    interactive: Annotated[ButtonsInteractive | ListInteractive, Field(discriminator="type")]

    def content(self) -> dict[str, Any]:
        return self.interactive.content()

    def columns(self) -> dict[str, Any]:
        return {"text_body": self.interactive.body}


class ReactionMessage(_SendBase):
    """An emoji reaction to a message; an empty emoji removes the reaction."""

    type: Literal["reaction"]
    message_id: str = Field(
        min_length=1, max_length=MAX_WAMID, description="The wamid of the message reacted to."
    )
    # Meta documents "an emoji"; one emoji can be several code points (skin tones, flags,
    # families), so this only bounds the length.
    emoji: str = Field(max_length=32, description="One emoji, or empty to remove.")

    def content(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "emoji": self.emoji}

    def columns(self) -> dict[str, Any]:
        return {"text_body": self.emoji, "context_message_id": self.message_id}


SendRequest = Annotated[
    TextMessage
    | TemplateMessage
    | ImageMessage
    | VideoMessage
    | AudioMessage
    | DocumentMessage
    | StickerMessage
    | LocationMessage
    | InteractiveMessage
    | ReactionMessage,
    Field(discriminator="type"),
]

send_request_adapter: TypeAdapter[SendRequest] = TypeAdapter(SendRequest)
