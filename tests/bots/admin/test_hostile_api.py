"""Out-of-range numbers, NaN and odd text in the admin API get 4xx answers, never a 500."""

from __future__ import annotations

import pytest

from tests.bots.admin.conftest import Admin

HUGE = 10**30


def test_out_of_range_numbers_and_nan_are_the_callers_mistake(admin: Admin) -> None:
    tenant_id = admin.tenant("admin", "acme")
    with admin.api() as api:
        bodies = [
            {"user_requests_per_minute": HUGE},
            {"user_requests_per_minute": 2**63},
            {"tenant_tokens_per_day": HUGE},
            {"weight": 1e300},
        ]
        for body in bodies:
            assert api.put(f"/api/tenants/{tenant_id}/limits", json=body).status_code == 422, body
        for raw in (b'{"weight": NaN}', b'{"weight": Infinity}', b'{"weight": -Infinity}'):
            answer = api.put(
                f"/api/tenants/{tenant_id}/limits", content=raw, headers={"Content-Type": "application/json"}
            )
            assert answer.status_code == 422, raw
        for path in (
            f"/api/tenants/{HUGE}",
            f"/api/tenants/{2**63}/limits",
            "/api/webhooks/99999999999999999999/deliveries",
        ):
            assert api.get(path).status_code in {404, 422}, path
        hook = api.post("/api/webhooks", json={"url": "https://example.com/x", "tenant_id": HUGE})
        assert hook.status_code in {404, 422}
        assert api.get("/api/usage", params={"tenant_id": HUGE}).status_code in {404, 422}


@pytest.mark.parametrize("text", ["\ud800", "a\x00b", "\udfff\ud800"])
def test_unencodable_text_gets_no_500(admin: Admin, text: str) -> None:
    tenant_id = admin.tenant("admin", "acme")
    escaped = text.encode("unicode_escape").decode().replace("\\x00", "\\u0000")
    raw = ('{"name": "' + escaped + '"}').encode()
    with admin.api() as api:
        answer = api.patch(f"/api/tenants/{tenant_id}", content=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code < 500, answer.text
