"""Drop the statuses' index on message_id alone

The unique index on (message_id, status) answers every lookup by message_id (a
message's statuses, those of a list of messages, the statuses waiting for their
message) as the single-column index did, which only cost every stored status one more
index entry to write.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "whatsapp_whatsappmessagestatus"


def upgrade() -> None:
    op.drop_index("ix_whatsapp_whatsappmessagestatus_message_id", table_name=TABLE)


def downgrade() -> None:
    op.create_index(
        "ix_whatsapp_whatsappmessagestatus_message_id", TABLE, ["message_id"], unique=False
    )
