"""What a tool is to the task path: a name, a JSON schema, and a function that gives text back.

A tool that cannot do what it was asked raises `ToolError`; its message goes to the model as the
result, so the model can explain or try something else. Nothing a tool does ever fails the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from db.directory import Place


class ToolError(Exception):
    """The tool could not do it; the message is what the model is told."""


@dataclass(slots=True)
class ToolContext:
    """Who is asking and where, for tools that read or write this tenant's data."""

    sessions: sessionmaker[Session]
    place: Place
    # The event being answered (its own message is not a search result).
    event_key: str = ""
    # Memories the `remember` tool saved during this answer, shown to the person at the end.
    saved: list[str] = field(default_factory=list)


Runner = Callable[[Mapping[str, Any], ToolContext], str]


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    # JSON schema of the arguments (an object).
    parameters: Mapping[str, Any]
    run: Runner
    # Shown to the person while the tool runs: "Using {label}…".
    label: str = ""
    # Where it comes from: "builtin", or the MCP server's name.
    source: str = "builtin"

    def spec(self) -> dict[str, Any]:
        """The tool as the OpenAI `tools` list takes it."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": dict(self.parameters)},
        }


def object_schema(properties: Mapping[str, Any], *required: str) -> dict[str, Any]:
    return {"type": "object", "properties": dict(properties), "required": list(required)}
