"""Keep a reasoning model's thinking out of the visible answer, while the answer streams.

Reasoning models either send their thinking in a separate field (vLLM with a reasoning parser:
`reasoning`, older vLLM and others: `reasoning_content`), or inline as a `<think>…</think>` block
that opens the answer (a server without a reasoning parser). The separate field is easy to drop;
the inline block arrives cut at arbitrary points (`<`, `thi`, `nk>` in three chunks from vLLM), so
the filter holds back only the few characters that could still turn out to be a tag.

Only a block that opens the answer counts as reasoning: once visible text has started, a `<think>`
is part of the answer (a user asking about the tag gets to see it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OPEN = "<think>"
CLOSE = "</think>"


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that is the start of `tag` (a tag cut by a chunk boundary)."""
    for size in range(min(len(text), len(tag) - 1), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


@dataclass(slots=True)
class Split:
    visible: str = ""
    reasoning: str = ""


class ThinkFilter:
    """Feed streamed text in; get back what the user may see and what was thinking."""

    def __init__(self) -> None:
        self._pending = ""
        self._inside = False
        # Before any visible character a `<think>` may still open the answer; after one it may not.
        self._opening = True
        # Drop the blank lines a model puts between its thinking and its answer.
        self._after_block = False

    def feed(self, text: str) -> Split:
        out = Split()
        self._pending += text
        while self._pending:
            if self._inside:
                end = self._pending.find(CLOSE)
                if end < 0:
                    keep = _partial_suffix(self._pending, CLOSE)
                    out.reasoning += self._pending[: len(self._pending) - keep]
                    self._pending = self._pending[len(self._pending) - keep :]
                    break
                out.reasoning += self._pending[:end]
                self._pending = self._pending[end + len(CLOSE) :]
                self._inside, self._after_block = False, True
                continue
            if self._opening:
                stripped = self._pending.lstrip()
                if stripped.startswith(OPEN):
                    self._pending = stripped[len(OPEN) :]
                    self._inside = True
                    continue
                if not stripped or OPEN.startswith(stripped):
                    break  # whitespace or a cut `<thi`: wait for more
                self._opening = False
            if self._after_block:
                self._pending = self._pending.lstrip()
                if not self._pending:
                    break
                self._after_block = False
            out.visible += self._pending
            self._pending = ""
        return out

    def finish(self) -> Split:
        """The stream ended: text held back is visible, unless it is an unfinished thought."""
        rest, self._pending = self._pending, ""
        if self._inside:
            return Split(reasoning=rest)
        return Split(visible=rest.lstrip() if self._after_block else rest)


class Thoughts:
    """What of each delta the user sees: the answer, and the reasoning only when they asked for it."""

    def __init__(self, *, show: bool) -> None:
        self._show = show
        self._filter = ThinkFilter()
        self._open = False

    def feed(self, delta: Any) -> str:
        # vLLM >= 0.10 names the field `reasoning`; older vLLM and other servers `reasoning_content`.
        thought = getattr(delta, "reasoning", None) or getattr(delta, "reasoning_content", None)
        text = getattr(delta, "content", None) or ""
        if not self._show:
            return self._filter.feed(text).visible if text else ""
        out = ""
        if thought:
            out += ("" if self._open else "<think>\n") + thought
            self._open = True
        if text and self._open:
            out += "\n</think>\n\n"
            self._open = False
        return out + text

    def finish(self) -> str:
        if self._show:
            return "\n</think>" if self._open else ""
        return self._filter.finish().visible
