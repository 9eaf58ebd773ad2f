"""SQL for idempotency keys: claimed before Meta is called, completed with the answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import IdempotencyKey
from app.upsert import dialect_insert


class IdempotencyKeyRepository:
    """Keys live in one table; callers namespace them (`api:…`, `job:…`) so they never clash."""

    model = IdempotencyKey

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_by_key(self, key: str) -> IdempotencyKey | None:
        """The stored key, or None."""
        result = await self.session.execute(select(IdempotencyKey).where(IdempotencyKey.key == key))
        return result.scalar_one_or_none()

    async def claim(
        self,
        key: str,
        request_hash: str,
        *,
        status_code: int | None = None,
        response: Any | None = None,
    ) -> bool:
        """Insert the key unless it exists; True if this call inserted it.

        One INSERT … ON CONFLICT DO NOTHING: of two concurrent requests with the same key,
        exactly one claims it (on PostgreSQL the second waits for the first to commit).
        Without a status code the key is "in progress" until `record`.
        """
        stmt = (
            dialect_insert(self.session, IdempotencyKey)
            .values(key=key, request_hash=request_hash, status_code=status_code, response=response)
            .on_conflict_do_nothing(index_elements=[IdempotencyKey.key])
            .returning(IdempotencyKey.id)
        )
        result = await self.session.execute(stmt)
        return result.scalar_one_or_none() is not None

    async def release(self, key: str) -> None:
        """Delete a key still in progress, so that a retry with it starts afresh."""
        await self.session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.key == key, IdempotencyKey.status_code.is_(None)
            )
        )

    async def record(self, key: str, request_hash: str, *, status_code: int, response: Any) -> None:
        """Store the answer that a retry with this key gets (inserting the key if needed)."""
        stmt = dialect_insert(self.session, IdempotencyKey).values(
            key=key, request_hash=request_hash, status_code=status_code, response=response
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[IdempotencyKey.key],
                set_={"status_code": status_code, "response": stmt.excluded.response},
            )
        )
