"""Admin keys: created and revoked from the command line, stored hashed, scoped to a tenant or global."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bots import cli
from db.admin import AdminKey
from tests.bots.admin.conftest import Admin

TOKEN = re.compile(r"llmos_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def llmos_env(admin: Admin, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", admin.stack.database_url)
    monkeypatch.setenv("REDIS_AUTODETECT", "false")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    return code, capsys.readouterr().out


def test_create_use_and_revoke_keys_from_the_command_line(admin: Admin, llmos_env: None, capsys) -> None:
    code, out = run_cli(capsys, "admin", "create-key", "--name", "ops")
    assert code == 0 and "global" in out
    global_token = TOKEN.search(out).group(0)
    code, out = run_cli(capsys, "admin", "create-key", "--tenant", "slack:T0TEAM", "--tenant-name", "Team")
    assert code == 0 and "slack:T0TEAM" in out
    tenant_token = TOKEN.search(out).group(0)

    with admin.client(global_token) as api:
        me = api.get("/api/whoami").json()
        assert me["global"] is True and me["name"] == "ops"
    with admin.client(tenant_token) as api:
        me = api.get("/api/whoami").json()
        assert me["global"] is False
        tenants = api.get("/api/tenants").json()
        assert [(t["platform"], t["external_id"], t["name"]) for t in tenants] == [("slack", "T0TEAM", "Team")]
        assert me["tenant_id"] == tenants[0]["id"]

    # Only hashes are stored: no column holds the secret half of either key.
    with admin.stack.sessions() as session:
        rows = session.scalars(select(AdminKey)).all()
        stored = " ".join(f"{r.key_id} {r.secret_hash} {r.name}" for r in rows)
    for token in (global_token, tenant_token):
        assert token.rsplit("_", 1)[1] not in stored

    code, out = run_cli(capsys, "admin", "list-keys")
    assert tenant_token.split("_")[1] in out and tenant_token.rsplit("_", 1)[1] not in out

    code, out = run_cli(capsys, "admin", "revoke-key", tenant_token.split("_")[1])
    assert code == 0 and "revoked" in out
    with admin.client(tenant_token) as api:
        assert api.get("/api/whoami").status_code == 401
    code, out = run_cli(capsys, "admin", "revoke-key", tenant_token.split("_")[1])
    assert code == 1 and "No active key" in out


def test_a_bad_tenant_argument_is_named(admin: Admin, llmos_env: None, capsys) -> None:
    assert cli.main(["admin", "create-key", "--tenant", "T0TEAM"]) == 2
    assert "--tenant: write PLATFORM:ID" in capsys.readouterr().err
    assert cli.main(["admin", "create-key", "--tenant-id", "999999"]) == 2
    assert "--tenant-id: no tenant 999999" in capsys.readouterr().err


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer llmos_",
        "Bearer not-a-key",
        "Bearer llmos_000000000000_" + "x" * 43,
        "Basic dXNlcjpwYXNz",
    ],
)
def test_every_api_route_needs_a_valid_key(admin: Admin, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    with admin.client() as client:
        for path in ("/api/whoami", "/api/tenants", "/api/usage", "/api/webhooks", "/api/notices", "/metrics"):
            response = client.get(path, headers=headers)
            assert response.status_code == 401, (path, response.text)
            assert "admin key" in response.json()["detail"]


def test_a_wrong_secret_for_a_real_key_id_is_refused(admin: Admin) -> None:
    key_id = admin.global_key.split("_")[1]
    with admin.client(f"llmos_{key_id}_" + "A" * 43) as api:
        assert api.get("/api/whoami").status_code == 401


def test_tenant_keys_cannot_use_global_routes(admin: Admin) -> None:
    tenant = admin.tenant("admin", "acme")
    with admin.api(admin.key_for(tenant)) as api:
        assert api.post("/api/tenants", json={"external_id": "evil"}).status_code == 403
        assert api.put(f"/api/tenants/{tenant}/limits", json={"tenant_tokens_per_day": 10**9}).status_code == 403
        assert api.get("/metrics").status_code == 403
        assert api.get(f"/api/tenants/{tenant}/limits").status_code == 200
