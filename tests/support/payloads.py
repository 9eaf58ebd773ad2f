"""Builders of realistic webhook payloads, in the shapes of Meta's webhook reference.

Compose them from the inside out, or use the shortcuts:

    webhook(entry(change(messages_value([text_message("hi")]))))
    inbound(text_message("hi"), image_message())          # one change, contacts derived
    status_update(status(wamid, "delivered"))
    await deliver(client, inbound(text_message("hi")))    # signed POST to the webhook

Every builder returns plain dicts; pass keyword overrides to set any field Meta sends.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.conftest import PHONE_NUMBER_ID, signed_headers

WEBHOOK_URL = "/api/whatsapp/webhook/"
ACCOUNT_ID = "102290129340398"
BUSINESS_NUMBER = "15550783881"
CUSTOMER_NUMBER = "16505551234"
CUSTOMER_NAME = "Sheena Nelson"

Payload = dict[str, Any]


def new_wamid() -> str:
    """A fresh, realistic-looking WhatsApp message id."""
    return f"wamid.HBgL{uuid.uuid4().hex.upper()}"


def unix(moment: datetime | int | None = None) -> str:
    """A timestamp as Meta writes it: Unix seconds in a string (now when not given)."""
    if moment is None:
        moment = datetime.now(UTC)
    if isinstance(moment, datetime):
        moment = int(moment.timestamp())
    return str(moment)


# Messages ------------------------------------------------------------------------------


def message(
    type_: str,
    content: Any = None,
    *,
    wamid: str | None = None,
    from_: str | None = CUSTOMER_NUMBER,
    from_user_id: str | None = None,
    timestamp: datetime | int | None = None,
    context: Payload | None = None,
    referral: Payload | None = None,
    **extra: Any,
) -> Payload:
    """A message of any type; `content` goes under the key named by the type."""
    result: Payload = {"id": wamid or new_wamid(), "timestamp": unix(timestamp), "type": type_}
    if from_ is not None:
        result["from"] = from_
    if from_user_id is not None:
        result["from_user_id"] = from_user_id
    if content is not None:
        result[type_] = content
    if context is not None:
        result["context"] = context
    if referral is not None:
        result["referral"] = referral
    result.update(extra)
    return result


def reply_context(
    message_id: str, *, from_: str = BUSINESS_NUMBER, forwarded: bool | None = None
) -> Payload:
    """The `context` of a message that answers `message_id`."""
    result: Payload = {"from": from_, "id": message_id}
    if forwarded is not None:
        result["forwarded"] = forwarded
    return result


def forwarded_context(*, frequently: bool = False) -> Payload:
    """The `context` of a forwarded message."""
    if frequently:
        return {"frequently_forwarded": True}
    return {"forwarded": True}


def text_message(body: str = "Does it come in another color?", **kw: Any) -> Payload:
    """A text message."""
    return message("text", {"body": body}, **kw)


def _media(
    type_: str,
    media_id: str | None,
    mime_type: str,
    extra: Payload,
    kw: dict[str, Any],
) -> Payload:
    content: Payload = {
        "mime_type": mime_type,
        "sha256": uuid.uuid4().hex + uuid.uuid4().hex,
        "id": media_id or str(uuid.uuid4().int)[:16],
    }
    content.update({k: v for k, v in extra.items() if v is not None})
    return message(type_, content, **kw)


def image_message(
    media_id: str | None = None,
    *,
    caption: str | None = None,
    mime_type: str = "image/jpeg",
    **kw: Any,
) -> Payload:
    """An image message."""
    return _media("image", media_id, mime_type, {"caption": caption}, kw)


def video_message(
    media_id: str | None = None,
    *,
    caption: str | None = None,
    mime_type: str = "video/mp4",
    **kw: Any,
) -> Payload:
    """A video message."""
    return _media("video", media_id, mime_type, {"caption": caption}, kw)


def audio_message(
    media_id: str | None = None,
    *,
    voice: bool = True,
    mime_type: str = "audio/ogg; codecs=opus",
    **kw: Any,
) -> Payload:
    """An audio message; `voice` marks a recorded voice note."""
    return _media("audio", media_id, mime_type, {"voice": voice}, kw)


def document_message(
    media_id: str | None = None,
    *,
    filename: str = "invoice.pdf",
    caption: str | None = None,
    mime_type: str = "application/pdf",
    **kw: Any,
) -> Payload:
    """A document message."""
    return _media("document", media_id, mime_type, {"filename": filename, "caption": caption}, kw)


def sticker_message(
    media_id: str | None = None, *, animated: bool = False, mime_type: str = "image/webp", **kw: Any
) -> Payload:
    """A sticker message."""
    return _media("sticker", media_id, mime_type, {"animated": animated}, kw)


def location_message(
    latitude: float = 37.4847483,
    longitude: float = -122.1473105,
    *,
    name: str | None = "Philz Coffee",
    address: str | None = "101 Forest Ave, Palo Alto, CA 94301",
    **kw: Any,
) -> Payload:
    """A shared location."""
    content: Payload = {"latitude": latitude, "longitude": longitude}
    if name is not None:
        content["name"] = name
    if address is not None:
        content["address"] = address
    return message("location", content, **kw)


def contact_card(
    formatted_name: str = "Barbara J. Johnson", phone: str = "+1 (650) 555-1234"
) -> Payload:
    """One card of a `contacts` message."""
    first, *rest = formatted_name.split(" ")
    return {
        "name": {"formatted_name": formatted_name, "first_name": first, "last_name": rest[-1]},
        "phones": [
            {"phone": phone, "wa_id": "".join(c for c in phone if c.isdigit()), "type": "CELL"}
        ],
        "emails": [{"email": "bjohnson@example.com", "type": "WORK"}],
    }


def contacts_message(*cards: Payload, **kw: Any) -> Payload:
    """A message sharing one or more contact cards."""
    return message("contacts", list(cards) or [contact_card()], **kw)


def button_reply_message(
    title: str = "Cancel", *, button_id: str = "cancel-button", **kw: Any
) -> Payload:
    """The reply to an interactive reply-button message."""
    content = {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}
    kw.setdefault("context", reply_context(new_wamid()))
    return message("interactive", content, **kw)


def list_reply_message(
    title: str = "Priority Mail Express",
    *,
    row_id: str = "priority_express",
    description: str = "Next Day to 2 Days",
    **kw: Any,
) -> Payload:
    """The reply to an interactive list message."""
    content = {
        "type": "list_reply",
        "list_reply": {"id": row_id, "title": title, "description": description},
    }
    kw.setdefault("context", reply_context(new_wamid()))
    return message("interactive", content, **kw)


def flow_reply_message(
    response: Payload | None = None, *, body: str = "Sent", **kw: Any
) -> Payload:
    """The answer to a WhatsApp Flow (`nfm_reply`)."""
    content = {
        "type": "nfm_reply",
        "nfm_reply": {
            "name": "flow",
            "body": body,
            "response_json": json.dumps(response or {"flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s"}),
        },
    }
    kw.setdefault("context", reply_context(new_wamid()))
    return message("interactive", content, **kw)


def button_message(
    text: str = "Unsubscribe", *, payload: str = "unsubscribe-promos", **kw: Any
) -> Payload:
    """A quick-reply button tapped in a template message."""
    kw.setdefault("context", reply_context(new_wamid()))
    return message("button", {"payload": payload, "text": text}, **kw)


def reaction_message(message_id: str, emoji: str | None = "\U0001f44d", **kw: Any) -> Payload:
    """A reaction to `message_id`; no emoji means the reaction was removed."""
    content: Payload = {"message_id": message_id}
    if emoji is not None:
        content["emoji"] = emoji
    return message("reaction", content, **kw)


def order_message(text: str = "Please deliver before noon", **kw: Any) -> Payload:
    """An order from a catalog."""
    content = {
        "catalog_id": "194836987003835",
        "text": text,
        "product_items": [
            {
                "product_retailer_id": "di9ozbzfi4",
                "quantity": 2,
                "item_price": 30,
                "currency": "USD",
            }
        ],
    }
    return message("order", content, **kw)


def system_message(
    new_number: str = "16505550000", *, old_number: str = CUSTOMER_NUMBER, **kw: Any
) -> Payload:
    """The notice that a customer changed number (system messages come without contacts)."""
    content = {
        "body": f"User {CUSTOMER_NAME} changed from {old_number} to {new_number}",
        "wa_id": old_number,
        "new_wa_id": new_number,
        "type": "user_changed_number",
    }
    kw.setdefault("from_", old_number)
    return message("system", content, **kw)


def ad_referral(headline: str = "Chat with us") -> Payload:
    """The `referral` of a message sent from a Click to WhatsApp ad."""
    return {
        "source_url": "https://fb.me/3cr4Wqqkv",
        "source_id": "120226305854810726",
        "source_type": "ad",
        "headline": headline,
        "body": "Ask us anything",
        "media_type": "image",
        "image_url": "https://scontent.xx.fbcdn.net/v/t45.1/example.jpg",
        "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0",
    }


def unsupported_message(**kw: Any) -> Payload:
    """A message of a type the Cloud API does not support; Meta reports an error."""
    errors = [
        {
            "code": 131051,
            "title": "Message type unknown",
            "message": "Message type unknown",
            "error_data": {"details": "Message type is currently not supported."},
        }
    ]
    return message("unsupported", None, errors=errors, **kw)


# Contacts, statuses, values, changes, entries ------------------------------------------------


def contact(
    wa_id: str | None = CUSTOMER_NUMBER,
    name: str | None = CUSTOMER_NAME,
    *,
    user_id: str | None = None,
    username: str | None = None,
) -> Payload:
    """A `contacts[]` entry: who sent the messages of a change."""
    profile: Payload = {}
    if name is not None:
        profile["name"] = name
    if username is not None:
        profile["username"] = username
    result: Payload = {"profile": profile}
    if wa_id is not None:
        result["wa_id"] = wa_id
    if user_id is not None:
        result["user_id"] = user_id
    return result


def status(
    wamid: str,
    status_: str = "delivered",
    *,
    timestamp: datetime | int | None = None,
    recipient_id: str | None = CUSTOMER_NUMBER,
    recipient_user_id: str | None = None,
    errors: list[Payload] | None = None,
    **extra: Any,
) -> Payload:
    """A `statuses[]` entry for an outbound message."""
    result: Payload = {"id": wamid, "status": status_, "timestamp": unix(timestamp)}
    if recipient_id is not None:
        result["recipient_id"] = recipient_id
    if recipient_user_id is not None:
        result["recipient_user_id"] = recipient_user_id
    if status_ != "failed":
        result["conversation"] = {
            "id": "f5fdae3920125a39a1e6a23e5f877c16",
            "origin": {"type": "service"},
        }
        result["pricing"] = {
            "billable": True,
            "pricing_model": "PMP",
            "category": "service",
            "type": "regular",
        }
    if errors is not None:
        result["errors"] = errors
    result.update(extra)
    return result


def failure(code: int = 131047, title: str = "Re-engagement message") -> Payload:
    """An entry of a failed status's `errors`."""
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": "Message failed to send because more than 24 hours have passed."},
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    }


