"""Knowledge vectors: one embedding per passage, for hybrid retrieval when EMBEDDING_URL is set

A plain table on both databases (float32 bytes, unit length), scanned within the asking channel's and
tenant's passages; deleted with its passage (foreign key ON DELETE CASCADE, and explicitly by `forget`).

Revision ID: knowledge_0002
Revises: controls_0001
Create Date: 2026-11-30 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "knowledge_0002"
down_revision: str | None = "controls_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "knowledge_vectors",
        sa.Column("chunk_id", Id, autoincrement=False, nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("channel_id", Id, nullable=True),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("dims", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chunk_id"],
            ["knowledge_chunks.id"],
            name=op.f("fk_knowledge_vectors_chunk_id_knowledge_chunks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_knowledge_vectors_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_knowledge_vectors_channel_id_channels"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("chunk_id", name=op.f("pk_knowledge_vectors")),
    )
    op.create_index("ix_knowledge_vectors_tenant_channel", "knowledge_vectors", ["tenant_id", "channel_id"])


def downgrade() -> None:
    op.drop_index("ix_knowledge_vectors_tenant_channel", table_name="knowledge_vectors")
    op.drop_table("knowledge_vectors")
