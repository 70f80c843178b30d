"""How each surface is used, for the help it shows: the same commands, written its own way.

Slack reaches everything through one `/llmos` command; Discord registers some slash commands with
named options and reaches the other skills with a mention; the terminal and web chat take `/name`
as typed. Help (and every reply that names a command) renders a usage through its surface's guide,
so nobody is told to type a command their platform rejects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Guide:
    # How a command with a name of its own is written here.
    command: str = "/{name}"
    # How a skill without a command of its own here is reached (Discord: through a mention).
    elsewhere: str = "/{name}"
    # The names that have a command of their own; None: every name.
    native: frozenset[str] | None = None
    # Usages written differently here (Discord's named options), by name.
    written: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # What a workspace is called here.
    tenant: str = "workspace"
    # Options are named (`/prefs action:set key:language`), not typed in order.
    named_options: bool = False
    # Ways in that only this surface has (shortcuts, menus, a home tab, its admin commands).
    extras: tuple[str, ...] = ()

    def way(self, usage: str, *, listing: bool = False) -> str:
        """`/summarize [n]` as it is typed on this surface (`listing`: as help lists it, options and all)."""
        name, _, rest = usage.removeprefix("/").partition(" ")
        if listing and name in self.written:
            return self.written[name]
        native = self.native is None or name in self.native
        head = (self.command if native else self.elsewhere).format(name=name)
        return f"{head} {rest}" if rest else head

    def prefs(self, action: str, key: str = "", value: str = "") -> str:
        """How to run `/prefs <action> <key> <value>` here."""
        given = (("action", action), ("key", key), ("value", value))
        words = [f"{name}:{said}" if self.named_options else said for name, said in given if said]
        return " ".join([self.way("/prefs"), *words])


PLAIN = Guide()

SLACK = Guide(
    command="/llmos {name}",
    elsewhere="/llmos {name}",
    extras=(
        "• Mention @LLMOS in a channel or message me directly; in a thread I answer in, just keep talking",
        "• Stop an answer as it is written: its Stop button, /llmos stop, or “stop” in its thread",
        "• Message shortcuts (a message's ⋯ menu): Summarize thread, Translate, Draft a reply — only you see "
        "the result",
        "• The LLMOS app's Home tab shows your preferences and changes them",
        "• Workspace admins: /llmos admin help",
    ),
)

# Discord's registered slash commands (bots/discord/commands.py registers exactly these).
DISCORD_COMMANDS = frozenset(
    {
        "ask",
        "summarize",
        "translate",
        "prefs",
        "forget",
        "remember",
        "memories",
        "forget-memory",
        "knowledge",
        "usage",
        "help",
        "stop",
    }
)

DISCORD = Guide(
    command="/{name}",
    elsewhere="@LLMOS /{name}",
    native=DISCORD_COMMANDS,
    written=MappingProxyType(
        {
            "ask": "/ask question: [skill:]",
            "summarize": "/summarize [count:]",
            "translate": "/translate language: text:",
            "prefs": "/prefs [action:] [key:] [value:]",
            "remember": "/remember fact:",
            "forget-memory": "/forget-memory which:",
            "knowledge": "/knowledge [forget:]",
        }
    ),
    tenant="server",
    named_options=True,
    extras=(
        "• Mention @LLMOS, reply to my messages, or message me directly; in my threads just keep talking",
        "• /stop (or the Stop button) stops the answer I am writing for you here",
        "• A message's Apps menu: Translate (into your Discord language) or Summarize — only you see the result",
        "• Server admins (Manage Server): /admin",
    ),
)

WEB = Guide(extras=("• Anything without a / is a question; New (next to Send) starts a fresh conversation",))

GUIDES: Mapping[str, Guide] = MappingProxyType({"slack": SLACK, "discord": DISCORD, "web": WEB})


def guide_for(platform: str) -> Guide:
    return GUIDES.get(platform, PLAIN)
