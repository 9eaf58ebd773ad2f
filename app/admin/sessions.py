"""SQL for admin sessions: created at login, looked up on every admin request, deleted at
logout. Only a hash of each session's token is stored."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AdminSession


def token_hash(token: str) -> str:
    """What is stored of a session token: its SHA-256, so a leaked table opens nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


class AdminSessionRepository:
    """Admin sessions, found by the hash of the token in the browser's cookie."""

    model = AdminSession

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self, token: str, *, username: str, password_fingerprint: str, expires_at: datetime
    ) -> None:
        """Store a new session for `token`."""
        self.session.add(
            AdminSession(
                token_hash=token_hash(token),
                username=username,
                password_fingerprint=password_fingerprint,
                expires_at=expires_at,
            )
        )
        await self.session.flush()

    async def get_live(self, token: str, *, now: datetime) -> AdminSession | None:
        """The session of `token` if it exists and has not expired at `now`."""
        result = await self.session.execute(
            select(AdminSession).where(
                AdminSession.token_hash == token_hash(token), AdminSession.expires_at > now
            )
        )
        return result.scalar_one_or_none()

    async def delete(self, token: str) -> None:
        """End the session of `token` (nothing happens if there is none)."""
        await self.session.execute(
            delete(AdminSession).where(AdminSession.token_hash == token_hash(token))
        )

    async def delete_stale(self, *, now: datetime, password_fingerprint: str) -> None:
        """Delete sessions that expired or were made with another password."""
        await self.session.execute(
            delete(AdminSession).where(
                or_(
                    AdminSession.expires_at <= now,
                    AdminSession.password_fingerprint != password_fingerprint,
                )
            )
        )
