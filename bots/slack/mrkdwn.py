"""Markdown as Slack shows it, and long answers cut where a reader would.

Models write CommonMark; Slack's `text` field speaks mrkdwn (`*bold*`, `_italic_`, `<url|label>`,
no headings or tables) and wants `&`, `<` and `>` escaped. Streamed messages take Markdown as is
(`markdown_text`), so only the post-and-update path converts.
"""

from __future__ import annotations

import re

FENCE = "```"
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(?=\S)")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_CODE_SPAN = re.compile(r"(`[^`\n]+`)")
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_BOLD_MARK = "\x00"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Slack's escaped message text back to what the person typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _prose(text: str) -> str:
    """Inline Markdown outside code spans, as mrkdwn."""
    text = escape(_AUTOLINK.sub(r"\1", text))
    text = _IMAGE.sub(lambda m: f"<{m.group(2)}|{m.group(1) or m.group(2)}>", text)
    text = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", text)
    # Bold goes through a marker so the italic rule cannot take its asterisks.
    text = _BOLD.sub(lambda m: f"{_BOLD_MARK}{m.group(1) or m.group(2)}{_BOLD_MARK}", text)
    text = _STRIKE.sub(r"~\1~", _ITALIC.sub(r"_\1_", text))
    return text.replace(_BOLD_MARK, "*")


def _inline(text: str) -> str:
    parts = _CODE_SPAN.split(text)
    # Odd pieces are `code spans`: escaped, otherwise left as they are.
    return "".join(escape(part) if i % 2 else _prose(part) for i, part in enumerate(parts))


def _line(line: str) -> str:
    heading = _HEADING.match(line)
    if heading:
        inner = heading.group(1).replace("**", "").replace("__", "")
        return f"*{_inline(inner)}*"
    if _RULE.match(line):
        return "──────────"
    bullet = _BULLET.match(line)
    if bullet:
        return f"{bullet.group(1)}• {_inline(line[bullet.end() :])}"
    return _inline(line)


def to_mrkdwn(markdown: str) -> str:
    out: list[str] = []
    table: list[str] = []
    in_code = False

    def flush_table() -> None:
        if table:
            out.extend([FENCE, *(escape(row) for row in table if not _TABLE_SEPARATOR.match(row)), FENCE])
            table.clear()

    for line in markdown.split("\n"):
        if line.lstrip().startswith(FENCE):
            flush_table()
            # Slack ignores a language tag and would show it as code: drop it.
            out.append(FENCE)
            in_code = not in_code
        elif in_code:
            out.append(escape(line))
        elif line.lstrip().startswith("|") and line.rstrip().endswith("|"):
            table.append(line.strip())
        else:
            flush_table()
            out.append(_line(line))
    flush_table()
    if in_code:
        out.append(FENCE)
    return "\n".join(out)


def cut_point(text: str, limit: int) -> int:
    """The last clean place to cut before `limit`: a paragraph, a line, a sentence, a word."""
    floor = limit // 4
    for mark in ("\n\n", "\n", ". ", " "):
        at = text.rfind(mark, floor, limit)
        if at > 0:
            return at + len(mark)
    return limit


def split(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters; a code block cut in two is closed and reopened."""
    if limit < 64:
        raise ValueError("limit too small to split cleanly")
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        at = cut_point(rest, limit - len(FENCE) - 2)
        head, rest = rest[:at].rstrip(), rest[at:].lstrip("\n")
        if head.count(FENCE) % 2:
            head, rest = f"{head}\n{FENCE}", f"{FENCE}\n{rest}"
        pieces.append(head)
    if rest.strip() or not pieces:
        pieces.append(rest)
    return pieces
