"""`MCP_CONFIG`: the MCP servers a deployment offers, in the `{"mcpServers": {...}}` shape MCP users write.

Each server is either stdio (`command`, `args`, `env`) or streamable HTTP (`url`, `headers`); LLMOS
adds two optional keys: `tenants` (the tenants that may use it; default every tenant) and `tools`
(an allow-list of the server's tools; default all of them). A bad file stops the process at start
with an error that names MCP_CONFIG and the server.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workers.settings import SettingsError

NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    # Tenants as `platform:external_id` (slack:T123) or the bare external id; None: every tenant.
    tenants: list[str] | None = None
    # The server's tools LLMOS offers; None: all of them.
    tools: list[str] | None = None
    # Seconds to wait for the server to start and list its tools.
    start_timeout: Annotated[float, Field(gt=0, le=300)] = 30.0

    @model_validator(mode="after")
    def _one_transport(self) -> ServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError('give either "command" (stdio) or "url" (streamable HTTP)')
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError('"url" must start with http:// or https://')
        return self

    def serves(self, platform: str, tenant: str) -> bool:
        return self.tenants is None or tenant in self.tenants or f"{platform}:{tenant}" in self.tenants

    def offers(self, tool: str) -> bool:
        return self.tools is None or tool in self.tools


class McpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    servers: dict[str, ServerConfig] = Field(default_factory=dict, alias="mcpServers")

    @model_validator(mode="after")
    def _names(self) -> McpConfig:
        for name in self.servers:
            if not NAME.match(name):
                raise ValueError(f"server name {name!r}: use letters, digits, _ and - (at most 32)")
        return self


def load(path: Path | None) -> McpConfig:
    if path is None:
        return McpConfig()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"MCP_CONFIG: cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise SettingsError(f"MCP_CONFIG: {path} is not JSON: {exc.msg} (line {exc.lineno})") from None
    try:
        return McpConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()]
        raise SettingsError(f"MCP_CONFIG: {path} is not a valid MCP configuration:\n  " + "\n  ".join(lines)) from None
