"""Errors of the templates domain, mapped to HTTP by app.errors."""

from __future__ import annotations

from app.errors import DomainError


class TemplateNotSendable(DomainError):
    """A template send that Meta would refuse: unknown template, not approved, another
    language, or parameters that do not fit. The detail says what is expected."""

    status_code = 422
    error = "template_not_sendable"


class TemplatesNotConfigured(DomainError):
    """Templates cannot be synced without WHATSAPP_BUSINESS_ACCOUNT_ID."""

    status_code = 409
    error = "templates_not_configured"
