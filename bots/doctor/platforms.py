"""Doctor checks for the chat platforms: Slack's tokens and scopes, Discord's token and intents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import yaml
from slack_sdk.errors import SlackApiError

from bots.discord.settings import DiscordSettings
from bots.doctor import Finding, bad, good
from bots.slack.settings import SlackSettings
from bots.slack.web import error_code, web_client

MANIFEST = Path(__file__).resolve().parents[1] / "slack" / "manifest.yaml"
# Application flags that say the Message Content intent is on (verified apps, and apps under 100 servers).
MESSAGE_CONTENT_FLAGS = (1 << 18) | (1 << 19)
SLACK_APPS = "https://api.slack.com/apps"
DISCORD_PORTAL = "https://discord.com/developers/applications"


def manifest_scopes() -> set[str]:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return set(manifest["oauth_config"]["scopes"]["bot"])


def slack(settings: SlackSettings) -> Iterator[Finding]:
    if not settings.configured and settings.bot_token is None:
        yield good("slack", "not configured (no SLACK_SIGNING_SECRET or SLACK_APP_TOKEN)")
        return
    if settings.bot_token is not None:
        yield from _bot_token(settings, settings.bot_token.get_secret_value())
    elif settings.oauth:
        yield good("slack", "OAuth installs: each workspace's token is checked when it installs")
    if settings.app_token is not None:
        app_token = settings.app_token.get_secret_value()
        try:
            web_client(settings).apps_connections_open(app_token=app_token)
        except SlackApiError as exc:
            fix = f"create an app-level token with connections:write ({SLACK_APPS} → Basic Information)"
            yield bad("slack socket mode", f"SLACK_APP_TOKEN refused: {error_code(exc) or exc}", fix)
        else:
            yield good("slack socket mode", "SLACK_APP_TOKEN opens a Socket Mode connection")


def _bot_token(settings: SlackSettings, token: str) -> Iterator[Finding]:
    client = web_client(settings, token=token)
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        fix = f"copy the Bot User OAuth Token (xoxb-…) from {SLACK_APPS} → OAuth & Permissions"
        yield bad("slack", f"SLACK_BOT_TOKEN refused by auth.test: {error_code(exc) or exc}", fix)
        return
    yield good("slack", f"SLACK_BOT_TOKEN is the bot of team {response.get('team_id')}")
    header = {name.lower(): value for name, value in response.headers.items()}.get("x-oauth-scopes")
    if header is None:
        yield bad("slack scopes", "Slack did not report the token's scopes", "check SLACK_API_URL points at Slack")
        return
    missing = manifest_scopes() - {scope.strip() for scope in header.split(",") if scope.strip()}
    if missing:
        fix = "add them under OAuth & Permissions (or recreate the app from bots/slack/manifest.yaml) and reinstall"
        yield bad("slack scopes", f"the token lacks {', '.join(sorted(missing))}", fix)
    else:
        yield good("slack scopes", "every scope in bots/slack/manifest.yaml is granted")


def discord(settings: DiscordSettings) -> Iterator[Finding]:
    if settings.token is None:
        yield good("discord", "not configured (no DISCORD_TOKEN)")
        return
    headers = {"Authorization": f"Bot {settings.token.get_secret_value()}"}
    with httpx.Client(base_url=settings.api_url.rstrip("/"), headers=headers, timeout=10.0) as http:
        try:
            me = http.get("/users/@me")
            app = http.get("/oauth2/applications/@me") if me.status_code == 200 else None
        except httpx.HTTPError as exc:
            yield bad("discord", f"cannot reach {settings.api_url}: {exc}", "check DISCORD_API_URL and the network")
            return
    if me.status_code == 401:
        yield bad("discord", "DISCORD_TOKEN refused (401)", f"copy the bot token from {DISCORD_PORTAL} → Bot")
        return
    if app is None or app.status_code != 200:
        yield bad("discord", f"Discord answered {me.status_code} for the bot's own user", "try again later")
        return
    yield good("discord", f"DISCORD_TOKEN is the bot {me.json().get('username')}")
    if not settings.message_content:
        yield good("discord intents", "Message Content not asked for (DISCORD_MESSAGE_CONTENT=false): mentions only")
    elif int(app.json().get("flags") or 0) & MESSAGE_CONTENT_FLAGS:
        yield good("discord intents", "the Message Content intent is on")
    else:
        yield bad(
            "discord intents",
            "the Message Content intent is off: the gateway will refuse the connection",
            f"turn on Message Content Intent at {DISCORD_PORTAL} → Bot, or set DISCORD_MESSAGE_CONTENT=false",
        )
