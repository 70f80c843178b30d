"""The application commands, as the payload Discord registers: data, like the skills they run.

Slash commands for every skill and command LLMOS has, two message context-menu commands, and
`/admin`, which Discord shows only to members with Manage Server (and the bot checks again).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workers.commands import PREF_KEYS

STRING, INTEGER, SUB_COMMAND, SUB_COMMAND_GROUP = 3, 4, 1, 2
USER, CHANNEL, ROLE = 6, 7, 8
CHAT_INPUT, MESSAGE = 1, 3
MANAGE_GUILD = 1 << 5
GUILD, BOT_DM = 0, 1

SUMMARIZE_MESSAGE = "Summarize"
TRANSLATE_MESSAGE = "Translate"


def _option(kind: int, name: str, description: str, *, required: bool = False, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "name": name, "description": description, "required": required, **extra}


def _command(name: str, description: str, *options: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": CHAT_INPUT, "name": name, "description": description, "options": list(options), **extra}


def _sub(name: str, description: str, *options: dict[str, Any]) -> dict[str, Any]:
    return {"type": SUB_COMMAND, "name": name, "description": description, "options": list(options)}


def _group(name: str, description: str, *subcommands: dict[str, Any]) -> dict[str, Any]:
    return {"type": SUB_COMMAND_GROUP, "name": name, "description": description, "options": list(subcommands)}


def _target_options() -> list[dict[str, Any]]:
    return [
        _option(USER, "user", "a member"),
        _option(ROLE, "role", "a role"),
        _option(CHANNEL, "channel", "a channel"),
    ]


def _admin() -> dict[str, Any]:
    channel = _option(CHANNEL, "channel", "the channel (default: this one)")
    text = _option(STRING, "text", "instructions every answer in the channel follows", required=True, max_length=2000)
    prompt = _group(
        "prompt",
        "the system prompt of a channel",
        _sub("set", "set the channel's system prompt", text, channel),
        _sub("show", "show the channel's system prompt", channel),
        _sub("clear", "remove the channel's system prompt", channel),
    )
    access = _group(
        "access",
        "who may use the assistant here",
        _sub("allow", "allow a member, role or channel (then only allowed ones of that kind)", *_target_options()),
        _sub("block", "block a member, role or channel", *_target_options()),
        _sub("remove", "remove the rule for a member, role or channel", *_target_options()),
        _sub("list", "list the access rules"),
    )
    per_minute = _option(INTEGER, "per_minute", "requests per minute", required=True, min_value=0, max_value=1000)
    ratelimit = _sub(
        "ratelimit", "requests per minute each member may make (0: no limit of this server's own)", per_minute
    )
    sync = _sub("sync", "register the bot's commands again")
    names = _option(STRING, "names", "tool names, space-separated (an MCP server's: server__tool)", required=True)
    tools = _group(
        "tools",
        "the tools the assistant may use here",
        _sub("off", "switch tools off for this server", names),
        _sub("on", "switch tools back on", names),
        _sub("list", "list the tools switched off"),
    )
    fact = _option(STRING, "fact", "what every answer in the channel keeps in mind", required=True, max_length=500)
    which = _option(STRING, "which", "a number from the list, or all", required=True)
    memory = _group(
        "memory",
        "memories a channel shares",
        _sub("add", "save a memory for this channel", fact),
        _sub("list", "list this channel's memories"),
        _sub("forget", "remove one of this channel's memories, or all", which),
    )
    return _command(
        "admin",
        "configure the assistant for this server",
        prompt,
        access,
        tools,
        memory,
        ratelimit,
        sync,
        default_member_permissions=str(MANAGE_GUILD),
        contexts=[GUILD],
    )


def definitions() -> list[dict[str, Any]]:
    everywhere = {"contexts": [GUILD, BOT_DM]}
    keys = [{"name": key, "value": key} for key in PREF_KEYS]
    actions = [{"name": a, "value": a} for a in ("show", "set", "unset", "reset")]
    return [
        _command(
            "ask",
            "ask the assistant",
            _option(STRING, "question", "your question", required=True),
            _option(STRING, "skill", "a plugin skill to answer with (see /help)", max_length=40),
            **everywhere,
        ),
        _command(
            "summarize",
            "summarize this thread, or the last messages of this channel",
            _option(
                INTEGER,
                "count",
                "how many recent messages (default: 20; the whole thread in a thread)",
                min_value=1,
                max_value=100,
            ),
            **everywhere,
        ),
        _command(
            "translate",
            "translate text into a language",
            _option(STRING, "language", "e.g. French", required=True),
            _option(STRING, "text", "what to translate", required=True),
            **everywhere,
        ),
        _command(
            "prefs",
            "show or change your preferences",
            _option(STRING, "action", "show (default), set, unset or reset", choices=actions),
            _option(STRING, "key", "which preference", choices=keys),
            _option(STRING, "value", "the new value (for set)"),
            **everywhere,
        ),
        _command("forget", "delete your stored conversations and memories", **everywhere),
        _command(
            "remember",
            "something the assistant keeps in mind in every conversation with you",
            _option(STRING, "fact", "e.g. I am vegetarian", required=True, max_length=500),
            **everywhere,
        ),
        _command("memories", "what the assistant remembers about you", **everywhere),
        _command(
            "forget-memory",
            "remove one memory (its number in /memories) or all of them",
            _option(STRING, "which", "a number from /memories, or all", required=True),
            **everywhere,
        ),
        _command(
            "knowledge",
            "the documents this channel is answered from (add some: /learn in a message with files attached)",
            _option(STRING, "forget", "the name of one of this channel's documents to remove", max_length=256),
            **everywhere,
        ),
        _command("usage", "your token usage", **everywhere),
        _command("help", "what the assistant can do", **everywhere),
        _command("stop", "stop the answer the assistant is writing for you here", **everywhere),
        {"type": MESSAGE, "name": SUMMARIZE_MESSAGE, **everywhere},
        {"type": MESSAGE, "name": TRANSLATE_MESSAGE, **everywhere},
        _admin(),
    ]


def flatten(data: Mapping[str, Any]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The subcommand path (`("access", "block")`) and the leaf options of an invocation."""
    path: list[str] = []
    options: list[Mapping[str, Any]] = list(data.get("options") or [])
    while options and options[0].get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP):
        path.append(str(options[0]["name"]))
        options = list(options[0].get("options") or [])
    return tuple(path), {str(o["name"]): o.get("value") for o in options}
