"""The controls on a Discord answer, and `/stop`: what pressing (or typing) them does.

Buttons carry the event's key in their custom_id (bots/discord/targets.py). Stop and Regenerate are
for the asker, or someone who may manage messages or the server; 👍/👎 for anyone who sees the answer,
whose thanks offers a comment (bots/discord/comments.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import discord

from bots.discord.comments import COMMENT_ID, FORM_ID, comment_form, comment_view, submitted
from bots.discord.places import Place
from bots.discord.ref import DiscordRef, ReplyMode
from bots.discord.responder import Responder
from bots.discord.store import Store
from bots.discord.targets import FEEDBACK_ID, REGENERATE_ID, STOP_ID
from workers import feedback, regenerating
from workers.events import Event, Platform
from workers.stopping import MESSAGES, Asker, Verdict, ask_to_stop, stop_latest

log = logging.getLogger(__name__)

Locate = Callable[[discord.Interaction], Awaitable[Place]]


def asker_of(interaction: discord.Interaction, place: Place) -> Asker:
    """Who pressed a button, for Stop and Regenerate: the asker, or someone who may manage messages or
    the server."""
    return Asker(
        platform=str(Platform.DISCORD),
        tenant=place.tenant,
        user=str(interaction.user.id),
        admin=lambda: interaction.permissions.manage_messages or interaction.permissions.manage_guild,
    )


@dataclass(frozen=True, slots=True)
class AnswerControls:
    store: Store
    # Where an interaction happened (its tenant, LLMOS channel and thread).
    locate: Locate

    async def pressed(self, interaction: discord.Interaction, responder: Responder, custom_id: str) -> None:
        """A button on an answer: Stop, 👍/👎 or Regenerate."""
        if custom_id.startswith(FEEDBACK_ID):
            rating, _, key = custom_id.removeprefix(FEEDBACK_ID).partition(":")
            said = await self._rate(interaction, feedback.give, rating=rating, key=key)
            await responder.send(said, view=comment_view(rating, key) if said == feedback.THANKS else None)
            return
        if custom_id.startswith(COMMENT_ID):
            rating, _, key = custom_id.removeprefix(COMMENT_ID).partition(":")
            await responder.modal(comment_form(rating, key))
            return
        if custom_id.startswith(REGENERATE_ID):
            await self._regenerate(interaction, responder, custom_id.removeprefix(REGENERATE_ID))
            return
        if not custom_id.startswith(STOP_ID) or self.store.leases is None:
            await responder.send("That button no longer does anything.")
            return
        key = custom_id.removeprefix(STOP_ID)
        asker = asker_of(interaction, await self.locate(interaction))
        verdict = await asyncio.to_thread(ask_to_stop, self.store.sessions, self.store.leases, key=key, asker=asker)
        log.info("discord user %s pressed Stop on %s: %s", interaction.user.id, key, verdict)
        await responder.send(MESSAGES[verdict])

    async def _rate(
        self, interaction: discord.Interaction, record: Callable[..., str], *, rating: str, key: str, **more: str
    ) -> str:
        """Record the member's rating of the answer (and `more`: a comment) with `feedback.give` or `.comment`."""
        place = await self.locate(interaction)
        return await asyncio.to_thread(
            record,
            self.store.sessions,
            platform=str(Platform.DISCORD),
            tenant=place.tenant,
            key=key,
            user=str(interaction.user.id),
            rating=feedback.UP if rating == "up" else feedback.DOWN,
            **more,
        )

    async def commented(self, interaction: discord.Interaction, responder: Responder, data: Mapping[str, Any]) -> None:
        """The comment form sent (MODAL_SUBMIT): the comment joins the member's rating of the answer."""
        custom_id = str(data.get("custom_id") or "")
        if not custom_id.startswith(FORM_ID):
            await responder.send("That form no longer does anything.")
            return
        rating, _, key = custom_id.removeprefix(FORM_ID).partition(":")
        text = submitted(data.get("components") or ())
        said = await self._rate(interaction, feedback.comment, rating=rating, key=key, text=text)
        await responder.send(said)

    async def stop_typed(self, interaction: discord.Interaction, responder: Responder) -> None:
        """`/stop`: the member's own newest unfinished answer in this channel (in a thread or a DM: there)."""
        place = await self.locate(interaction)
        verdict = Verdict.UNKNOWN
        if self.store.leases is not None:
            asker = Asker(platform=str(Platform.DISCORD), tenant=place.tenant, user=str(interaction.user.id))
            verdict = await asyncio.to_thread(
                stop_latest,
                self.store.sessions,
                self.store.leases,
                asker=asker,
                channel=place.channel,
                thread=place.fixed_thread,
            )
        log.info("discord user %s typed /stop in %s: %s", interaction.user.id, place.channel, verdict)
        await responder.send(MESSAGES[verdict])

    async def _regenerate(self, interaction: discord.Interaction, responder: Responder, key: str) -> None:
        """Ask an answer again. A channel answer is edited in place; a slash command's answer comes as
        this button's own response."""
        asker = asker_of(interaction, await self.locate(interaction))
        shown_on = str(interaction.message.id) if interaction.message is not None else None
        found = await asyncio.to_thread(regenerating.again, self.store.sessions, key=key, asker=asker)
        log.info("discord user %s pressed Regenerate on %s: %s", interaction.user.id, key, getattr(found, "key", found))
        if not isinstance(found, Event):
            await responder.send(regenerating.MESSAGES[found])
            return
        old = DiscordRef.from_mapping(found.ref)
        if old.mode is ReplyMode.INTERACTION:
            # The old interaction's token may have run out: this press's own response carries the answer.
            await responder.defer(ephemeral=old.ephemeral)
            ref = dataclasses.replace(old, application_id=str(interaction.application_id), token=interaction.token)
            found = dataclasses.replace(found, ref=ref.to_dict())
        else:
            await responder.send(regenerating.REGENERATING)
            if shown_on:
                found = dataclasses.replace(found, args={**found.args, "replaces": shown_on})
        handed = await asyncio.to_thread(self.store.submit, found)
        if handed.turned is not None:
            await responder.refuse(handed.message)
        elif not handed.accepted and old.mode is ReplyMode.INTERACTION:
            # Pressed twice at once: the other press's response carries the one new answer.
            await responder.refuse(regenerating.MESSAGES[regenerating.Verdict.REGENERATING])
