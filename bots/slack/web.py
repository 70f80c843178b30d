"""Slack Web API clients, built one way for the bolt app and the workers' sinks.

Every client points at `SLACK_API_URL` when it is set and retries what Slack asks to be retried:
a 429 after its Retry-After (the answer waits, it is not dropped) and a dropped connection.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, RetryHandler

from bots.slack.settings import SlackSettings

log = logging.getLogger(__name__)

SLACK_API = "https://slack.com/api/"
# Errors that mean the token itself is no good: nothing will work until someone reinstalls.
AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"})


class SlackAuthError(RuntimeError):
    """Slack refused the bot token; the workspace must reinstall the app or fix SLACK_BOT_TOKEN."""


def loggable(url: str) -> str:
    """A Web API method's URL as it is; any other URL (a response_url carries its secret in the path) as its host."""
    parts = urlsplit(url)
    if "/api/" in parts.path:
        return f"{parts.scheme}://{parts.netloc}{parts.path}"
    return f"{parts.scheme}://{parts.hostname or '?'}/…"


class _LoggedRateLimit(RateLimitErrorRetryHandler):
    def prepare_for_next_attempt(self, **kwargs: Any) -> None:
        response = kwargs.get("response")
        headers = response.headers if response is not None else {}
        wait = next((v for k, v in headers.items() if k.lower() == "retry-after"), ["?"])
        shown = loggable(kwargs["request"].url)
        log.warning("Slack rate-limited %s; waiting %s s (Retry-After) and retrying", shown, wait[0])
        super().prepare_for_next_attempt(**kwargs)


def retry_handlers(rate_limit_retries: int) -> list[RetryHandler]:
    return [ConnectionErrorRetryHandler(max_retry_count=2), _LoggedRateLimit(max_retry_count=rate_limit_retries)]


def api_url(settings: SlackSettings) -> str:
    base = settings.api_url or SLACK_API
    return base if base.endswith("/") else base + "/"


def web_client(settings: SlackSettings, *, token: str | None = None) -> WebClient:
    return WebClient(
        token=token,
        base_url=api_url(settings),
        timeout=30,
        retry_handlers=retry_handlers(settings.rate_limit_retries),
    )


def error_code(exc: SlackApiError) -> str:
    data = exc.response.data if exc.response is not None else None
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def check_auth(exc: SlackApiError, *, team: str) -> None:
    """Turn a refused token into a clear log line and a SlackAuthError; other errors pass through."""
    code = error_code(exc)
    if code in AUTH_ERRORS:
        log.error(
            "Slack refused the bot token of workspace %s (%s): reinstall the app there or fix SLACK_BOT_TOKEN",
            team,
            code,
        )
        raise SlackAuthError(f"Slack refused the bot token of workspace {team} ({code})") from exc
