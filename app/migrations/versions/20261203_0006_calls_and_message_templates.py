"""Calls (one row per call id, counted on their conversation) and message templates

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "whatsapp_messagetemplate",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("template_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("quality_score", sa.String(length=32), nullable=True),
        sa.Column("components", app.db.SafeJSON(), nullable=False),
        sa.Column("synced_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_messagetemplate")),
        sa.UniqueConstraint(
            "name", "language", name=op.f("uq_whatsapp_messagetemplate_name_language")
        ),
        sa.UniqueConstraint("template_id", name=op.f("uq_whatsapp_messagetemplate_template_id")),
    )
    with op.batch_alter_table("whatsapp_messagetemplate", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_whatsapp_messagetemplate_status"), ["status"], unique=False
        )

    op.create_table(
        "whatsapp_call",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column(
            "conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("phone_number_id", sa.String(length=64), nullable=False),
        sa.Column("phone_number", sa.String(length=32), nullable=True),
        sa.Column("user_id", sa.String(length=128), nullable=True),
        sa.Column("direction", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("timestamp", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["whatsapp_whatsappconversation.id"],
            name=op.f("fk_whatsapp_call_conversation_id_whatsapp_whatsappconversation"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_call")),
        sa.UniqueConstraint("call_id", name=op.f("uq_whatsapp_call_call_id")),
    )
    with op.batch_alter_table("whatsapp_call", schema=None) as batch_op:
        batch_op.create_index(
            "ix_call_conversation_timestamp", ["conversation_id", "timestamp", "id"], unique=False
        )
        batch_op.create_index("ix_call_timestamp_id", ["timestamp", "id"], unique=False)

    with op.batch_alter_table("whatsapp_whatsappconversation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("call_count", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("whatsapp_whatsappconversation", schema=None) as batch_op:
        batch_op.drop_column("call_count")

    with op.batch_alter_table("whatsapp_call", schema=None) as batch_op:
        batch_op.drop_index("ix_call_timestamp_id")
        batch_op.drop_index("ix_call_conversation_timestamp")

    op.drop_table("whatsapp_call")
    with op.batch_alter_table("whatsapp_messagetemplate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_whatsapp_messagetemplate_status"))

    op.drop_table("whatsapp_messagetemplate")
