"""Meta's webhook payload as Pydantic models, and the route's answer.

Every model accepts fields it does not know (Meta adds them without notice) and a
message of an unknown type; only what the service cannot do without is required: the
`object` and `entry` of the envelope, and each message's and status's `id`. Meta sends
numbers as strings in some places and as numbers in others, so strings accept both.

Reference: developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/
(the `messages` webhook and one page per message type). Since 2026 a customer who adopts
a username may come without a phone number: `contacts[].wa_id` and `messages[].from`
can be absent, and `contacts[].user_id` / `messages[].from_user_id` /
`statuses[].recipient_user_id` carry the business-scoped user id instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
)

if TYPE_CHECKING:
    from app.webhook.service import IngestResult

WHATSAPP_OBJECT = "whatsapp_business_account"


class MetaModel(BaseModel):
    """Base of Meta's shapes: unknown fields kept, numbers accepted where strings are."""

    # A number no JSON column can keep (NaN, infinity) fails its item instead of the database.
    model_config = ConfigDict(
        extra="allow", populate_by_name=True, coerce_numbers_to_str=True, allow_inf_nan=False
    )


# Envelope -----------------------------------------------------------------------------


class Metadata(MetaModel):
    """The business number a change is about."""

    display_phone_number: str | None = None
    phone_number_id: str | None = None


class Profile(MetaModel):
    """A customer's WhatsApp profile."""

    name: str | None = None
    username: str | None = None


class Contact(MetaModel):
    """The sender of the messages in a change: number (wa_id) and/or business-scoped id."""

    profile: Profile | None = None
    wa_id: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    identity_key_hash: str | None = None


class ErrorData(MetaModel):
    """Extra detail of an error."""

    details: str | None = None


class MetaError(MetaModel):
    """An error Meta reports (on a status, an unsupported message, or a whole change)."""

    code: int | None = None
    title: str | None = None
    message: str | None = None
    error_data: ErrorData | None = None
    href: str | None = None


# Message content, one model per type ----------------------------------------------------


class Context(MetaModel):
    """What a message answers or how it was forwarded."""

    from_: str | None = Field(default=None, alias="from")
    id: str | None = None
    forwarded: bool | None = None
    frequently_forwarded: bool | None = None
    referred_product: dict[str, Any] | None = None


class Text(MetaModel):
    """A text message."""

    body: str | None = None


class Media(MetaModel):
    """An image, video, audio, document or sticker: Meta's media id, fetched separately."""

    id: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None
    voice: bool | None = None
    animated: bool | None = None
    url: str | None = None


class Location(MetaModel):
    """A shared location."""

    latitude: float | None = None
    longitude: float | None = None
    name: str | None = None
    address: str | None = None
    url: str | None = None


class ContactName(MetaModel):
    """The name on a shared contact card."""

    formatted_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    middle_name: str | None = None
    prefix: str | None = None
    suffix: str | None = None


class ContactPhone(MetaModel):
    """A phone number on a shared contact card."""

    phone: str | None = None
    wa_id: str | None = None
    type: str | None = None


class ContactCard(MetaModel):
    """A contact card the customer shared (type `contacts`)."""

    name: ContactName | None = None
    phones: list[ContactPhone] = Field(default_factory=list)
    emails: list[dict[str, Any]] = Field(default_factory=list)
    addresses: list[dict[str, Any]] = Field(default_factory=list)
    urls: list[dict[str, Any]] = Field(default_factory=list)
    org: dict[str, Any] | None = None
    birthday: str | None = None


class Reply(MetaModel):
    """The button or list row a customer chose."""

    id: str | None = None
    title: str | None = None
    description: str | None = None


class FlowReply(MetaModel):
    """The answer to a WhatsApp Flow (`nfm_reply`)."""

    name: str | None = None
    body: str | None = None
    response_json: str | None = None


class Interactive(MetaModel):
    """A reply to an interactive message: button_reply, list_reply or nfm_reply."""

    type: str | None = None
    button_reply: Reply | None = None
    list_reply: Reply | None = None
    nfm_reply: FlowReply | None = None