def _derived_contacts(messages: Iterable[Payload]) -> list[Payload]:
    """One contact per distinct sender of the messages (system messages have none)."""
    contacts: dict[tuple[Any, Any], Payload] = {}
    for item in messages:
        if item.get("type") == "system":
            continue
        sender = (item.get("from"), item.get("from_user_id"))
        contacts.setdefault(sender, contact(sender[0], user_id=sender[1]))
    return list(contacts.values())


def messages_value(
    messages: Iterable[Payload] = (),
    statuses: Iterable[Payload] = (),
    *,
    contacts: list[Payload] | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
    display_phone_number: str = BUSINESS_NUMBER,
    **extra: Any,
) -> Payload:
    """The value of a `messages` change; contacts are derived from senders unless given."""
    messages = list(messages)
    statuses = list(statuses)
    result: Payload = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": display_phone_number,
            "phone_number_id": phone_number_id,
        },
    }
    if messages:
        result["contacts"] = _derived_contacts(messages) if contacts is None else contacts
        result["messages"] = messages
    if statuses:
        result["statuses"] = statuses
    result.update(extra)
    return result


def call_event(
    *,
    event: str = "connect",
    from_: str = CUSTOMER_NUMBER,
    timestamp: datetime | int | None = None,
    call_id: str | None = None,
) -> Payload:
    """A `calls[]` entry: a customer calls the business number."""
    return {
        "id": call_id or f"wacid.{uuid.uuid4().hex.upper()}",
        "to": BUSINESS_NUMBER,
        "from": from_,
        "event": event,
        "timestamp": unix(timestamp),
        "direction": "USER_INITIATED",
    }


