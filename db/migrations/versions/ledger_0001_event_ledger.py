"""The event ledger: resolved ids and failure reason on processed_events; leases move out of SQL

Revision ID: ledger_0001
Revises: slack_0001
Create Date: 2026-11-30 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ledger_0001"
down_revision: str | None = "slack_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("processed_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conversation_id", Id, nullable=True))
        batch_op.add_column(sa.Column("user_id", Id, nullable=True))
        batch_op.add_column(sa.Column("channel_id", Id, nullable=True))
        batch_op.add_column(sa.Column("failure", sa.String(length=16), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_processed_events_conversation_id_conversations"),
            "conversations",
            ["conversation_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_processed_events_user_id_users"), "users", ["user_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_processed_events_channel_id_channels"), "channels", ["channel_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index("ix_processed_events_status_received", ["status", "received_at"], unique=False)
        batch_op.drop_column("lease_until")
    # Rows from before: an `answered` event had its answer stored; a failure's cause is unknown.
    op.execute("UPDATE processed_events SET status = 'done' WHERE status = 'answered'")
    op.execute("UPDATE processed_events SET failure = 'error' WHERE status = 'failed'")


def downgrade() -> None:
    with op.batch_alter_table("processed_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_until", sa.Float(), nullable=True))
        batch_op.drop_index("ix_processed_events_status_received")
        batch_op.drop_constraint(batch_op.f("fk_processed_events_channel_id_channels"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_processed_events_user_id_users"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_processed_events_conversation_id_conversations"), type_="foreignkey")
        batch_op.drop_column("failure")
        batch_op.drop_column("channel_id")
        batch_op.drop_column("user_id")
        batch_op.drop_column("conversation_id")
