"""Drop the messages' index on conversation_id alone

The index on (conversation_id, timestamp, id) answers every lookup by conversation (a
conversation's messages, those of a customer's conversations, messages without one, and
the foreign key's checks) as the single-column index did, which only cost every stored
message one more index entry to write.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "whatsapp_whatsappmessage"


def upgrade() -> None:
    op.drop_index("ix_whatsapp_whatsappmessage_conversation_id", table_name=TABLE)


def downgrade() -> None:
    op.create_index(
        "ix_whatsapp_whatsappmessage_conversation_id", TABLE, ["conversation_id"], unique=False
    )