def call_ended(
    call_id: str,
    *,
    from_: str = CUSTOMER_NUMBER,
    timestamp: datetime,
    answered_for: int | None = None,
) -> Payload:
    """The `terminate` event of a call: answered for `answered_for` seconds, or missed."""
    event = {**call_event(event="terminate", from_=from_, timestamp=timestamp, call_id=call_id)}
    if answered_for is None:
        return {**event, "status": "FAILED"}
    return {
        **event,
        "status": "COMPLETED",
        "start_time": unix(int(timestamp.timestamp()) - answered_for),
        "end_time": unix(timestamp),
        "duration": answered_for,
    }


def calls_value(*calls: Payload, phone_number_id: str = PHONE_NUMBER_ID) -> Payload:
    """The value of a `calls` change."""
    calls = calls or (call_event(),)
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": BUSINESS_NUMBER, "phone_number_id": phone_number_id},
        "contacts": [contact(str(calls[0].get("from")))],
        "calls": list(calls),
    }


def account_update_value(event: str = "VERIFIED_ACCOUNT") -> Payload:
    """The value of an `account_update` change."""
    return {"phone_number": BUSINESS_NUMBER, "event": event}


def template_status_value(event: str = "APPROVED") -> Payload:
    """The value of a `message_template_status_update` change."""
    return {
        "event": event,
        "message_template_id": 594425479261596,
        "message_template_name": "order_confirmation",
        "message_template_language": "en_US",
        "reason": "NONE",
    }


