"""Many workspaces: slack_sdk's SQLAlchemy OAuth stores on LLMOS's own tables, tokens encrypted at rest.

The stores are slack_sdk's own (so bolt's OAuth flow, token lookup and uninstall handling work as
documented); they only point at the tables Alembic migrates (`db/models.py`) and seal every token
with Fernet before it reaches the database. A database dump alone gives away no workspace.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bots.slack.settings import SlackSettings
from db import directory
from db.models import Base, SlackBot, SlackInstallation, SlackOAuthState
from workers.events import Platform

log = logging.getLogger(__name__)

SEALED = "fernet:"
_TOKEN_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
STATE_EXPIRATION_SECONDS = 600


class TokenCipher:
    """Fernet with rotation: SLACK_TOKEN_KEY lists keys, the first seals, any of them opens."""

    def __init__(self, keys: str) -> None:
        self._fernet = MultiFernet([Fernet(key.strip()) for key in keys.split(",") if key.strip()])

    def seal(self, value: str | None) -> str | None:
        if value is None or value.startswith(SEALED):
            return value
        return SEALED + self._fernet.encrypt(value.encode()).decode()

    def open(self, value: str | None) -> str | None:
        if value is None or not value.startswith(SEALED):
            return value
        try:
            return self._fernet.decrypt(value.removeprefix(SEALED).encode()).decode()
        except InvalidToken:
            log.error("a stored Slack token does not open with SLACK_TOKEN_KEY (was the key replaced, not rotated?)")
            return None


def _convert(entity: Any, convert: Any) -> None:
    for name in _TOKEN_FIELDS:
        if hasattr(entity, name):
            setattr(entity, name, convert(getattr(entity, name)))


class SealedInstallationStore(SQLAlchemyInstallationStore):
    def __init__(self, *, client_id: str, engine: Engine, cipher: TokenCipher, sessions: sessionmaker[Session]) -> None:
        # slack_sdk's store, on the tables Alembic manages instead of a private MetaData.
        self.metadata = Base.metadata
        self.bots = SlackBot.__table__  # type: ignore[assignment]
        self.installations = SlackInstallation.__table__  # type: ignore[assignment]
        self.client_id = client_id
        self.engine = engine
        self._logger = log
        self._cipher = cipher
        self._sessions = sessions

    def save(self, installation: Installation) -> None:
        sealed = copy.copy(installation)
        _convert(sealed, self._cipher.seal)
        super().save(sealed)
        team = installation.team_id or installation.enterprise_id
        if team:
            # Each workspace is a tenant from the moment it installs, named as Slack names it.
            with self._sessions.begin() as session:
                directory.tenant(session, platform=Platform.SLACK, external_id=team, name=installation.team_name or "")
        log.info("Slack app installed in workspace %s (%s)", team, installation.team_name)

    def save_bot(self, bot: Bot) -> None:
        sealed = copy.copy(bot)
        _convert(sealed, self._cipher.seal)
        super().save_bot(sealed)

    def find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        bot = super().find_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        if bot is not None:
            _convert(bot, self._cipher.open)
        return bot

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        found = super().find_installation(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, is_enterprise_install=is_enterprise_install
        )
        if found is not None:
            _convert(found, self._cipher.open)
        return found


class StateStore(SQLAlchemyOAuthStateStore):
    """slack_sdk's OAuth state store (one-time `state` values against CSRF) on LLMOS's table."""

    def __init__(self, *, engine: Engine, expiration_seconds: int = STATE_EXPIRATION_SECONDS) -> None:
        self.expiration_seconds = expiration_seconds
        self.engine = engine
        self._logger = log
        self.metadata = Base.metadata
        self.oauth_states = SlackOAuthState.__table__  # type: ignore[assignment]


def installation_store(
    settings: SlackSettings, *, engine: Engine, sessions: sessionmaker[Session]
) -> SealedInstallationStore | None:
    if not settings.oauth or settings.client_id is None or settings.token_key is None:
        return None
    return SealedInstallationStore(
        client_id=settings.client_id,
        engine=engine,
        cipher=TokenCipher(settings.token_key.get_secret_value()),
        sessions=sessions,
    )
