"""Errors of the customers domain, mapped to HTTP by app.errors."""

from __future__ import annotations

from app.errors import DomainError


class InvalidCustomerNumber(DomainError):
    """The number given is not a phone number."""

    status_code = 422
    error = "validation_error"
