"""Hook and webhook secrets sealed at rest: wider columns, and existing secrets encrypted

Revision ID: admin_0002
Revises: ledger_0001
Create Date: 2026-11-30 09:40:00

A sealed secret (`fernet:` + a Fernet token) is longer than the 128 characters a plain one needed.
Rows are sealed here when ADMIN_SECRET_KEY is set in the environment of `llmos db upgrade`;
otherwise the admin service seals whatever is still plain when it starts (with its key file).
"""

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "admin_0002"
down_revision: str | None = "ledger_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("admin_hooks", "admin_webhooks")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("secret", existing_type=sa.String(length=128), type_=sa.Text(), existing_nullable=False)
    keys = os.environ.get("ADMIN_SECRET_KEY", "").strip()
    if keys:
        _seal_rows(keys)


def _seal_rows(keys: str) -> None:
    from bots.admin.sealing import SecretBox

    box = SecretBox(keys.split(","))
    bind = op.get_bind()
    for table in TABLES:
        rows = bind.execute(sa.text(f"SELECT id, secret FROM {table}")).all()  # noqa: S608 - fixed table names
        for row_id, secret in rows:
            sealed = box.reseal(secret)
            if sealed != secret:
                bind.execute(sa.text(f"UPDATE {table} SET secret = :s WHERE id = :i"), {"s": sealed, "i": row_id})  # noqa: S608


def downgrade() -> None:
    # Sealed secrets do not fit the old width; open them with the key before downgrading.
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("secret", existing_type=sa.Text(), type_=sa.String(length=128), existing_nullable=False)
