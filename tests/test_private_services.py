"""The private PostgreSQL and Redis the test session starts on a machine without them (and fault tests reuse)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from tests.fixtures.services import PrivatePostgres, PrivateRedis, ServiceUnavailable, listening, postgres_bin


@pytest.fixture
def pg_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="llmos-test-pg-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.skipif(postgres_bin() is None, reason="PostgreSQL's binaries are not installed")
def test_a_private_cluster_survives_a_crash_and_a_restart_on_the_same_port(pg_root: Path) -> None:
    server = PrivatePostgres(pg_root)
    with server:
        with psycopg.connect(server.admin_url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (n int)")
            conn.execute("INSERT INTO kept VALUES (7)")
            conn.execute("CHECKPOINT")
        port = server.port
        server.kill()
        assert not server.running and not listening(port)
        server.start()
        assert server.port == port
        with psycopg.connect(server.admin_url) as conn:
            assert conn.execute("SELECT n FROM kept").fetchone() == (7,)
        server.restart()
        with psycopg.connect(server.admin_url) as conn:
            assert conn.execute("SELECT count(*) FROM kept").fetchone() == (1,)
    assert not listening(port)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_a_private_redis_keeps_its_data_over_a_restart_with_aof(tmp_path: Path) -> None:
    with PrivateRedis(tmp_path, appendonly=True) as server:
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        server.restart()
        assert client.get("k") == b"v"
        server.kill()
        with pytest.raises(redis.ConnectionError):
            client.ping()
        server.start()
        assert client.get("k") == b"v"  # appended before the crash, replayed at start
        client.close()


def test_a_missing_binary_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ServiceUnavailable, match=r"^redis-server is not installed$"):
        PrivateRedis(tmp_path)


REPO = Path(__file__).resolve().parents[1]
PROBE = "tests/db/test_access_and_migrations.py::test_llmos_db_upgrade_builds_the_schema_on_both_databases"


def _session(*args: str, ci: bool = False) -> subprocess.CompletedProcess[str]:
    """A test session on a machine that looks fresh: no LLMOS_TEST_* and nothing on 5432/6379."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMOS_TEST_", "CI"))}
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.fixtures.fresh_machine",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            *args,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.mark.skipif(postgres_bin() is None, reason="PostgreSQL's binaries are not installed")
def test_a_fresh_machine_runs_the_postgresql_tests_on_a_private_cluster() -> None:
    done = _session(PROBE, "tests/workers/scheduler/test_worker_pools.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed" in done.stdout and "skipped" not in done.stdout


def test_without_the_binaries_those_tests_are_skipped_with_one_reason_or_fail_in_ci() -> None:
    skipped = _session(PROBE, "--no-service-binaries")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert "no PostgreSQL on 127.0.0.1:5432 and none could be started" in skipped.stdout
    failed = _session(PROBE, "--no-service-binaries", ci=True)
    assert failed.returncode == 1
    assert "CI=true and no PostgreSQL on 127.0.0.1:5432" in failed.stdout
