"""Index messages by (from_number, timestamp), replacing the from_number index

The seed's analytics query (messages and latest message per from_number) is then
answered by an index-only scan instead of reading every message row; lookups by number
use the new index as they used the old one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "whatsapp_whatsappmessage"


def upgrade() -> None:
    op.create_index(
        "ix_message_from_number_timestamp", TABLE, ["from_number", "timestamp"], unique=False
    )
    op.drop_index("ix_whatsapp_whatsappmessage_from_number", table_name=TABLE)


def downgrade() -> None:
    op.create_index("ix_whatsapp_whatsappmessage_from_number", TABLE, ["from_number"], unique=False)
    op.drop_index("ix_message_from_number_timestamp", table_name=TABLE)
