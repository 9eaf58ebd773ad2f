"""SQL for templates: one row per Meta template id, found by name and language."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import MessageTemplate
from app.upsert import dialect_insert


class TemplateRepository:
    """Stores what Meta says of the account's templates, and finds them."""

    model = MessageTemplate

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or refresh templates by Meta's id, in one statement per row batch.

        A template deleted and created again under the same name and language gets a new
        id: the old row, which now blocks (name, language), is removed first.
        """
        if not rows:
            return
        ids = [row["template_id"] for row in rows]
        keys = [
            and_(MessageTemplate.name == r["name"], MessageTemplate.language == r["language"])
            for r in rows
        ]
        await self.session.execute(
            delete(MessageTemplate).where(or_(*keys), MessageTemplate.template_id.not_in(ids))
        )
        stmt = dialect_insert(self.session, MessageTemplate).values(list(rows))
        stmt = stmt.on_conflict_do_update(
            index_elements=[MessageTemplate.template_id],
            set_={
                name: stmt.excluded[name]
                for name in (
                    "name",
                    "language",
                    "category",
                    "status",
                    "quality_score",
                    "components",
                    "synced_at",
                    "updated_at",
                )
            },
        )
        await self.session.execute(stmt)

    async def set_fields(
        self, template_id: str, name: str | None, language: str | None, **values: Any
    ) -> int:
        """Update the template with this id, or with this name and language; return how
        many rows changed."""
        conditions = [MessageTemplate.template_id == template_id] if template_id else []
        if name and language:
            conditions.append(
                and_(MessageTemplate.name == name, MessageTemplate.language == language)
            )
        if not conditions or not values:
            return 0
        result = await self.session.execute(
            update(MessageTemplate).where(or_(*conditions)).values(**values)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def get(self, name: str, language: str) -> MessageTemplate | None:
        """The template with this name in this language, or None."""
        result = await self.session.execute(
            select(MessageTemplate).where(
                MessageTemplate.name == name, MessageTemplate.language == language
            )
        )
        return result.scalar_one_or_none()

    async def languages_of(self, name: str) -> list[str]:
        """The languages a template name exists in."""
        result = await self.session.execute(
            select(MessageTemplate.language)
            .where(MessageTemplate.name == name)
            .order_by(MessageTemplate.language)
        )
        return list(result.scalars())

    async def list_all(
        self,
        *,
        status: str | None = None,
        name: str | None = None,
        language: str | None = None,
    ) -> list[MessageTemplate]:
        """Templates matching the filters given, by name then language."""
        stmt = select(MessageTemplate)
        if status is not None:
            stmt = stmt.where(MessageTemplate.status == status)
        if name is not None:
            stmt = stmt.where(MessageTemplate.name == name)
        if language is not None:
            stmt = stmt.where(MessageTemplate.language == language)
        result = await self.session.execute(
            stmt.order_by(MessageTemplate.name, MessageTemplate.language)
        )
        return list(result.scalars())

    async def delete_except(self, template_ids: Sequence[str]) -> None:
        """Remove the templates Meta no longer lists (deleted in WhatsApp Manager)."""
        await self.session.execute(
            delete(MessageTemplate).where(MessageTemplate.template_id.not_in(list(template_ids)))
        )
