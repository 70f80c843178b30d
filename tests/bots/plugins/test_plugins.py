"""Plugins end to end: the example skill answered on the terminal, Slack and Discord, and in an admin
job; the example surface receiving and answering a message; broken plugins skipped, never fatal."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bots import surfaces
from tests.bots.admin.conftest import Admin, signed_post, wait_job
from tests.bots.admin.receiver import Receiver
from tests.bots.conftest import slack_settings
from tests.bots.discord.conftest import start_bot
from tests.bots.discord.helpers import replies, wait_done
from tests.bots.plugins.conftest import child_env
from tests.bots.slack.conftest import run_surface
from tests.bots.slack.test_conversations import CHANNEL, mention
from tests.fixtures.discord_fake import FakeDiscord
from tests.fixtures.fake_slack import FakeSlack
from tests.fixtures.slack_wire import SlackHttp
from tests.helpers import settle
from workers.skills import Skill
from workers.stack import Stack

HAIKU_PROMPT = "Write a haiku about autumn rain. Reply with the three lines only."
POEM = "Grey drops on the roof / the gutter sings all evening / tea cools by the glass"


def _asked_haiku(simulator) -> bool:
    body = simulator.requests[-1].body
    return body["messages"][-1]["content"] == HAIKU_PROMPT and "only in haiku" in body["messages"][0]["content"]


def llmos(*args: str, env: dict[str, str], cwd: Path | None = None) -> str:
    """Run `llmos …` as a person does, in a child process that sees the installed plugins; its output."""
    command = [sys.executable, "-m", "bots.cli", *args]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_llmos_plugins_lists_what_is_installed_with_its_package(installed: Path) -> None:
    lines = llmos("plugins", env=child_env(installed)).splitlines()
    assert any(line.split()[:4] == ["skill", "haiku", "llmos-haiku", "0.1.0"] and "ok" in line for line in lines)
    assert any("linechat" in line and "llmos-linechat 0.1.0" in line and "not configured" in line for line in lines)


def test_a_plugin_skill_is_answered_on_the_terminal(installed: Path, tmp_path: Path, simulator) -> None:
    simulator.config.answer = lambda _m: POEM
    database = f"sqlite:///{tmp_path / 'llmos.db'}"
    env = child_env(installed, DATABASE_URL=database, REDIS_AUTODETECT="false", ENGINE_URL=simulator.url)
    assert llmos("chat", "/haiku autumn rain", env=env, cwd=tmp_path).strip() == POEM
    assert _asked_haiku(simulator)
    assert "• /haiku <topic> — a haiku about a topic" in llmos("chat", "/help", env=env, cwd=tmp_path)


def test_a_plugin_skill_is_answered_in_slack(haiku: Skill, clean_stack: Stack, fake: FakeSlack, simulator) -> None:
    simulator.config.answer = lambda _m: POEM
    surface = run_surface(clean_stack, slack_settings(fake))
    assert surface.http is not None
    http = SlackHttp(surface.http.url)
    try:
        from tests.bots.slack.conftest import Running

        run = Running(surface, http, fake, clean_stack)
        ts = mention(run, "/haiku autumn rain")["ts"]
        assert fake.answer(CHANNEL, ts).markdown == POEM
        assert _asked_haiku(simulator)
        settle(clean_stack)
    finally:
        http.close()
        surface.stop()


def test_a_plugin_skill_is_answered_in_discord(
    haiku: Skill, clean_stack: Stack, fake_discord: FakeDiscord, discord_settings, simulator
) -> None:
    from tests.bots.discord.commands import slash

    simulator.config.answer = lambda _m: POEM
    bot = start_bot(clean_stack, discord_settings)
    try:
        fake = fake_discord
        asked = fake.post(fake.world.general, "/haiku autumn rain", mention=True)
        wait_done(clean_stack, asked["id"])
        assert [p["content"] for p in replies(fake, asked)] == [POEM]
        assert _asked_haiku(simulator)
        found = fake.command(slash("ask", question="autumn rain", skill="haiku"), channel=fake.world.general)
        wait_done(clean_stack, found.id)
        assert found.original is not None
        assert fake.run(lambda: fake.world.messages[found.original]["content"]) == POEM
        assert _asked_haiku(simulator)
        unknown = fake.command(slash("ask", question="x", skill="sonnet"), channel=fake.world.general)
        fake.wait_for(lambda: unknown.original is not None and fake.world.messages[unknown.original]["content"])
        assert "no skill 'sonnet'" in fake.run(lambda: fake.world.messages[unknown.original]["content"])
    finally:
        bot.stop()


@pytest.fixture
def linechat(installed: Path, clean_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[surfaces.Surface]:
    monkeypatch.setenv("LINECHAT_PORT", "0")
    built = surfaces.named(surfaces.from_environment(), "linechat")  # what `llmos run` does
    assert built is not None and built.listens
    clean_stack.add_surface(built)
    built.start(clean_stack)
    yield built
    built.stop()


def test_a_plugin_surface_receives_and_answers_a_message(linechat, clean_stack: Stack, simulator) -> None:
    simulator.config.answer = lambda messages: "Paris.\nIt is on the Seine."
    port = int(linechat.describe().rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        stream = conn.makefile("rwb")
        stream.write(b"What is the capital of France?\n")
        stream.flush()
        assert stream.readline() == b"Paris. It is on the Seine.\n"
        stream.write(b"/nonsense\n")
        stream.flush()
        assert stream.readline().startswith(b"unknown command /nonsense.")
    settle(clean_stack)
    assert simulator.requests[0].body["messages"][-1]["content"] == "What is the capital of France?"


def test_broken_plugins_are_reported_and_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A package whose entry points do not import, or name the wrong thing, never stops LLMOS."""
    from workers import plugins

    (tmp_path / "broken_plugin.py").write_text("not_a_skill = 42\nbad_name = {'name': 'x', 'description': 'd'}\n")
    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[llmos.skills]\nmissing = no_such_module:thing\nnumber = broken_plugin:not_a_skill\n"
        "partial = broken_plugin:bad_name\n\n[llmos.surfaces]\nbroken = no_such_module:factory\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    good, report = plugins.skills()
    problems = {found.name: found.problem for found in report if found.package == "broken-plugin 1.0"}
    assert problems["missing"].startswith("does not load: ModuleNotFoundError")
    assert problems["number"] == "is a int, not a Skill or a mapping"
    assert problems["partial"] == "lacks prompt (text)"
    assert not [s for s in good if s.name in problems]
    assert "broken" not in [s.name for s in surfaces.from_environment()]
    lines = surfaces.report()
    assert any(line.startswith("surface  broken") and "does not load" in line for line in lines)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"name": "echo", "description": "d", "prompt": "no placeholder"}, "its prompt must contain {input}"),
        ({"name": "ask", "description": "d", "prompt": "{input}"}, "'ask' is a built-in skill or command"),
        ({"name": "echo", "description": "d", "prompt": "{input}", "colour": "red"}, "has unknown keys ['colour']"),
        ({"name": "other", "description": "d", "prompt": "{input}"}, "is registered as 'echo'"),
        ({"name": "echo", "description": "d", "prompt": "{input}", "max_tokens": 0}, "max_tokens must be"),
    ],
)
def test_a_malformed_skill_mapping_is_refused_with_the_reason(value: dict[str, object], problem: str) -> None:
    from workers.plugins import PluginError, skill_from

    with pytest.raises(PluginError, match="^" + re.escape(problem)):
        skill_from("echo", value)


def test_an_admin_job_runs_a_plugin_skill(haiku: Skill, admin: Admin, simulator) -> None:
    simulator.config.answer = lambda _m: POEM
    tenant_id = admin.tenant("admin", "acme")
    hook_id, secret = admin.hook(tenant_id)
    with Receiver() as receiver:
        job = {
            "id": "h1",
            "skill": "haiku",
            "input": "autumn rain",
            "destination": {"type": "callback", "url": receiver.url},
        }
        unknown = signed_post(admin, hook_id, secret, {**job, "skill": "sonnet"})
        assert unknown.status_code == 422 and "unknown skill" in unknown.text and "haiku" in unknown.text
        assert signed_post(admin, hook_id, secret, job).status_code == 202
        done = wait_job(admin, tenant_id, "h1", until={"completed", "failed"})
        assert done["status"] == "completed" and done["result"] == POEM
        assert _asked_haiku(simulator)
        [call] = receiver.wait_for(1)
        assert json.loads(call.body)["job"]["skill"] == "haiku"
