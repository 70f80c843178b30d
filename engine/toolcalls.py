"""Tool calls on the OpenAI wire: assembling streamed call deltas, and writing calls and results back.

A streamed tool call arrives in pieces: the first delta of a call carries its `index`, `id` and the
function's name, later ones only the `index` and the next piece of the arguments' JSON text. The
pieces are joined per index, in the order the model opened the calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.base import ChatMessage, ToolCall


@dataclass(slots=True)
class _Partial:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ToolCallAssembler:
    """Feed each choice's `delta.tool_calls`; `calls()` gives the complete calls once the stream ends."""

    def __init__(self) -> None:
        self._parts: dict[int, _Partial] = {}

    def feed(self, deltas: Any) -> None:
        for delta in deltas or ():
            index = int(_get(delta, "index") or 0)
            part = self._parts.setdefault(index, _Partial())
            part.id = _get(delta, "id") or part.id
            function = _get(delta, "function")
            if function is not None:
                part.name = _get(function, "name") or part.name
                if piece := _get(function, "arguments"):
                    part.arguments.append(str(piece))

    def calls(self) -> tuple[ToolCall, ...]:
        out = []
        for index in sorted(self._parts):
            part = self._parts[index]
            if part.name:
                # Some servers leave out ids; the round's index keeps calls and results paired.
                out.append(ToolCall(id=part.id or f"call_{index}", name=part.name, arguments="".join(part.arguments)))
        return tuple(out)


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def wire_message(message: ChatMessage) -> dict[str, Any]:
    """A chat message as the OpenAI API takes it: text, text and images, a tool-calling turn or a result."""
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": message.content}
    if message.tool_calls:
        calls = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments or "{}"}}
            for c in message.tool_calls
        ]
        # Text, even empty, rather than null: some chat templates print a null content as "None".
        return {"role": "assistant", "content": message.content, "tool_calls": calls}
    if not message.images:
        return {"role": message.role, "content": message.content}
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in message.images]
    return {"role": message.role, "content": parts}
