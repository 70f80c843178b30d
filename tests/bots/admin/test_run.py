"""`llmos run` and `llmos admin` as a person starts them: the web chat URL is in the summary and answers."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from bots import surfaces
from bots.admin.service import AdminService
from workers.settings import SettingsError
from workers.stack import Stack


def start(args: list[str], tmp_path: Path, simulator, **env: str) -> tuple[subprocess.Popen[str], str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ADMIN_", "DATABASE_", "REDIS_", "ENGINE_"))},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'llmos.db'}",
        "REDIS_AUTODETECT": "false",
        "ENGINE_URL": simulator.url,
        "ADMIN_PORT": "0",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bots.cli", *args],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or ()], daemon=True).start()
    shown, deadline = "", time.monotonic() + 60
    while time.monotonic() < deadline and "web chat http" not in shown and process.poll() is None:
        try:
            shown += lines.get(timeout=0.5)
        except queue.Empty:
            continue
    return process, shown


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=30)


@pytest.mark.parametrize("command", [["run"], ["admin"]])
def test_the_summary_names_the_web_chat_and_it_answers(command: list[str], tmp_path: Path, simulator) -> None:
    process, shown = start(command, tmp_path, simulator)
    try:
        url = re.search(r"web chat (http://127\.0\.0\.1:\d+)/chat", shown)
        assert url, shown
        with httpx.Client(base_url=url.group(1), timeout=15, follow_redirects=True) as browser:
            assert "Ask LLMOS anything" in browser.get("/").text
            sent = browser.post("/chat/messages", json={"text": "ping over http", "thread": "t1"})
            assert sent.status_code == 202, sent.text
            with browser.stream("GET", sent.json()["stream"]) as stream:
                body = "".join(stream.iter_text())
            assert "event: done" in body and "You said: ping over http" in body
            assert browser.get("/readyz").json()["ready"] is True
    finally:
        code = stop(process)
    assert code == 0


def test_a_busy_port_is_reported_by_name(clean_stack: Stack) -> None:
    from tests.bots.admin.conftest import admin_settings

    first = AdminService.for_stack(clean_stack, admin_settings())
    first.start()
    try:
        second = AdminService.for_stack(clean_stack, admin_settings(port=first.port))
        with pytest.raises(SettingsError, match=r"ADMIN_PORT: cannot listen on 127\.0\.0\.1:\d+"):
            second.start()
    finally:
        first.stop()


def test_llmos_run_always_starts_the_admin_surface(clean_stack: Stack, monkeypatch) -> None:
    monkeypatch.setenv("ADMIN_PORT", "0")
    built = surfaces.from_environment()
    assert [s.name for s in built] == ["admin"]
    started = surfaces.start_all(clean_stack, built)
    try:
        assert started == built and "/chat" in started[0].describe()
    finally:
        started[0].stop()
