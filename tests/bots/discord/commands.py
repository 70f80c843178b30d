"""Interaction payload `data` as Discord sends it for slash, subcommand and message commands."""

from __future__ import annotations

from typing import Any

STRING, INTEGER, USER, CHANNEL, ROLE = 3, 4, 6, 7, 8


def _option(name: str, value: Any, kind: int | None = None) -> dict[str, Any]:
    return {"name": name, "type": kind or (INTEGER if isinstance(value, int) else STRING), "value": value}


def slash(name: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": 1, "options": [_option(k, v) for k, v in options.items()]}


def admin(*path: str, resolved: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    """`/admin <group> <sub> opts`; snowflake options are typed by name (user, role, channel)."""
    kinds = {"user": USER, "role": ROLE, "channel": CHANNEL}
    leaf: list[dict[str, Any]] = [_option(k, v, kinds.get(k)) for k, v in options.items()]
    for depth, name in reversed(list(enumerate(path))):
        leaf = [{"name": name, "type": 1 if depth == len(path) - 1 else 2, "options": leaf}]
    return {"name": "admin", "type": 1, "options": leaf, "resolved": resolved or {}}


def on_message(name: str, target: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "type": 3, "target_id": target["id"], "resolved": {"messages": {target["id"]: target}}}
