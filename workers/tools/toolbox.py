"""Which tools one request is offered: the built-in ones and the MCP servers' ones, as a tenant allows.

A deployment's `MCP_CONFIG` says which servers (and which of their tools) each tenant may use; the
tenant's admins narrow that further with the tenant preference `tools_off` (names of tools switched
off, comma-separated), set through the admin API. A tool not allowed is never offered, so the model
never sees its name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from mcp import types as mcp_types

from workers.tools import mcpconfig
from workers.tools.base import Tool, ToolContext, ToolError
from workers.tools.builtin import BUILTIN
from workers.tools.mcpclient import McpManager, ServerDown

log = logging.getLogger(__name__)

# The tenant preference holding the tools an admin switched off.
TOOLS_OFF = "tools_off"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def switched_off(prefs: Mapping[str, str]) -> frozenset[str]:
    return frozenset(name.strip() for name in prefs.get(TOOLS_OFF, "").split(",") if name.strip())


def exposed_name(server: str, tool: str) -> str:
    """The name the model sees: the server's name first, so two servers' tools never collide (max 64)."""
    return _UNSAFE.sub("_", f"{server}__{tool}")[:64]


def result_text(result: mcp_types.CallToolResult) -> str:
    parts = []
    for block in result.content:
        if isinstance(block, mcp_types.TextContent):
            parts.append(block.text)
        else:
            parts.append(f"[{getattr(block, 'type', 'content')} not shown]")
    text = "\n".join(parts)
    if not text and result.structured_content is not None:
        text = str(result.structured_content)
    if result.is_error:
        raise ToolError(text or "the tool reported an error")
    return text


class Toolset:
    """Every tool this worker process can offer; one per process, built at its entry point."""

    def __init__(self, *, mcp: mcpconfig.McpConfig | None = None, timeout: float = 20.0) -> None:
        self.config = mcp or mcpconfig.McpConfig()
        self.timeout = timeout
        self.mcp = McpManager(self.config.servers)

    @classmethod
    def from_file(cls, path: Path | None, *, timeout: float) -> Toolset:
        return cls(mcp=mcpconfig.load(path), timeout=timeout)

    def offered(self, *, platform: str, tenant: str, prefs: Mapping[str, str]) -> list[Tool]:
        off = switched_off(prefs)
        allowed = self._allowed(
            platform=platform, tenant=tenant, skip=frozenset(n[:-3] for n in off if n.endswith("__*"))
        )
        return [tool for tool in allowed if tool.name not in off]

    def _allowed(self, *, platform: str, tenant: str, skip: frozenset[str] = frozenset()) -> Iterable[Tool]:
        yield from BUILTIN
        for server, config in self.config.servers.items():
            if server in skip or not config.serves(platform, tenant):
                continue
            try:
                listed = self.mcp.tools(server)
            except ServerDown as exc:
                log.warning("MCP server %s is not offered: %s", server, exc)
                continue
            for spec in listed:
                if config.offers(spec.name):
                    yield self._wrap(server, spec)

    def _wrap(self, server: str, spec: mcp_types.Tool) -> Tool:
        schema: dict[str, Any] = dict(spec.input_schema or {"type": "object", "properties": {}})
        return Tool(
            name=exposed_name(server, spec.name),
            description=spec.description or spec.title or spec.name,
            parameters=schema,
            run=partial(self._call, server, spec.name),
            label=spec.title or spec.name,
            source=server,
        )

    def _call(self, server: str, tool: str, arguments: Mapping[str, Any], _ctx: ToolContext) -> str:
        return result_text(self.mcp.call(server, tool, dict(arguments), timeout=self.timeout))

    def close(self) -> None:
        self.mcp.close()
