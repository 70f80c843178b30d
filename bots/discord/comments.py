"""A comment on a rating: the "Add a comment" button under the thanks for a 👍/👎, and the form it opens.

The rating and the event's key ride on each custom_id, so nothing is kept between the press, the
form and its submission (Discord sends the form's values as an interaction of its own, MODAL_SUBMIT).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import discord

from db.feedback import COMMENT_LIMIT
from workers import feedback

# The button under the thanks, and the form it opens: this prefix, "up:" or "down:", and the event's key.
COMMENT_ID = "llmos-fb-comment:"
FORM_ID = "llmos-fb-form:"
FIELD = "comment"


def comment_view(rating: str, key: str) -> discord.ui.View:
    """The button that opens the form (finished: the bot's interaction handler answers its press)."""
    view = discord.ui.View(timeout=None)
    button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
        label=feedback.ADD_COMMENT, style=discord.ButtonStyle.secondary, custom_id=f"{COMMENT_ID}{rating}:{key}"
    )
    view.add_item(button)
    view.stop()
    return view


def comment_form(rating: str, key: str) -> discord.ui.Modal:
    modal = discord.ui.Modal(title="Comment on the answer", custom_id=f"{FORM_ID}{rating}:{key}", timeout=None)
    text = discord.ui.TextInput[discord.ui.Modal](
        custom_id=FIELD,
        style=discord.TextStyle.paragraph,
        placeholder="What was good or wrong about it?",
        max_length=COMMENT_LIMIT,
    )
    modal.add_item(discord.ui.Label(text="Your comment", component=text))
    modal.stop()
    return modal


def submitted(components: Iterable[Mapping[str, Any]]) -> str:
    """The comment in a MODAL_SUBMIT's components (inside a label, or an action row as Discord used to)."""
    for outer in components:
        inner = [outer["component"]] if "component" in outer else list(outer.get("components") or [])
        for item in inner:
            if item.get("custom_id") == FIELD:
                return str(item.get("value") or "")
    return ""
