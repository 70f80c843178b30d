"""LLMOS on Discord: a gateway bot that hands messages and commands to the workers, and the reply
sink the workers stream answers through over Discord's REST API (both with discord.py)."""

from bots.discord.redact import hide_webhook_tokens

# Whatever part of the Discord surface a process loads (the gateway bot, the interactions endpoint, the
# workers' sink), discord.py's debug lines never carry a webhook or interaction token.
hide_webhook_tokens()
