"""The example plugins, installed the way a user installs them: built by pip into a folder of their own
(not the shared virtual environment), which then goes on the path of this process and its children."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bots.admin.conftest import admin  # noqa: F401 - the admin service fixture, for the job test
from workers import plugins
from workers.skills import Skill
from workers.stack import Stack

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    target = tmp_path_factory.mktemp("plugins")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    command += ["--target", str(target), str(EXAMPLES / "skill_plugin"), str(EXAMPLES / "surface_plugin")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    yield target
    sys.path.remove(str(target))
    for name in [m for m in sys.modules if m.startswith(("llmos_haiku", "llmos_linechat"))]:
        del sys.modules[name]


def child_env(installed: Path, **extra: str) -> dict[str, str]:
    """The environment of an `llmos` child process that sees the installed plugins."""
    path = os.pathsep.join(p for p in (str(installed), os.environ.get("PYTHONPATH", "")) if p)
    own = ("ADMIN_", "DATABASE_", "REDIS_", "ENGINE_", "SLACK_", "DISCORD_", "LINECHAT_")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    return {**inherited, "PYTHONPATH": path, **extra}


@pytest.fixture
def haiku(installed: Path, clean_stack: Stack) -> Iterator[Skill]:
    """The plugin skill in the in-process stack, as an entry point puts it there."""
    found, _report = plugins.skills()
    skill = next(s for s in found if s.name == "haiku")
    clean_stack.skills.add(skill)
    yield skill
    clean_stack.skills.remove("haiku")
