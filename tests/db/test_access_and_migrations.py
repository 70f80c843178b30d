from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect, text

from db import access, directory
from db.access import Effect, Subject
from db.migrate import current_head
from db.session import make_engine
from workers.stack import Stack

REPO = Path(__file__).resolve().parents[2]


def test_allow_lists_block_lists_and_roles(clean_stack: Stack) -> None:
    with clean_stack.sessions.begin() as session:
        tenant = directory.tenant(session, platform="discord", external_id="g1")
        session.flush()
        t = tenant.id

        def check(user: str, channel: str = "c1", roles: tuple[str, ...] = ()) -> bool:
            return access.check(session, tenant_id=t, user=user, channel=channel, roles=roles).allowed

        assert check("anyone")
        access.set_rule(session, tenant_id=t, subject_type=Subject.CHANNEL, subject="c1", effect=Effect.ALLOW)
        assert check("anyone") and not check("anyone", channel="c2")
        access.set_rule(session, tenant_id=t, subject_type=Subject.ROLE, subject="helpers", effect=Effect.ALLOW)
        assert not check("anyone") and check("anyone", roles=("helpers",))
        access.set_rule(session, tenant_id=t, subject_type=Subject.USER, subject="eve", effect=Effect.BLOCK)
        assert not check("eve", roles=("helpers",))
        assert access.remove_rule(session, tenant_id=t, subject_type=Subject.ROLE, subject="helpers")
        assert check("anyone") and not check("eve")
        other = directory.tenant(session, platform="discord", external_id="g2")
        session.flush()
        assert access.check(session, tenant_id=other.id, user="eve", channel="c9").allowed


def test_llmos_db_upgrade_builds_the_schema_on_both_databases(pg_database: str, tmp_path: Path) -> None:
    for url in (f"sqlite:///{tmp_path / 'fresh.db'}", pg_database):
        env = {**os.environ, "DATABASE_URL": url, "LLMOS_HOME": str(tmp_path)}
        result = subprocess.run(
            [sys.executable, "-m", "bots.cli", "db", "upgrade"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        tables = set(inspect(make_engine(url)).get_table_names())
        expected = {"tenants", "messages", "processed_events", "preferences", "usage", "notices", "alembic_version"}
        assert expected <= tables, url
        with make_engine(url).connect() as conn:
            assert conn.execute(text("select version_num from alembic_version")).scalar() == current_head()


def test_a_bad_setting_stops_the_command_with_its_name(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": "oracle://nope", "LLMOS_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "bots.cli", "db", "upgrade"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert "DATABASE_URL:" in result.stderr
