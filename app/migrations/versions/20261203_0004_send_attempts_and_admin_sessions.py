"""Record when a job's send to Meta began, and keep admin sessions server side

A send job commits `call_started_at` before it calls Meta, so a run that finds it set
(its predecessor died before recording Meta's answer) does not send again but stops in
the state `uncertain` for a person to decide. Admin sessions are rows, so that logging
out or changing the password ends them for good.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("whatsapp_job") as batch:
        batch.add_column(
            sa.Column("call_started_at", app.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "whatsapp_adminsession",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("password_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_adminsession")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_whatsapp_adminsession_token_hash")),
    )
    op.create_index(
        op.f("ix_whatsapp_adminsession_expires_at"), "whatsapp_adminsession", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_whatsapp_adminsession_expires_at"), table_name="whatsapp_adminsession")
    op.drop_table("whatsapp_adminsession")
    with op.batch_alter_table("whatsapp_job") as batch:
        batch.drop_column("call_started_at")
