"""Keep webhook bodies byte for byte, with what each delivery stored and rejected

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("whatsapp_webhookevent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("raw_body", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("stored_items", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("rejected_items", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("rejections", app.db.SafeJSON(), nullable=True))
    # Bodies logged before this revision were kept as parsed JSON: their text is the
    # closest to the original that is left.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE whatsapp_webhookevent SET raw_body = convert_to(body::text, 'UTF8')")
    else:
        op.execute("UPDATE whatsapp_webhookevent SET raw_body = CAST(body AS BLOB)")
    with op.batch_alter_table("whatsapp_webhookevent", schema=None) as batch_op:
        batch_op.alter_column("raw_body", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.alter_column("stored_items", server_default=None)
        batch_op.alter_column("rejected_items", server_default=None)
        batch_op.drop_column("body")


def downgrade() -> None:
    with op.batch_alter_table("whatsapp_webhookevent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body", app.db.SafeJSON(), nullable=True))
    # A body that is not JSON has no JSON form; it is kept as a JSON string.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE whatsapp_webhookevent SET body = CASE "
            "WHEN rejected_items = 0 THEN convert_from(raw_body, 'UTF8')::json "
            "ELSE to_json(encode(raw_body, 'escape')) END"
        )
    else:
        op.execute(
            "UPDATE whatsapp_webhookevent SET body = CASE "
            "WHEN json_valid(CAST(raw_body AS TEXT)) THEN CAST(raw_body AS TEXT) "
            "ELSE json_quote(CAST(raw_body AS TEXT)) END"
        )
    with op.batch_alter_table("whatsapp_webhookevent", schema=None) as batch_op:
        batch_op.alter_column("body", existing_type=app.db.SafeJSON(), nullable=False)
        batch_op.drop_column("rejections")
        batch_op.drop_column("rejected_items")
        batch_op.drop_column("stored_items")
        batch_op.drop_column("raw_body")
