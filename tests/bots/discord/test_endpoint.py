"""The HTTP interactions endpoint: Ed25519 verification (valid, invalid, tampered, stale), PING, and
a command answered through the same worker path as over the gateway."""

from __future__ import annotations

import json
import time

import httpx
from nacl.signing import SigningKey

from bots.discord.signature import Verifier
from bots.discord.surface import DiscordSurface
from tests.bots.discord.commands import slash
from tests.bots.discord.helpers import wait_done
from tests.fixtures.discord_fake import FakeDiscord

PING = {"id": "1", "application_id": "1", "type": 1, "token": "t", "version": 1}


def _url(surface: DiscordSurface) -> str:
    assert surface.bot is not None and surface.bot.endpoint is not None
    return str(surface.bot.endpoint.url)


def test_a_signed_ping_gets_pong(endpoint_bot: DiscordSurface, fake_discord: FakeDiscord):
    body, headers = fake_discord.signed(PING)
    response = httpx.post(_url(endpoint_bot), content=body, headers=headers)
    assert response.status_code == 200 and response.json() == {"type": 1}
    assert "interactions endpoint http://127.0.0.1:" in endpoint_bot.describe()


def test_bad_signatures_get_401(endpoint_bot: DiscordSurface, fake_discord: FakeDiscord):
    url = _url(endpoint_bot)
    body, headers = fake_discord.signed(PING)
    forged_key = SigningKey.generate()
    forged = {
        **headers,
        "X-Signature-Ed25519": forged_key.sign(headers["X-Signature-Timestamp"].encode() + body).signature.hex(),
    }
    tampered = json.dumps({**PING, "type": 2}).encode()
    stale_body, stale = fake_discord.signed(PING, timestamp=time.time() - 3600)
    cases = {
        "invalid": (body, forged),
        "tampered": (tampered, headers),
        "stale": (stale_body, stale),
        "unsigned": (body, {"Content-Type": "application/json"}),
        "garbage": (body, {**headers, "X-Signature-Ed25519": "zz"}),
    }
    for name, (sent, sent_headers) in cases.items():
        response = httpx.post(url, content=sent, headers=sent_headers)
        assert response.status_code == 401, name


def test_a_command_over_http_is_deferred_then_answered(
    endpoint_bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    payload = fake.interaction(slash("ask", question="over HTTP?"), channel=fake.world.general)
    status, answer = fake.deliver(_url(endpoint_bot), payload)
    assert status == 200 and answer == {"type": 5, "data": {"flags": 0}}
    wait_done(clean_stack, payload["id"])
    found = fake.world.interactions[int(payload["id"])]
    assert fake.run(lambda: fake.world.messages[found.original]["content"]) == "You said: over HTTP?"


def test_an_admin_command_over_http_checks_the_members_permissions(
    endpoint_bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack
):
    fake = fake_discord
    from tests.bots.discord.commands import admin

    payload = fake.interaction(admin("access", "list"), channel=fake.world.general, user="bob")
    status, answer = fake.deliver(_url(endpoint_bot), payload)
    assert status == 200 and answer["type"] == 5 and answer["data"]["flags"] == 64
    found = fake.world.interactions[int(payload["id"])]
    fake.wait_for(lambda: found.original is not None and fake.world.messages[found.original]["content"])
    assert fake.run(lambda: fake.world.messages[found.original]["content"]).startswith("Only members with the Manage")


def test_the_verifier_accepts_only_fresh_genuine_requests():
    key = SigningKey.generate()
    verifier = Verifier(public_key=key.verify_key.encode().hex(), max_age=300)
    body, stamp = b'{"type":1}', "1700000000"
    signature = key.sign(stamp.encode() + body).signature.hex()
    assert verifier.problem(signature=signature, timestamp=stamp, body=body, now=1700000010) == ""
    assert verifier.problem(signature=signature, timestamp=stamp, body=body + b" ", now=1700000010) == "bad signature"
    assert verifier.problem(signature=signature, timestamp=stamp, body=body, now=1700000400) == "stale timestamp"
    assert verifier.problem(signature=None, timestamp=stamp, body=body) == "missing signature headers"


def test_role_rules_apply_to_commands_over_http(endpoint_bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack):
    """Over HTTP there is no guild cache: the member's role ids still come from the payload."""
    from bots.core import admin
    from bots.discord.admin_commands import label
    from db.access import Subject

    fake = fake_discord
    admin.change_access(
        clean_stack.sessions,
        tenancy=admin.Tenancy(platform="discord", id=str(fake.world.guild_id)),
        change=admin.Change.BLOCK,
        named=[(Subject.ROLE, str(fake.world.member_role))],
        label=label,
    )
    payload = fake.interaction(slash("ask", question="may I?"), channel=fake.world.general, user="bob")
    status, _answer = fake.deliver(_url(endpoint_bot), payload)
    assert status == 200
    found = fake.world.interactions[int(payload["id"])]
    fake.wait_for(lambda: found.followups)
    said = fake.run(lambda: fake.world.messages[found.followups[0]])
    assert said["content"] == "Sorry, this role is blocked from using the assistant." and said["flags"] & 64
