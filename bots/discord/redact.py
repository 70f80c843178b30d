"""discord.py logs each request's URL at DEBUG, and a webhook's or an interaction's URL carries its token
(`/webhooks/<id>/<token>`): with `LOG_LEVEL=debug` every answer streamed through an interaction would
write a live token to the logs. The token is cut out of those records; the rest of the line stays."""

from __future__ import annotations

import logging
import re

TOKEN_IN_PATH = re.compile(r"(/webhooks/\d+/)[^/?#\s]+")
# The loggers that print request URLs: the bot's HTTP client and the two webhook clients.
LOGGERS = ("discord.http", "discord.webhook.async_", "discord.webhook.sync")


def _hidden(value: object) -> object:
    text = value if isinstance(value, str) else None
    if text is None and not isinstance(value, int | float | bytes | type(None)):
        text = str(value)  # a yarl URL or a Route, printed with %s
    if text is None or "/webhooks/" not in text:
        return value
    return TOKEN_IN_PATH.sub(r"\1…", text)


class HideWebhookTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_hidden(arg) for arg in record.args)
        if isinstance(record.msg, str) and "/webhooks/" in record.msg:
            record.msg = TOKEN_IN_PATH.sub(r"\1…", record.msg)
        return True


def hide_webhook_tokens() -> None:
    """Install the filter on discord.py's URL-printing loggers, once."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, HideWebhookTokens) for f in logger.filters):
            logger.addFilter(HideWebhookTokens())
