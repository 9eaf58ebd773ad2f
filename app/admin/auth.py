"""The admin login: one username and an argon2 password hash from the settings.

A signed session cookie (Starlette's SessionMiddleware, as sqladmin expects) remembers
the login. Failed attempts lock the (username, client address) pair out for a delay that
doubles with each failure in a row, up to a bound.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqladmin.authentication import AuthenticationBackend
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.config import Settings

SESSION_COOKIE = "whatsapp_inbox_admin"
SESSION_MAX_AGE_SECONDS = 12 * 3600
LOGIN_TEMPLATE = "sqladmin/login.html"


class AdminConfigError(ValueError):
    """The admin login is configured with values it cannot use."""


def check_password_hash(password_hash: str) -> None:
    """Refuse a hash that argon2 cannot read, naming the command that makes a good one.

    The usual cause is quoting: in a shell, double quotes or none make every `$…` of the
    hash a variable, so the message (one line) says to single-quote it.
    """
    from argon2 import extract_parameters

    try:
        extract_parameters(password_hash)
    except InvalidHashError as exc:
        raise AdminConfigError(
            "ADMIN_PASSWORD_HASH is not an argon2 hash: make one with "
            "`whatsapp-inbox hash-password` and put it in single quotes "
            "(ADMIN_PASSWORD_HASH='$argon2id$v=19$…'), or the shell replaces each $… with "
            "a variable"
        ) from exc


@dataclass
class _Failures:
    count: int
    locked_until: float


class LoginThrottle:
    """Failed logins per key: after the n-th failure in a row the key must wait
    `base * 2**(n-1)` seconds (at most `maximum`) before it may try again.

    In memory and per process: enough to make guessing slow; at most `capacity`
    keys are remembered, the least recently failed forgotten first.
    """

    def __init__(
        self,
        base: float = 1.0,
        maximum: float = 60.0,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = base
        self.maximum = maximum
        self.capacity = capacity
        self.clock = clock
        self._failures: OrderedDict[tuple[str, str], _Failures] = OrderedDict()

    def wait_seconds(self, key: tuple[str, str]) -> float:
        """How long `key` must still wait before its next attempt (0 when it may try)."""
        failures = self._failures.get(key)
        if failures is None:
            return 0.0
        return max(0.0, failures.locked_until - self.clock())

    def failed(self, key: tuple[str, str]) -> float:
        """Record a failure of `key`; return the delay it now has to wait."""
        failures = self._failures.pop(key, None) or _Failures(count=0, locked_until=0.0)
        failures.count += 1
        growth: float = 2.0 ** min(failures.count - 1, 32)
        delay = min(self.base * growth, self.maximum)
        failures.locked_until = self.clock() + delay
        self._failures[key] = failures
        while len(self._failures) > self.capacity:
            self._failures.popitem(last=False)
        return delay

    def succeeded(self, key: tuple[str, str]) -> None:
        """Forget the failures of `key` after a good login."""
        self._failures.pop(key, None)


class AdminAuth(AuthenticationBackend):
    """Checks the configured username and password; the session holds the login."""

    def __init__(self, settings: Settings, throttle: LoginThrottle | None = None) -> None:
        password_hash = settings.admin_password_hash.get_secret_value()
        check_password_hash(password_hash)
        secret = settings.session_secret.get_secret_value()
        if not secret:
            raise AdminConfigError("SESSION_SECRET is needed to sign admin session cookies")
        super().__init__(
            secret_key=secret,
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_MAX_AGE_SECONDS,
            path="/admin",
            # Strict: the browser never sends the login with a request started by another
            # site, so no other page can make a logged-in browser mark messages read,
            # retry jobs or send replies.
            same_site="strict",
            https_only=settings.is_production,
        )
        self.username = settings.admin_username
        self.password_hash = password_hash
        self.throttle = throttle or LoginThrottle()
        self.hasher = PasswordHasher()
        # Set by mount_admin once the admin (and its templates) exists.
        self.templates: Any = None
        # Sessions carry a fingerprint of the password hash: changing the password
        # ends every session made with the old one.
        self._fingerprint = hmac.new(
            secret.encode(), password_hash.encode(), hashlib.sha256
        ).hexdigest()

    def _password_matches(self, password: str) -> bool:
        try:
            return bool(self.hasher.verify(self.password_hash, password))
        except VerificationError:
            return False

    async def login(self, request: Request) -> Response | bool:
        """Check the form's credentials; refuse at once while the sender must wait."""
        form = await request.form()
        username = str(form.get("username", ""))
        password = str(form.get("password", ""))
        client = request.client.host if request.client else ""
        key = (username.casefold(), client)
        wait = self.throttle.wait_seconds(key)
        if wait > 0:
            seconds = math.ceil(wait)
            response: Response = await self.templates.TemplateResponse(
                request,
                LOGIN_TEMPLATE,
                {"error": f"Too many failed logins. Try again in {seconds} s."},
                status_code=429,
            )
            response.headers["Retry-After"] = str(seconds)
            return response
        # The password is checked even for a wrong username, so timing tells nothing.
        password_ok = await anyio.to_thread.run_sync(self._password_matches, password)
        username_ok = hmac.compare_digest(username.encode(), self.username.encode())
        if not (password_ok and username_ok):
            self.throttle.failed(key)
            return False
        self.throttle.succeeded(key)
        request.session.clear()
        request.session.update({"admin": self.username, "key": self._fingerprint})
        return True

    async def logout(self, request: Request) -> Response | bool:
        """End the session and go back to the login page."""
        request.session.clear()
        return RedirectResponse(request.url_for("admin:login"), status_code=302)

    async def authenticate(self, request: Request) -> Response | bool:
        """True for a session made by a login with the current username and password."""
        admin = request.session.get("admin")
        key = request.session.get("key")
        if not isinstance(admin, str) or not isinstance(key, str):
            return False
        return hmac.compare_digest(admin.encode(), self.username.encode()) and hmac.compare_digest(
            key.encode(), self._fingerprint.encode()
        )

    async def get_user_id(self, request: Request) -> Any:
        """The logged-in username (there is one admin login)."""
        return request.session.get("admin")
