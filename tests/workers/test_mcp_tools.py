"""MCP servers' tools on the task path: a real server over stdio and one over streamable HTTP."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.simulator import SimulatedEngine
from tests.fixtures.mcp_servers import http_server
from tests.helpers import chat
from tests.workers.toolscript import call_once, offered, tool_messages, use
from workers.settings import SettingsError
from workers.stack import Stack
from workers.tools import mcpconfig
from workers.tools.toolbox import Toolset

STDIO = {"command": sys.executable, "args": ["-m", "tests.fixtures.mcp_servers"], "tools": None}


@pytest.fixture(scope="module")
def toolset() -> Iterator[Toolset]:
    with http_server() as url:
        config = mcpconfig.McpConfig.model_validate(
            {
                "mcpServers": {
                    "wh": {**STDIO, "tools": ["add", "stock", "slow", "crash", "huge", "broken"]},
                    "web": {"url": url, "tools": ["stock"]},
                    "private": {**STDIO, "tenants": ["terminal:someone-else"]},
                }
            }
        )
        tools = Toolset(mcp=config, timeout=1.5)
        try:
            yield tools
        finally:
            tools.close()


@pytest.fixture
def mcp_stack(clean_stack: Stack, toolset: Toolset) -> Iterator[Stack]:
    runtime = clean_stack.runtime
    assert runtime is not None
    before, runtime.tools = runtime.tools, toolset
    try:
        yield clean_stack
    finally:
        runtime.tools = before


def test_a_stdio_servers_result_reaches_the_answer(mcp_stack: Stack, simulator: SimulatedEngine) -> None:
    use(simulator, call_once("wh__stock", item="bolts"))
    said = chat(mcp_stack, "How many bolts are left?")
    assert said.code == 0, said.err
    assert said.out == "The tool said: bolts: 42 units in aisle 7\n"
    assert "Using stock…" in said.err


def test_a_streamable_http_servers_result_reaches_the_answer(mcp_stack: Stack, simulator: SimulatedEngine) -> None:
    use(simulator, call_once("web__stock", item="nuts"))
    said = chat(mcp_stack, "How many nuts are left?")
    assert said.out == "The tool said: nuts: 42 units in aisle 7\n"


def test_only_allowed_tools_of_allowed_servers_are_offered(mcp_stack: Stack, simulator: SimulatedEngine) -> None:
    chat(mcp_stack, "What can you do?")
    names = set(offered(simulator.requests[-1].body))
    assert {"wh__add", "wh__stock", "web__stock", "calculate"} <= names
    # Not in the server's allow-list, and a server for another tenant only.
    assert "wh__secret" not in names and "web__add" not in names
    assert not any(name.startswith("private__") for name in names)


def test_a_hanging_tool_becomes_an_error_the_model_reads(mcp_stack: Stack, simulator: SimulatedEngine) -> None:
    use(simulator, call_once("wh__slow", seconds=30))
    said = chat(mcp_stack, "Take your time")
    assert said.code == 0
    assert tool_messages(simulator) == ["Error: the tool 'slow' did not answer within 1.5 s"]


def test_a_crashed_server_is_started_again(mcp_stack: Stack, simulator: SimulatedEngine) -> None:
    use(simulator, call_once("wh__crash"))
    said = chat(mcp_stack, "Crash it")
    assert said.code == 0
    assert "stopped during the call" in tool_messages(simulator)[0]
    use(simulator, call_once("wh__add", a=2, b=40))
    said = chat(mcp_stack, "Add 2 and 40")
    assert said.out.startswith("The tool said: 2 + 40 = 42")


def test_a_huge_result_is_cut(mcp_stack: Stack, simulator: SimulatedEngine) -> None:
    use(simulator, call_once("wh__huge", size=100_000))
    chat(mcp_stack, "Everything please")
    result = tool_messages(simulator)[0]
    assert mcp_stack.runtime is not None
    # The setting's cap, or the model's context window in characters if that is smaller.
    limit = min(mcp_stack.settings.tool_result_max_chars, mcp_stack.runtime.engine.context_window())
    assert result == "x" * limit + f"\n[… result cut: {100_000 - limit} more characters not shown]"


def test_a_tool_error_is_told_to_the_model(mcp_stack: Stack, simulator: SimulatedEngine) -> None:
    use(simulator, call_once("wh__broken"))
    said = chat(mcp_stack, "Try the broken one")
    assert said.code == 0
    assert tool_messages(simulator)[0].startswith("Error: ")


def test_a_bad_config_names_the_variable_and_the_server(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"both": {"command": "x", "url": "http://h/mcp"}}}))
    with pytest.raises(SettingsError, match=r"(?s)MCP_CONFIG: .*mcpServers\.both.*either \"command\""):
        mcpconfig.load(path)
    path.write_text("{not json")
    with pytest.raises(SettingsError, match=r"MCP_CONFIG: .* is not JSON"):
        mcpconfig.load(path)
    with pytest.raises(SettingsError, match="MCP_CONFIG: cannot read"):
        mcpconfig.load(tmp_path / "missing.json")


def test_a_server_that_will_not_start_is_left_out_and_rested(caplog: pytest.LogCaptureFixture) -> None:
    config = mcpconfig.McpConfig.model_validate(
        {
            "mcpServers": {
                "mute": {"command": sys.executable, "args": ["-c", "import time; time.sleep(60)"], "start_timeout": 1},
                "gone": {"command": "/nonexistent/mcp-server"},
            }
        }
    )
    tools = Toolset(mcp=config)
    try:
        started = time.monotonic()
        names = [tool.name for tool in tools.offered(platform="terminal", tenant="local", prefs={})]
        first = time.monotonic() - started
        assert names == ["current_time", "calculate", "search_conversations", "remember"]
        assert 0.9 < first < 10
        started = time.monotonic()
        tools.offered(platform="terminal", tenant="local", prefs={})
        # Not started again at once: the next request does not wait for it.
        assert time.monotonic() - started < 0.5
        assert "did not start within 1 s" in caplog.text and "trying again in" in caplog.text
    finally:
        tools.close()
