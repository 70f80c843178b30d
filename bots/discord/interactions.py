"""Slash and context-menu commands: answered or deferred at once, then handed to the workers.

Skills and user commands become Events whose reply sink edits the deferred response; `/admin` is
done here in the bot, since it only writes settings. The same handler serves the gateway and the
HTTP interactions endpoint; only the `Responder` differs.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord

from bots.discord import commands, questions
from bots.discord.admin_commands import count_option, run_admin
from bots.discord.controls import AnswerControls
from bots.discord.places import ChannelCache, Place, locate, role_ids
from bots.discord.ref import DiscordRef, ReplyMode
from bots.discord.responder import Responder
from bots.discord.store import Store
from workers.events import Event, Kind, Platform, PriorityClass, Quoted
from workers.requests import parse

log = logging.getLogger(__name__)

CANNOT_READ = (
    "I may not read the messages here: a server admin can give me the View Channel and Read Message History "
    "permissions in this channel."
)

PRIVATE = {Kind.PREFS, Kind.FORGET, Kind.USAGE, Kind.HELP, Kind.REMEMBER, Kind.MEMORIES, Kind.FORGET_MEMORY}
SLASH_KINDS = {
    "ask": Kind.ASK,
    "summarize": Kind.SUMMARIZE,
    "translate": Kind.TRANSLATE,
    "prefs": Kind.PREFS,
    "forget": Kind.FORGET,
    "usage": Kind.USAGE,
    "help": Kind.HELP,
    "remember": Kind.REMEMBER,
    "memories": Kind.MEMORIES,
    "forget-memory": Kind.FORGET_MEMORY,
    "knowledge": Kind.KNOWLEDGE,
}
THREAD_HISTORY = 100
DEFAULT_HISTORY = 20
# The most messages /summarize reads, whatever an interaction claims to ask for.
MAX_HISTORY = 200
# Discord locales, by the language a "Translate" click translates into.
LANGUAGES = {
    "id": "Indonesian", "da": "Danish", "de": "German", "en": "English", "es": "Spanish", "fr": "French",
    "hr": "Croatian", "it": "Italian", "lt": "Lithuanian", "hu": "Hungarian", "nl": "Dutch", "no": "Norwegian",
    "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "fi": "Finnish", "sv": "Swedish", "vi": "Vietnamese",
    "tr": "Turkish", "cs": "Czech", "el": "Greek", "bg": "Bulgarian", "ru": "Russian", "uk": "Ukrainian",
    "hi": "Hindi", "th": "Thai", "zh": "Chinese", "ja": "Japanese", "ko": "Korean",
}  # fmt: skip


def language_of(locale: str) -> str:
    if locale == "zh-TW":
        return "Traditional Chinese"
    return LANGUAGES.get(locale.split("-", maxsplit=1)[0].lower(), "English")


def _log_failure(interaction_id: int, name: str, exc: Exception) -> None:
    """A transport error's text holds the interaction webhook's URL, and so its token: only its kind is logged."""
    if isinstance(exc, aiohttp.ClientError):
        log.error("interaction %s (%s) failed: %s", interaction_id, name, type(exc).__name__)
    else:
        log.exception("interaction %s (%s) failed", interaction_id, name)


@dataclass
class InteractionHandler:
    client: discord.Client
    store: Store
    channels: ChannelCache
    sync: Callable[[], Awaitable[int]]

    @property
    def controls(self) -> AnswerControls:
        return AnswerControls(store=self.store, locate=self._place)

    async def handle(self, interaction: discord.Interaction, responder: Responder) -> None:
        if interaction.type is discord.InteractionType.component and interaction.data:
            await self.controls.pressed(interaction, responder, str(interaction.data.get("custom_id") or ""))
            return
        if interaction.type is discord.InteractionType.modal_submit and interaction.data:
            await self.controls.commented(interaction, responder, interaction.data)
            return
        if interaction.type is not discord.InteractionType.application_command or not interaction.data:
            return
        data: Mapping[str, Any] = interaction.data
        name, kind = str(data.get("name", "")), int(data.get("type", commands.CHAT_INPUT))
        try:
            if kind == commands.MESSAGE:
                await self._message_command(interaction, responder, name, data)
            elif name == "stop":
                await self.controls.stop_typed(interaction, responder)
            elif name == "admin":
                await run_admin(interaction, responder, data, store=self.store, sync=self.sync)
            elif name in SLASH_KINDS:
                await self._slash(interaction, responder, SLASH_KINDS[name], data)
            else:
                await responder.send("I do not know that command; /help lists what I can do.")
        except Exception as exc:
            _log_failure(interaction.id, name, exc)
            try:
                await responder.send("Sorry, something went wrong on my side; please try again.")
            except Exception as again:
                log.warning("interaction %s: could not say that it failed (%s)", interaction.id, type(again).__name__)

    async def _place(self, interaction: discord.Interaction) -> Place:
        channel: Any = interaction.channel or self.client.get_partial_messageable(
            interaction.channel_id or 0, guild_id=interaction.guild_id
        )
        return await locate(self.client, channel, guild=interaction.guild, user=interaction.user, cache=self.channels)

    async def _slash(
        self, interaction: discord.Interaction, responder: Responder, kind: Kind, data: Mapping[str, Any]
    ) -> None:
        await responder.defer(ephemeral=kind in PRIVATE)
        _path, options = commands.flatten(data)
        place = await self._place(interaction)
        text, args = "", {}
        context: tuple[Quoted, ...] = ()
        if kind is Kind.ASK:
            text = str(options.get("question") or "")
            skill = str(options.get("skill") or "").strip().lower()
            if skill and skill not in self.store.skills:
                await responder.send(f"There is no skill {skill!r} here; /help lists the skills.")
                return
            if skill:
                kind, args = Kind.SKILL, {"skill": skill}
        elif kind is Kind.TRANSLATE:
            text, args = str(options.get("text") or ""), {"language": str(options.get("language") or "English")}
        elif kind is Kind.PREFS:
            args = {k: str(options[k]) for k in ("action", "key", "value") if options.get(k) is not None}
        elif kind is Kind.KNOWLEDGE and options.get("forget"):
            args = {"action": "forget", "name": str(options["forget"]).strip()}
        elif kind in {Kind.REMEMBER, Kind.FORGET_MEMORY}:
            request = parse(f"/{kind} {options.get('fact') or options.get('which') or ''}")
            text, args = request.text, dict(request.args)
        elif kind is Kind.SUMMARIZE:
            default = THREAD_HISTORY if place.thread_id else DEFAULT_HISTORY
            asked = count_option(options.get("count"))
            count = min(asked, MAX_HISTORY) if asked and asked > 0 else default
            try:
                context = await self._history(place, count, before=interaction.id)
            except discord.Forbidden:
                await responder.send(CANNOT_READ)
                return
            if not context:
                await responder.send(
                    "I cannot read any messages here (Discord gives me their text only with the "
                    "message-content intent). Reply to a message and mention me instead."
                )
                return
            args = {"n": str(len(context))}
        await self._submit(
            interaction, responder, place, kind=kind, text=text, args=args, context=context, private=kind in PRIVATE
        )

    async def _questions(self, place: Place, interactions: list[int]) -> dict[int, questions.Stored]:
        return await asyncio.to_thread(self.store.questions, tenant=place.tenant, interactions=interactions)

    async def _history(self, place: Place, count: int, *, before: int) -> tuple[Quoted, ...]:
        """The last `count` messages before the command (not the bot's own "thinking" response), each app's
        answer to a command after who asked what."""
        channel = self.client.get_partial_messageable(place.post_to, guild_id=place.guild_id)
        found = [m async for m in channel.history(limit=count, before=discord.Object(id=before))]
        # What people wrote, with mentions as names: no thread-created or pin notices under a member's name.
        spoken = [m for m in reversed(found) if m.type in questions.SPOKEN and m.content.strip()]
        mine = questions.own_interactions(spoken, me=self.client.user.id if self.client.user else 0)
        stored = await self._questions(place, mine) if mine else {}
        return questions.transcript(spoken, stored=stored)

    async def _message_command(
        self, interaction: discord.Interaction, responder: Responder, name: str, data: Mapping[str, Any]
    ) -> None:
        # What a context menu gives back is for the member who clicked it.
        await responder.defer(ephemeral=True)
        target = str(data.get("target_id", ""))
        raw = (data.get("resolved") or {}).get("messages", {}).get(target) or {}
        content = str(raw.get("content") or "").strip()
        if not content:
            await responder.send("That message has no text I can read.")
            return
        place = await self._place(interaction)
        if name == commands.TRANSLATE_MESSAGE:
            language = language_of(str(interaction.locale))
            await self._submit(
                interaction,
                responder,
                place,
                kind=Kind.TRANSLATE,
                text=content,
                args={"language": language},
                private=True,
            )
        else:
            lookup = functools.partial(self._questions, place)
            quoted = await questions.quote_target(raw, content, me=interaction.application_id, lookup=lookup)
            await self._submit(
                interaction, responder, place, kind=Kind.SUMMARIZE, args={"n": "1"}, context=quoted, private=True
            )

    async def _submit(
        self,
        interaction: discord.Interaction,
        responder: Responder,
        place: Place,
        *,
        kind: Kind,
        text: str = "",
        args: Mapping[str, str] | None = None,
        context: tuple[Quoted, ...] = (),
        private: bool,
    ) -> None:
        user = interaction.user
        event = Event(
            platform=Platform.DISCORD,
            tenant=place.tenant,
            channel=place.channel,
            thread=place.fixed_thread or f"interaction:{interaction.id}",
            user=str(user.id),
            message_id=str(interaction.id),
            text=text,
            kind=kind,
            priority=PriorityClass.INTERACTIVE if kind is Kind.ASK else PriorityClass.COMMANDS,
            args=args or {},
            context=context,
            roles=role_ids(user),
            user_name=user.display_name,
            tenant_name=place.tenant_name,
            channel_name=place.channel_name,
            ref=DiscordRef(
                mode=ReplyMode.INTERACTION,
                application_id=str(interaction.application_id),
                token=interaction.token,
                channel_id=str(place.post_to),
                ephemeral=private,
            ).to_dict(),
        )
        handed = await asyncio.to_thread(self.store.submit, event)
        if handed.turned is not None:
            await responder.refuse(handed.message)
