"""Keep a reasoning model's thinking out of the visible answer, while the answer streams.

Reasoning models either send their thinking in a separate field (vLLM with a reasoning parser:
`reasoning`, older vLLM and others: `reasoning_content`), or inline as a `<think>…</think>` block
that opens the answer (a server without a reasoning parser). The separate field is easy to drop;
the inline block arrives cut at arbitrary points (`<`, `thi`, `nk>` in three chunks from vLLM), so
the filter holds back only the few characters that could still turn out to be a tag.

Only a block that opens the answer counts as reasoning: once visible text has started, a `<think>`
is part of the answer (a user asking about the tag gets to see it). Blank lines before the answer
go too: they are what separated it from the thinking.
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
                # An answer does not open with blank lines (vLLM's parser leaves the ones after </think>).
                self._pending, self._opening = stripped, False
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
    """What of each delta the user sees: the answer, and the reasoning only when they asked for it.

    A model that finishes with reasoning and no answer at all was misread: vLLM's reasoning parsers
    count everything before `</think>` as thinking, so a model that never thinks (or a parser set
    for the wrong model) would answer nothing. Then the "reasoning" is the answer, and is shown.
    An answer cut by max_tokens while still thinking stays hidden: it is half a thought.
    """

    def __init__(self, *, show: bool) -> None:
        self._show = show
        self._filter = ThinkFilter()
        self._open = False
        self._after_thought = False
        self._answered = False
        self._hidden: list[str] = []
        # Set when the stream brought only reasoning and it is shown as the answer.
        self.reasoning_shown = False

    def feed(self, delta: Any) -> str:
        # vLLM >= 0.10 names the field `reasoning`; older vLLM and other servers `reasoning_content`.
        thought = getattr(delta, "reasoning", None) or getattr(delta, "reasoning_content", None) or ""
        text = getattr(delta, "content", None) or ""
        if not self._show:
            split = self._filter.feed(text)
            self._hidden += (thought, split.reasoning)
            return self._visible(split.visible)
        out = ""
        if thought:
            out += ("" if self._open else "<think>\n") + thought
            self._open = True
        if text and self._open:
            out += "\n</think>\n\n"
            self._open, self._after_thought = False, True
        if self._after_thought:
            text = text.lstrip()
            self._after_thought = not text
        return self._visible(out + text)

    def _visible(self, text: str) -> str:
        self._answered = self._answered or bool(text.strip())
        return text

    def finish(self, finish_reason: str | None) -> str:
        """What is left to show once the stream has ended."""
        if self._show:
            return "\n</think>" if self._open else ""
        split = self._filter.finish()
        self._hidden.append(split.reasoning)
        if self._answered or finish_reason == "length" or split.visible.strip():
            return self._visible(split.visible)
        thought = "".join(self._hidden).strip()
        self.reasoning_shown = bool(thought)
        return self._visible(thought)