def change(value: Any, field: str = "messages") -> Payload:
    """A change of `field` carrying `value`."""
    return {"value": value, "field": field}


def entry(*changes: Payload, account_id: str = ACCOUNT_ID) -> Payload:
    """One WhatsApp Business Account's changes."""
    return {"id": account_id, "changes": list(changes)}


def webhook(*entries: Payload) -> Payload:
    """A whole webhook body."""
    return {"object": "whatsapp_business_account", "entry": list(entries)}


def inbound(*messages: Payload, **value_kw: Any) -> Payload:
    """A webhook with one `messages` change carrying `messages` (contacts derived)."""
    return webhook(entry(change(messages_value(messages, **value_kw))))


def status_update(*statuses: Payload, **value_kw: Any) -> Payload:
    """A webhook with one `messages` change carrying `statuses`."""
    return webhook(entry(change(messages_value(statuses=statuses, **value_kw))))


def encode(payload: Payload) -> bytes:
    """The body bytes of a payload, as Meta would send them."""
    return json.dumps(payload, ensure_ascii=False).encode()


async def deliver(client: httpx.AsyncClient, payload: Payload | bytes) -> httpx.Response:
    """POST a payload to the webhook, signed with the test app secret, as Meta does."""
    body = payload if isinstance(payload, bytes) else encode(payload)
    return await client.post(WEBHOOK_URL, content=body, headers=signed_headers(body))
