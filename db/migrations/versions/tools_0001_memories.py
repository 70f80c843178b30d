"""Memories: what people ask the assistant to remember, per person (or per channel) within a tenant

Revision ID: tools_0001
Revises: admin_0002
Create Date: 2026-11-30 10:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tools_0001"
down_revision: str | None = "admin_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "memories",
        sa.Column("id", Id, nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("user_id", Id, nullable=True),
        sa.Column("channel_id", Id, nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_memories_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_memories_user_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_memories_channel_id_channels"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memories")),
    )
    op.create_index("ix_memories_tenant_user", "memories", ["tenant_id", "user_id", "id"], unique=False)
    op.create_index(op.f("ix_memories_channel_id"), "memories", ["channel_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_memories_channel_id"), table_name="memories")
    op.drop_index("ix_memories_tenant_user", table_name="memories")
    op.drop_table("memories")
