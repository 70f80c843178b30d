"""Regenerate: an answer asked again is kept, marked superseded, and left out of the history; the new
answer sits in the history right after its question (`follows_id`)

Revision ID: controls_0002
Revises: knowledge_0002
Create Date: 2026-11-30 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "controls_0002"
down_revision: str | None = "knowledge_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("superseded", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("follows_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("follows_id")
        batch.drop_column("superseded")
