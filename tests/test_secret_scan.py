"""The suite's secret scan recognises what it is meant to find (its report is at the end of every run)."""

from __future__ import annotations

import logging

import pytest

from tests.fixtures import secret_scan
from tests.fixtures.fake_slack_api import BOT_TOKEN


def test_the_scan_finds_static_patterned_and_remembered_secrets() -> None:
    secret_scan.remember("hook-secret-abcdefghijkl", "hook secret")
    assert "Slack bot token" in secret_scan._found(f"posting with {BOT_TOKEN}")
    assert secret_scan._found("key llmos_0123456789ab_" + "x" * 43) == ["admin key"]
    assert secret_scan._found("signed with hook-secret-abcdefghijkl") == ["hook secret"]
    assert secret_scan._found("key id 0123456789ab, host example.com") == []


def test_the_scanner_sees_info_records(caplog: pytest.LogCaptureFixture) -> None:
    before = len(secret_scan._scanner.leaks)
    logging.getLogger("tests.scan").info("nothing secret here")
    assert len(secret_scan._scanner.leaks) == before
    assert logging.getLogger().isEnabledFor(logging.INFO)
