"""Messages from the gateway: decide whether one is for the bot, and hand it over as an Event.

A message is for the bot when it is a DM, mentions the bot, replies to the bot, or is posted in a
thread the bot created, joined or already talks in. Without the message-content intent Discord
still sends the text of DMs and of messages that mention the bot, so those keep working.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import discord

from bots.discord.attachments import collect
from bots.discord.chains import ChainIndex, answer_key, walk
from bots.discord.places import ChannelCache, Place, locate, role_ids
from bots.discord.ref import DiscordRef, ReplyMode
from bots.discord.settings import DiscordSettings
from bots.discord.store import Store
from bots.discord.text import strip_mentions
from bots.discord.throttle import Notice
from workers.events import Event, Kind, Platform, Quoted
from workers.intake import Turned
from workers.requests import Request, for_someone_else, parse

log = logging.getLogger(__name__)

TRY_AGAIN = "Sorry, I could not take your message just now; please send it again in a minute."
HANDLED_TYPES = {discord.MessageType.default, discord.MessageType.reply}
BARE_MENTION = "Ask me something after the mention, or use /help to see what I can do (only you see it)."
CANNOT_POST = (
    "I cannot post in <#{channel}>, so I did not answer your message there: a server admin can give me the "
    "Send Messages permission in that channel. You can also ask me here."
)


def with_quotes(text: str, quotes: tuple[Quoted, ...]) -> str:
    """A question about messages the model has not seen carries them along."""
    if not quotes:
        return text
    quoted = "\n".join(f'{q.author} wrote: "{q.text}"' for q in quotes)
    return f"{quoted}\n\n{text}" if text else quoted


@dataclass
class MessageHandler:
    client: discord.Client
    store: Store
    settings: DiscordSettings
    me: Callable[[], discord.ClientUser]
    chains: ChainIndex
    channels: ChannelCache

    async def handle(self, message: discord.Message) -> None:
        me = self.me()
        if message.author.id == me.id:
            key = answer_key(message, self.chains)
            if key is not None:
                self.chains.remember(message.id, key, mine=True)
            return
        if message.author.bot or message.webhook_id is not None or message.type not in HANDLED_TYPES:
            return
        place = await locate(
            self.client, message.channel, guild=message.guild, user=message.author, cache=self.channels
        )
        if not await self._addressed(message, place, me):
            return
        if not message.content.strip() and not message.attachments:
            # Text withheld (no message-content intent) or nothing said: nothing to answer.
            return
        if not await self._may_post(message):
            return
        try:
            await self._submit(message, place, me)
        except Exception:
            log.exception("message %s in channel %s could not be handed over", message.id, message.channel.id)
            await self._tell(message, TRY_AGAIN)

    def _my_ids(self, message: discord.Message, me: discord.ClientUser) -> set[int]:
        ids = {me.id}
        for role in message.role_mentions:
            if role.tags is not None and role.tags.bot_id == me.id:
                ids.add(role.id)
        return ids

    async def _addressed(self, message: discord.Message, place: Place, me: discord.ClientUser) -> bool:
        if place.dm or any(user.id == me.id for user in message.mentions) or len(self._my_ids(message, me)) > 1:
            return True
        if await self._replies_to_me(message, me.id):
            return True
        if place.thread_id is None or self._for_others(message, me.id):
            return False
        if place.thread_owner == me.id or place.thread_joined:
            return True
        assert place.fixed_thread is not None
        return await asyncio.to_thread(
            self.store.knows_thread, tenant=place.tenant, channel=place.channel, thread=place.fixed_thread
        )

    @staticmethod
    def _for_others(message: discord.Message, me: int) -> bool:
        """In a thread the bot talks in, a message not asked of it: one that mentions or replies to
        someone else, or thanks."""
        if any(user.id != me for user in message.mentions):
            return True
        replied = message.reference.resolved if message.reference is not None else None
        if isinstance(replied, discord.Message) and replied.author.id != me:
            return True
        return for_someone_else(message.content)

    async def _replies_to_me(self, message: discord.Message, me: int) -> bool:
        ref = message.reference
        if ref is None or ref.message_id is None:
            return False
        if isinstance(ref.resolved, discord.Message):
            return ref.resolved.author.id == me
        seen = self.chains.get(ref.message_id)
        if seen is not None:
            return seen.mine
        try:
            parent = await message.channel.fetch_message(ref.message_id)
        except discord.HTTPException:
            return False
        return parent.author.id == me

    async def _submit(self, message: discord.Message, place: Place, me: discord.ClientUser) -> None:
        text = strip_mentions(message.content, self._my_ids(message, me))
        chain = await walk(message, me=me.id, index=self.chains, depth=self.settings.chain_depth)
        thread = place.fixed_thread or chain.key
        self.chains.remember(message.id, thread)
        files = await collect(
            message.attachments,
            max_text_bytes=self.settings.max_text_bytes,
            max_image_bytes=self.settings.max_image_bytes,
            max_images=self.settings.max_images,
            documents=self.store.documents,
        )
        if not text and not files.files and not place.dm:
            # A bare mention in a channel: a pointer, not the whole help for everyone to read.
            await self._tell(message, BARE_MENTION)
            return
        request = parse(text, skills=self.store.skills) if text or files.files else Request(kind=Kind.HELP, text="")
        ask = request.kind is Kind.ASK
        event = Event(
            platform=Platform.DISCORD,
            tenant=place.tenant,
            channel=place.channel,
            thread=thread,
            user=str(message.author.id),
            message_id=str(message.id),
            text=with_quotes(request.text, chain.quotes) if ask else request.text,
            kind=request.kind,
            priority=request.priority,
            args=request.args,
            attachments=tuple(files.files),
            context=() if ask else chain.quotes,
            roles=role_ids(message.author),
            user_name=message.author.display_name,
            tenant_name=place.tenant_name,
            channel_name=place.channel_name,
            ref=DiscordRef(
                mode=ReplyMode.CHANNEL,
                channel_id=str(place.post_to),
                guild_id=str(place.guild_id) if place.guild_id else None,
                reply_to=str(message.id),
                notices=tuple(files.notices),
            ).to_dict(),
        )
        await self._hand_over(message, event)

    async def _may_post(self, message: discord.Message) -> bool:
        """Show that the message arrived; where Discord refuses even that, the bot may not post there.

        Then the member hears it in a direct message, and the engine is not asked for an answer that
        could not be shown.
        """
        try:
            await message.channel.typing()
        except discord.Forbidden:
            log.info("may not post in channel %s; telling %s directly", message.channel.id, message.author.id)
            try:
                await message.author.send(CANNOT_POST.format(channel=message.channel.id))
            except discord.HTTPException as exc:
                log.warning("could not tell %s about channel %s: %s", message.author.id, message.channel.id, exc)
            return False
        except discord.HTTPException as exc:
            log.info("typing indicator refused in channel %s: %s", message.channel.id, exc)
        return True

    async def _hand_over(self, message: discord.Message, event: Event) -> None:
        handed = await asyncio.to_thread(self.store.submit, event)
        # A limit's words change with the wait ("in about 40 seconds"); the rule's words are the rule.
        reason = "limit" if handed.retry_after is not None else handed.message
        if handed.turned is Turned.REFUSED and not await self._notice_due(Notice(event.tenant, event.user, reason)):
            log.info("event %s refused; %s was told so a moment ago", event.key, message.author.id)
        elif handed.turned is not None:
            await self._tell(message, handed.message)
        elif handed.accepted:
            log.info("event %s queued (%s)", event.key, event.kind)

    async def _notice_due(self, notice: Notice) -> bool:
        """A refusal to a plain message is a public reply: said once per member and reason in a window
        (a new reason is news), however many bot processes hear the member ask."""
        return await asyncio.to_thread(self.store.notices.due, notice)

    async def _tell(self, message: discord.Message, text: str) -> None:
        try:
            await message.reply(text, mention_author=False, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException:
            log.warning("could not tell %s in channel %s: %s", message.author.id, message.channel.id, text)
