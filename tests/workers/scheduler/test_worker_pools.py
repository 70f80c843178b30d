"""`llmos worker` runs two pools: one for any work, one that serves only the interactive queue."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from engine.simulator import SimulatedEngine
from tests.conftest import make_settings
from workers.app import create_app


def test_llmos_worker_keeps_threads_for_interactive_work(
    pg_database: str, redis_url: str, simulator: SimulatedEngine, tmp_path: Path
) -> None:
    general = f"general-{uuid.uuid4().hex[:6]}@localhost"
    env = {
        **os.environ,
        "DATABASE_URL": pg_database,
        "REDIS_URL": redis_url,
        "ENGINE_URL": simulator.url,
        "LLMOS_HOME": str(tmp_path),
        "WORKER_CONCURRENCY": "3",
        "SCHED_INTERACTIVE_WORKERS": "2",
    }
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "bots.cli", "worker", "--hostname", general],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    interactive = f"interactive-{worker.pid}@localhost"
    app = create_app(make_settings(tmp_path), broker_url=redis_url)
    try:
        queues: dict[str, Any] = {}
        deadline = time.monotonic() + 60
        while not {general, interactive} <= set(queues) and time.monotonic() < deadline:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            queues = app.control.inspect(destination=[general, interactive], timeout=1.0).active_queues() or {}
        assert sorted(q["name"] for q in queues[general]) == ["llmos.batch", "llmos.default", "llmos.interactive"]
        assert [q["name"] for q in queues[interactive]] == ["llmos.interactive"]
        stats = app.control.inspect(destination=[general, interactive], timeout=2.0).stats() or {}
        assert stats[general]["pool"]["max-concurrency"] == 3
        assert stats[interactive]["pool"]["max-concurrency"] == 2
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
        app.close()
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()