class Button(MetaModel):
    """A quick-reply button tapped in a template."""

    payload: str | None = None
    text: str | None = None


class Reaction(MetaModel):
    """An emoji reaction to a message; no emoji means the reaction was removed."""

    message_id: str | None = None
    emoji: str | None = None


class ProductItem(MetaModel):
    """A line of an order."""

    product_retailer_id: str | None = None
    quantity: float | None = None
    item_price: float | None = None
    currency: str | None = None


class Order(MetaModel):
    """An order sent from a catalog."""

    catalog_id: str | None = None
    text: str | None = None
    product_items: list[ProductItem] = Field(default_factory=list)


class System(MetaModel):
    """A system notice, e.g. the customer changed number or user id."""

    body: str | None = None
    type: str | None = None
    wa_id: str | None = None
    new_wa_id: str | None = None
    user_id: str | None = None
    new_user_id: str | None = None
    customer: str | None = None


class Referral(MetaModel):
    """The ad or post a customer came from (Click to WhatsApp)."""

    source_url: str | None = None
    source_id: str | None = None
    source_type: str | None = None
    headline: str | None = None
    body: str | None = None
    media_type: str | None = None
    image_url: str | None = None
    video_url: str | None = None
    thumbnail_url: str | None = None
    ctwa_clid: str | None = None


class InboundMessage(MetaModel):
    """A message a customer sent; `type` names which content field is present.

    A type this model does not know is kept as it is: its content stays in the row's
    `raw` JSON.
    """

    id: str
    from_: str | None = Field(default=None, alias="from")
    from_user_id: str | None = None
    from_parent_user_id: str | None = None
    timestamp: datetime | None = None
    type: str = "unknown"
    context: Context | None = None
    referral: Referral | None = None
    errors: list[MetaError] = Field(default_factory=list)

    text: Text | None = None
    image: Media | None = None
    video: Media | None = None
    audio: Media | None = None
    document: Media | None = None
    sticker: Media | None = None
    location: Location | None = None
    contacts: list[ContactCard] | None = None
    interactive: Interactive | None = None
    button: Button | None = None
    reaction: Reaction | None = None
    order: Order | None = None
    system: System | None = None

    @property
    def media(self) -> Media | None:
        """The media part of an image, video, audio, document or sticker message."""
        if self.type in MEDIA_TYPES:
            media: Media | None = getattr(self, self.type)
            return media
        return None


MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})


# Statuses ------------------------------------------------------------------------------


class ConversationOrigin(MetaModel):
    """Why a (billing) conversation was opened."""

    type: str | None = None


class StatusConversation(MetaModel):
    """Meta's billing conversation a status belongs to."""

    id: str | None = None
    expiration_timestamp: str | None = None
    origin: ConversationOrigin | None = None


class Pricing(MetaModel):
    """How a message is billed."""

    billable: bool | None = None
    pricing_model: str | None = None
    category: str | None = None
    type: str | None = None


class Status(MetaModel):
    """What happened to a message the business sent: sent, delivered, read, failed, ..."""

    id: str
    status: str
    timestamp: datetime | None = None
    recipient_id: str | None = None
    recipient_user_id: str | None = None
    recipient_parent_user_id: str | None = None
    conversation: StatusConversation | None = None
    pricing: Pricing | None = None
    errors: list[MetaError] = Field(default_factory=list)
    biz_opaque_callback_data: str | None = None


# Changes -------------------------------------------------------------------------------


class MessagesValue(MetaModel):
    """The value of a `messages` change: messages from customers and/or statuses."""

    messaging_product: str | None = None
    metadata: Metadata | None = None
    contacts: list[Contact] = Field(default_factory=list)
    messages: list[InboundMessage] = Field(default_factory=list)
    statuses: list[Status] = Field(default_factory=list)
    errors: list[MetaError] = Field(default_factory=list)


