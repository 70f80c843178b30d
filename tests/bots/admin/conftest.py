"""The admin service on the test stack: a real HTTP server on a free port, keys, hooks and signed posts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

import db.admin  # noqa: F401 - the admin tables must be on Base for clear_tables
from bots.admin import keys, signing
from bots.admin.service import AdminService
from bots.admin.settings import load_admin_settings
from db import directory
from db.models import Tenant
from tests.fixtures.secret_scan import remember
from workers.stack import Stack


def admin_settings(**overrides: object) -> Any:
    values: dict[str, object] = {
        "_env_file": None,
        "port": 0,
        "poll_seconds": 0.05,
        "delivery_backoff_seconds": 0.05,
        "delivery_backoff_max_seconds": 0.2,
        "delivery_attempts": 4,
        "allow_private_urls": True,
        "engine_check_seconds": 0.2,
        "open_chat": "true",
    }
    values.update(overrides)
    return load_admin_settings(**values)


@dataclass
class Admin:
    service: AdminService
    stack: Stack
    global_key: str

    @property
    def url(self) -> str:
        return self.service.url

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=15.0)

    def api(self, key: str | None = None) -> httpx.Client:
        return self.client(self.global_key if key is None else key)

    def tenant(self, platform: str, external_id: str, name: str = "") -> int:
        with self.stack.sessions.begin() as session:
            row = directory.tenant(session, platform=platform, external_id=external_id, name=name)
            session.flush()
            return row.id

    def key_for(self, tenant_id: int | None, name: str = "test") -> str:
        with self.stack.sessions.begin() as session:
            return remember(keys.create(session, tenant_id=tenant_id, name=name).token, "admin key")

    def hook(self, tenant_id: int, name: str = "ci") -> tuple[int, str]:
        body = self.api().post(f"/api/tenants/{tenant_id}/hooks", json={"name": name})
        assert body.status_code == 201, body.text
        return body.json()["id"], remember(body.json()["secret"], "hook secret")


def signed_post(
    admin: Admin, hook_id: int, secret: str, job: dict[str, Any] | bytes, *, now: float | None = None
) -> httpx.Response:
    body = job if isinstance(job, bytes) else json.dumps(job).encode()
    headers = {"Content-Type": "application/json", **signing.signed_headers(secret, body, now=now)}
    with admin.client() as client:
        return client.post(f"/hooks/{hook_id}/jobs", content=body, headers=headers)


def wait_job(admin: Admin, tenant_id: int, job_id: str, *, until: set[str], timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with admin.api() as api:
        while True:
            job = api.get(f"/api/tenants/{tenant_id}/jobs/{job_id}").json()
            if job.get("status") in until or time.monotonic() > deadline:
                return dict(job)
            time.sleep(0.05)


@pytest.fixture
def admin(clean_stack: Stack) -> Iterator[Admin]:
    service = AdminService.for_stack(clean_stack, admin_settings(), metrics_settle=0.0)
    service.start()
    try:
        with clean_stack.sessions.begin() as session:
            token = remember(keys.create(session, tenant_id=None, name="global test key").token, "admin key")
        yield Admin(service=service, stack=clean_stack, global_key=token)
    finally:
        service.stop()


def tenant_ids(admin: Admin) -> dict[str, int]:
    with admin.stack.sessions() as session:
        return {f"{t.platform}:{t.external_id}": t.id for t in session.scalars(select(Tenant))}
