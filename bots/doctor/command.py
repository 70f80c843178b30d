"""The checks `llmos doctor` runs, in order, from the settings read at the entry point."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO, TypeVar

from bots.admin.settings import load_admin_settings
from bots.discord.settings import load_discord_settings
from bots.doctor import Check, core, platforms, run
from bots.slack.settings import load_slack_settings
from workers.scheduler.settings import load_scheduler_settings
from workers.settings import Settings, SettingsError

T = TypeVar("T")


def main(settings: Settings, out: TextIO = sys.stdout) -> int:
    checks: list[tuple[str, Check]] = [
        ("configuration", lambda: core.configuration(LOADERS)),
        ("database", lambda: core.database(settings)),
        ("broker", lambda: core.broker(settings)),
        ("engine", lambda: core.engine(settings)),
        ("embeddings", lambda: core.embeddings(settings)),
    ]
    slack = _quietly(load_slack_settings)
    if slack is not None:
        checks.append(("slack", lambda: platforms.slack(slack)))
    discord = _quietly(load_discord_settings)
    if discord is not None:
        checks.append(("discord", lambda: platforms.discord(discord)))
    return run(checks, out)


LOADERS = {
    "scheduler": load_scheduler_settings,
    "admin": load_admin_settings,
    "slack": load_slack_settings,
    "discord": load_discord_settings,
}


def _quietly(load: Callable[[], T]) -> T | None:
    """The settings, or None when they are invalid (the configuration check reports why)."""
    try:
        return load()
    except SettingsError:
        return None
