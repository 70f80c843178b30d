"""Hook and webhook secrets are sealed at rest, still sign and verify, rotate, and get sealed by the migration."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from bots.admin.sealing import SEALED, SecretBox, SecretUnreadable, box_for, reseal_all
from db.admin import InboundHook, Webhook
from db.migrate import upgrade
from db.session import make_engine
from tests.bots.admin.conftest import Admin, signed_post


def test_a_box_seals_opens_and_rotates() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = SecretBox([old])
    sealed = before.seal("s3cret")
    assert sealed.startswith(SEALED) and "s3cret" not in sealed
    rotated = SecretBox([new, old])
    assert rotated.open(sealed) == "s3cret" and not rotated.current(sealed)
    resealed = rotated.reseal(sealed)
    assert rotated.current(resealed) and SecretBox([new]).open(resealed) == "s3cret"
    assert rotated.open("plain-from-before") == "plain-from-before"
    with pytest.raises(SecretUnreadable):
        SecretBox([new]).open(sealed)


def test_without_a_configured_key_one_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = box_for(None, home=tmp_path)
    sealed = first.seal("x")
    assert box_for(None, home=tmp_path).open(sealed) == "x"
    assert (tmp_path / "admin-secret.key").stat().st_mode & 0o777 == 0o600


def test_hook_and_webhook_secrets_are_stored_sealed(admin: Admin) -> None:
    tenant_id = admin.tenant("admin", "acme")
    hook_id, secret = admin.hook(tenant_id)
    with admin.api() as api:
        made = api.post("/api/webhooks", json={"url": "https://example.com/in"}).json()
    with admin.stack.sessions() as session:
        stored = [session.get(InboundHook, hook_id).secret, session.get(Webhook, made["id"]).secret]  # type: ignore[union-attr]
    assert all(s.startswith(SEALED) for s in stored)
    assert secret not in stored[0] and made["secret"] not in stored[1]
    job = {"skill": "ask", "input": "hi", "destination": {"type": "callback", "url": "https://example.com/cb"}}
    assert signed_post(admin, hook_id, secret, job).status_code == 202


def test_the_service_seals_plain_and_old_secrets_when_it_starts(admin: Admin) -> None:
    tenant_id = admin.tenant("admin", "acme")
    with admin.stack.sessions.begin() as session:
        session.add(InboundHook(tenant_id=tenant_id, name="legacy", secret="plain-legacy-secret"))
    assert reseal_all(admin.stack.sessions, admin.service.box) == 1
    with admin.stack.sessions() as session:
        stored = session.scalars(select(InboundHook.secret).where(InboundHook.name == "legacy")).one()
    assert stored.startswith(SEALED) and admin.service.box.open(stored) == "plain-legacy-secret"
    assert reseal_all(admin.stack.sessions, admin.service.box) == 0


def test_the_migration_seals_existing_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "slack_0001")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (platform, external_id, name, created_at) VALUES ('admin', 'a', '', '2026-01-01')"
            )
        )
        hook = "INSERT INTO admin_hooks (tenant_id, name, secret, created_at) VALUES (1, 'h', :s, '2026-01-01')"
        conn.execute(text(hook), {"s": "old-plain"})
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("ADMIN_SECRET_KEY", key)
    upgrade(url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT secret FROM admin_hooks")).scalar_one()
    engine.dispose()
    assert stored.startswith(SEALED) and SecretBox([key]).open(stored) == "old-plain"