class Call(MetaModel):
    """A call event (Calling API): a customer calls the business number, or hangs up."""

    id: str | None = None
    from_: str | None = Field(default=None, alias="from")
    from_user_id: str | None = None
    to: str | None = None
    event: str | None = None
    direction: str | None = None
    timestamp: datetime | None = None
    # On `terminate`: COMPLETED or FAILED, and for an answered call when it ran.
    status: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    # Seconds; bounded by the column that keeps it.
    duration: int | None = Field(default=None, ge=0, le=2**31 - 1)


class CallsValue(MetaModel):
    """The value of a `calls` change."""

    messaging_product: str | None = None
    metadata: Metadata | None = None
    contacts: list[Contact] = Field(default_factory=list)
    calls: list[Call] = Field(default_factory=list)
    errors: list[MetaError] = Field(default_factory=list)


class MessagesChange(MetaModel):
    """A change of the `messages` field (also when Meta's example leaves `field` out)."""

    field: Literal["messages"] = "messages"
    value: MessagesValue


class CallsChange(MetaModel):
    """A change of the `calls` field."""

    field: Literal["calls"]
    value: CallsValue


class OtherChange(MetaModel):
    """A change of any other field (account_update, message_template_status_update, ...).

    Its value is kept as sent, whatever its shape: it is logged, not interpreted.
    """

    field: str
    value: Any = None


def _change_kind(data: Any) -> str:
    field = data.get("field", "messages") if isinstance(data, dict) else getattr(data, "field", "")
    return field if field in ("messages", "calls") else "other"


Change = Annotated[
    Annotated[MessagesChange, Tag("messages")]
    | Annotated[CallsChange, Tag("calls")]
    | Annotated[OtherChange, Tag("other")],
    Discriminator(_change_kind),
]


class Entry(MetaModel):
    """One WhatsApp Business Account's changes."""

    id: str | None = None
    changes: list[Change] = Field(default_factory=list)


class Webhook(MetaModel):
    """A whole webhook POST body."""

    object_: Literal["whatsapp_business_account"] = Field(alias="object")
    entry: list[Entry]

    @property
    def fields(self) -> list[str]:
        """The distinct fields of the changes, in order of first appearance."""
        seen: dict[str, None] = {}
        for entry in self.entry:
            for change in entry.changes:
                seen.setdefault(change.field, None)
        return list(seen)


MAX_ANSWERED_REJECTIONS = 20


class ItemRejection(BaseModel):
    """An item of a delivery that was not stored: where it is in the body, and why."""

    path: str = Field(examples=["entry.0.changes.0.value.messages.3.id"])
    reason: str = Field(examples=["Field required"])


class WebhookAck(BaseModel):
    """The answer to Meta: the delivery is stored (committed)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "stored",
                    "event_id": 42,
                    "new_messages": 1,
                    "new_statuses": 0,
                    "stored_items": 1,
                    "rejected_items": 0,
                    "rejections": [],
                }
            ]
        }
    )

    status: Literal["stored"] = "stored"
    event_id: int = Field(description="Id of the delivery in the raw event log.")
    new_messages: int = Field(description="Messages stored for the first time.")
    new_statuses: int = Field(description="Statuses stored for the first time.")
    stored_items: int = Field(
        description="Messages, statuses and calls stored (now or by an earlier delivery)."
    )
    rejected_items: int = Field(
        description="Items that could not be stored; the event keeps each one's path and reason."
    )
    rejections: list[ItemRejection] = Field(
        description=f"The first {MAX_ANSWERED_REJECTIONS} rejected items, with why."
    )

    @classmethod
    def of(cls, result: IngestResult) -> WebhookAck:
        """The answer to a stored delivery."""
        return cls(
            event_id=result.event_id,
            new_messages=len(result.messages),
            new_statuses=result.new_statuses,
            stored_items=result.stored_items,
            rejected_items=len(result.rejections),
            rejections=[
                ItemRejection(path=r.path, reason=r.reason)
                for r in result.rejections[:MAX_ANSWERED_REJECTIONS]
            ],
        )
