"""The built-in tools: the time, a calculator, searching this tenant's conversations, and `remember`.

Each can be switched off per tenant (`workers.tools.toolbox`); they need nothing outside LLMOS.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from db import memories, search
from workers.tools.arithmetic import CalculationError, evaluate, format_number
from workers.tools.base import Tool, ToolContext, ToolError, object_schema

SNIPPET_CHARS = 300


def _text(arguments: Mapping[str, Any], name: str) -> str:
    value = arguments.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ToolError(f"the argument {name!r} must be a non-empty string")
    return value.strip()


def current_time(arguments: Mapping[str, Any], _ctx: ToolContext) -> str:
    zone_name = arguments.get("timezone") or "UTC"
    try:
        zone = ZoneInfo(str(zone_name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolError(f"unknown time zone {zone_name!r}; use an IANA name such as Europe/Paris") from None
    now = datetime.now(UTC).astimezone(zone)
    return f"{now:%A %d %B %Y, %H:%M:%S} ({zone_name}, UTC{now:%z})"


def calculate(arguments: Mapping[str, Any], _ctx: ToolContext) -> str:
    expression = _text(arguments, "expression")
    try:
        return f"{expression} = {format_number(evaluate(expression))}"
    except CalculationError as exc:
        raise ToolError(str(exc)) from None


def search_conversations(arguments: Mapping[str, Any], ctx: ToolContext) -> str:
    query = _text(arguments, "query")
    with ctx.sessions() as session:
        hits = search.search(
            session,
            tenant_id=ctx.place.tenant_id,
            user_id=ctx.place.user_id,
            query=query,
            exclude_event=ctx.event_key,
        )
    if not hits:
        return f"No stored message matches {query!r}."
    lines = []
    for hit in hits:
        snippet = hit.content if len(hit.content) <= SNIPPET_CHARS else hit.content[:SNIPPET_CHARS] + "…"
        where = hit.link or f"channel {hit.channel}, thread {hit.thread}"
        lines.append(f"- {hit.created_at:%Y-%m-%d} {hit.role} ({where}): {snippet}")
    return "\n".join(lines)


def remember(arguments: Mapping[str, Any], ctx: ToolContext) -> str:
    fact = _text(arguments, "fact")
    if len(fact) > memories.MAX_CHARS:
        raise ToolError(f"a memory is at most {memories.MAX_CHARS} characters; save a shorter one")
    with ctx.sessions.begin() as session:
        memories.add(session, tenant_id=ctx.place.tenant_id, user_id=ctx.place.user_id, channel_id=None, content=fact)
    ctx.saved.append(fact)
    return f"Saved to the person's memories: {fact}"


BUILTIN: tuple[Tool, ...] = (
    Tool(
        name="current_time",
        description="The current date and time, in UTC or in a given IANA time zone.",
        parameters=object_schema({"timezone": {"type": "string", "description": "e.g. Europe/Paris; default UTC"}}),
        run=current_time,
        label="the clock",
    ),
    Tool(
        name="calculate",
        description="Compute an arithmetic expression exactly: + - * / // % ** parentheses, sqrt, log, sin, pi.",
        parameters=object_schema(
            {"expression": {"type": "string", "description": "e.g. (17.5 * 3) / 4"}}, "expression"
        ),
        run=calculate,
        label="the calculator",
    ),
    Tool(
        name="search_conversations",
        description="Search earlier messages of the conversations this person can see, by words they contain.",
        parameters=object_schema({"query": {"type": "string", "description": "words to look for"}}, "query"),
        run=search_conversations,
        label="search",
    ),
    Tool(
        name="remember",
        description="Save a short fact about the person that they want you to remember in later conversations.",
        parameters=object_schema({"fact": {"type": "string", "description": "the fact, in one sentence"}}, "fact"),
        run=remember,
        label="memory",
    ),
)
