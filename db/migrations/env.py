"""Alembic environment: runs against the connection or URL that `db.migrate` hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import db.admin  # noqa: F401 - registers the admin service's tables on Base
from db.models import Base
from db.session import make_engine

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(config.attributes["url"])
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
