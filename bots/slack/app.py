"""The bolt app: one workspace with a bot token, or many through OAuth, with every listener wired in.

The scopes and events below are exactly what the listeners use; `manifest.yaml` declares the same
(a test holds the two together), so an admin grants nothing LLMOS does not need.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, Assistant, BoltContext, BoltResponse
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.error import BoltError
from slack_bolt.oauth.oauth_settings import OAuthSettings
from sqlalchemy import Engine

from bots.slack.admin import Admin
from bots.slack.commands import Commands
from bots.slack.comments import Comments
from bots.slack.controls import Controls
from bots.slack.home import Home
from bots.slack.messages import Conversations
from bots.slack.oauth import StateStore, installation_store
from bots.slack.services import Services
from bots.slack.web import web_client
from workers.settings import SettingsError

log = logging.getLogger(__name__)

BOT_SCOPES = (
    "app_mentions:read",
    "assistant:write",
    "channels:history",
    "chat:write",
    "commands",
    "files:read",
    "groups:history",
    "im:history",
    "mpim:history",
    "users:read",
)
BOT_EVENTS = (
    "app_home_opened",
    "app_mention",
    "app_uninstalled",
    "assistant_thread_context_changed",
    "assistant_thread_started",
    "message.channels",
    "message.groups",
    "message.im",
    "message.mpim",
    "tokens_revoked",
)


class _TokenIsUsed(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN from the environment goes unused when it is given a client;
    the client LLMOS gives it carries that very token, so the warning would only mislead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


_bolt_log = logging.getLogger("slack_bolt.App")
if not any(isinstance(f, _TokenIsUsed) for f in _bolt_log.filters):
    _bolt_log.addFilter(_TokenIsUsed())


def build_app(services: Services, *, engine: Engine) -> App:
    settings = services.settings
    signing_secret = settings.signing_secret.get_secret_value() if settings.signing_secret else ""
    if settings.oauth:
        app = _many_workspaces(services, engine=engine, signing_secret=signing_secret)
    else:
        assert settings.bot_token is not None
        # Bolt takes the token from the client it is given.
        client = web_client(settings, token=settings.bot_token.get_secret_value())
        try:
            app = App(signing_secret=signing_secret, client=client)
        except BoltError as exc:
            raise SettingsError(f"SLACK_BOT_TOKEN: Slack did not accept it ({exc})") from None
        app.event("app_uninstalled")(_uninstalled)
        app.event("tokens_revoked")(_uninstalled)
    admin = Admin(sessions=services.sessions, people=services.people, rate_ceiling=services.rate_ceiling)
    Conversations(services).register(app, Assistant())
    Commands(services, admin).register(app)
    Home(services).register(app)
    Controls(services, admin).register(app)
    Comments(services).register(app)
    app.error(_failed)
    return app


def _many_workspaces(services: Services, *, engine: Engine, signing_secret: str) -> App:
    """OAuth installs: each workspace's token comes from the sealed installation store."""
    settings = services.settings
    store = installation_store(settings, engine=engine, sessions=services.sessions)
    assert store is not None and settings.client_secret is not None
    client = web_client(settings)
    oauth = OAuthSettings(
        client_id=settings.client_id,
        client_secret=settings.client_secret.get_secret_value(),
        scopes=list(BOT_SCOPES),
        redirect_uri=settings.redirect_uri,
        installation_store=store,
        installation_store_bot_only=True,
        state_store=StateStore(engine=engine),
    )
    # Cached: bolt otherwise calls auth.test for every single event.
    authorize = InstallationStoreAuthorize(
        installation_store=store,
        client_id=settings.client_id,
        client_secret=settings.client_secret.get_secret_value(),
        cache_enabled=True,
        bot_only=True,
        client=client,
        logger=log,
    )
    app = App(
        signing_secret=signing_secret,
        client=client,
        authorize=authorize,  # type: ignore[arg-type]  # bolt types it as a plain callable
        installation_store=store,
        oauth_settings=oauth,
    )
    # tokens_revoked and app_uninstalled delete the workspace's installation from the store.
    app.enable_token_revocation_listeners()
    return app


def _uninstalled(context: BoltContext) -> None:
    log.warning("LLMOS was uninstalled from Slack workspace %s (or its tokens revoked)", context.team_id)


def _failed(error: Exception, body: dict[str, Any]) -> BoltResponse:
    """Logged, and acknowledged: Slack would only retry the same payload into the same failure."""
    kind = body.get("event", {}).get("type") or body.get("type") or body.get("command")
    log.error("Slack listener for %s failed: %s", kind, error, exc_info=error)
    return BoltResponse(status=200, body="")
