"""Hook and webhook secrets encrypted at rest, with key rotation.

HMAC signing needs the shared secret itself, so it cannot be hashed like an admin key; it is sealed
with Fernet instead (AES-128-CBC + HMAC-SHA256), the way Slack installations' tokens are. The keys
come from ADMIN_SECRET_KEY, comma-separated: the first seals, any of them opens, and the admin
service re-seals every stored secret with the first key at start, so rotating is: put the new key
first, restart, then drop the old one. Without ADMIN_SECRET_KEY a key is made once and kept in a
file beside the SQLite database (mode 0600), which still keeps secrets out of database dumps.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.admin import InboundHook, Webhook

log = logging.getLogger(__name__)

SEALED = "fernet:"
KEY_FILE = "admin-secret.key"


class SecretUnreadable(RuntimeError):
    """A stored secret does not open with any configured key (a key was replaced instead of rotated)."""


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        found = [Fernet(k.strip()) for k in keys if k.strip()]
        if not found:
            raise ValueError("at least one Fernet key is needed")
        self._primary = found[0]
        self._all = MultiFernet(found)

    def seal(self, value: str) -> str:
        return SEALED + self._all.encrypt(value.encode()).decode()

    def open(self, value: str) -> str:
        """The secret; a value stored before secrets were sealed is returned as it is."""
        if not value.startswith(SEALED):
            return value
        try:
            return self._all.decrypt(value.removeprefix(SEALED).encode()).decode()
        except InvalidToken:
            raise SecretUnreadable("a stored secret does not open with ADMIN_SECRET_KEY") from None

    def current(self, value: str) -> bool:
        """Whether `value` is sealed with the first key already."""
        if not value.startswith(SEALED):
            return False
        try:
            self._primary.decrypt(value.removeprefix(SEALED).encode())
        except InvalidToken:
            return False
        return True

    def reseal(self, value: str) -> str:
        return value if self.current(value) else self.seal(self.open(value))


def key_file(home: Path) -> str:
    """The deployment's own key, made on first use, readable by this user only."""
    path = home / KEY_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as out:
            out.write(Fernet.generate_key().decode())
        log.info("made a key for hook and webhook secrets in %s (set ADMIN_SECRET_KEY to choose one)", path)
    return path.read_text(encoding="ascii").strip()


def box_for(keys: str | None, *, home: Path) -> SecretBox:
    return SecretBox((keys or key_file(home)).split(","))


def reseal_all(sessions: sessionmaker[Session], box: SecretBox) -> int:
    """Seal every secret still stored plain or under an older key; returns how many changed."""
    changed = 0
    with sessions.begin() as session:
        rows: list[InboundHook | Webhook] = [*session.scalars(select(InboundHook)), *session.scalars(select(Webhook))]
        for row in rows:
            try:
                sealed = box.reseal(row.secret)
            except SecretUnreadable:
                log.error("%s %d: its secret does not open with ADMIN_SECRET_KEY", row.__tablename__, row.id)
                continue
            if sealed != row.secret:
                row.secret = sealed
                changed += 1
    if changed:
        log.info("sealed %d hook and webhook secret(s) with the current key", changed)
    return changed
