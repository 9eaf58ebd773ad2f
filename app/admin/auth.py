"""The admin login: one username and an argon2 password hash from the settings.

A signed session cookie (Starlette's SessionMiddleware, as sqladmin expects) remembers
the login. Password checks are admitted by a LoginGuard (app.admin.login_guard): bounded
in number and rate, with lockouts per account and per client address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqladmin.authentication import AuthenticationBackend
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.admin.login_guard import LoginGuard, Refused, login_keys
from app.admin.sessions import AdminSessionRepository
from app.runtime import Runtime

SESSION_COOKIE = "whatsapp_inbox_admin"
SESSION_MAX_AGE_SECONDS = 12 * 3600
# The key of the session token in the signed cookie.
SESSION_TOKEN = "sid"
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


class AdminAuth(AuthenticationBackend):
    """Checks the configured username and password; the session holds the login."""

    def __init__(self, runtime: Runtime, guard: LoginGuard | None = None) -> None:
        settings = runtime.settings
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
        self.runtime = runtime
        self.secret = secret
        self.username = settings.admin_username
        self.password_hash = password_hash
        self.guard = guard or LoginGuard(
            concurrency=settings.admin_login_concurrency,
            failure_budget=settings.admin_login_failure_budget,
        )
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
        username_ok = hmac.compare_digest(username.encode(), self.username.encode())

        def verify() -> bool:
            # The password is checked even for a wrong username, so timing tells nothing.
            return self._password_matches(password) and username_ok

        outcome = await self.guard.check(login_keys(username, client), verify)
        if isinstance(outcome, Refused):
            response: Response = await self.templates.TemplateResponse(
                request, LOGIN_TEMPLATE, {"error": outcome.reason}, status_code=429
            )
            response.headers["Retry-After"] = str(outcome.retry_after)
            return response
        if not outcome:
            return False
        token = secrets.token_urlsafe(32)
        now = self.runtime.clock()
        async with self.runtime.sessions.begin() as session:
            sessions = AdminSessionRepository(session)
            await sessions.delete_stale(now=now, password_fingerprint=self._fingerprint)
            await sessions.create(
                token,
                username=self.username,
                password_fingerprint=self._fingerprint,
                expires_at=now + timedelta(seconds=SESSION_MAX_AGE_SECONDS),
            )
        request.session.clear()
        request.session[SESSION_TOKEN] = token
        return True

    async def logout(self, request: Request) -> Response | bool:
        """End the session, server side too (a copy of the cookie opens nothing), and go
        back to the login page."""
        token = request.session.get(SESSION_TOKEN)
        if isinstance(token, str):
            async with self.runtime.sessions.begin() as session:
                await AdminSessionRepository(session).delete(token)
        request.session.clear()
        return RedirectResponse(request.url_for("admin:login"), status_code=302)

    async def authenticate(self, request: Request) -> Response | bool:
        """True for a live stored session, made by a login with the current username and
        password."""
        token = request.session.get(SESSION_TOKEN)
        if not isinstance(token, str):
            return False
        async with self.runtime.sessions() as session:
            stored = await AdminSessionRepository(session).get_live(token, now=self.runtime.clock())
        if stored is None:
            return False
        return hmac.compare_digest(
            stored.username.encode(), self.username.encode()
        ) and hmac.compare_digest(stored.password_fingerprint.encode(), self._fingerprint.encode())

    def csrf_token(self, request: Request) -> str:
        """The token every state-changing admin request must carry: tied to the session,
        so a page of another site can neither read nor guess it."""
        token = request.session.get(SESSION_TOKEN)
        if not isinstance(token, str):
            return ""
        return hmac.new(self.secret.encode(), f"csrf:{token}".encode(), hashlib.sha256).hexdigest()

    async def get_user_id(self, request: Request) -> Any:
        """The logged-in username (there is one admin login)."""
        return self.username
