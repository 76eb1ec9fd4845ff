"""Settings of ``mcp:``: remote MCP servers the cloud calls, and bridged ones the daemon calls."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from speaker.config.secret import Secret
from speaker.config.section import Section


class McpRemoteServer(Section):
    """An internet-reachable MCP server: the Realtime service calls it directly."""

    label: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    """Unique server label (letters, digits, _ and -)."""
    url: str
    """https:// endpoint of the server (the cloud must reach it)."""
    description: str | None = None
    """Tells the model what the server is for."""
    headers: dict[str, Secret] = Field(default_factory=dict)
    """Extra HTTP headers, each value a secret reference."""
    authorization: Secret | None = None
    """OAuth access token for the server (not together with an Authorization header)."""
    allowed_tools: list[str] | None = None
    """Only these tools of the server; null = all."""
    require_approval: Literal["never", "always"] | list[str] = "never"
    """'never', 'always', or a list of tool names that need approval: the speaker asks the user by voice and
    only a spoken yes approves (silence, no or anything unclear denies)."""
    ask: bool = True
    """false: tools that need approval are denied without asking (the behaviour before voice approval)."""
    deny: list[str] = Field(default_factory=list)
    """Tool names always denied without asking (whatever require_approval says)."""

    @model_validator(mode="after")
    def _auth(self) -> McpRemoteServer:
        if self.authorization is not None and any(k.lower() == "authorization" for k in self.headers):
            raise ValueError("give either 'authorization' or an Authorization header, not both")
        if not self.url.startswith("https://"):
            raise ValueError("url: a remote MCP server must be https:// (the cloud calls it)")
        return self


class McpBridgedServer(Section):
    """An MCP server on the LAN or a local program: we call it and expose its tools as functions."""

    label: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,32}$")
    """Unique server label; prefixes its tool names."""
    url: str | None = None
    """Streamable HTTP endpoint, e.g. Home Assistant's http://homeassistant.local:8123/api/mcp (not SSE)."""
    token: Secret | None = None
    """Bearer token (e.g. a Home Assistant long-lived access token)."""
    command: list[str] | None = None
    """Or a stdio server: the command and its arguments."""
    env: dict[str, str | Secret] = Field(default_factory=dict)
    """Extra environment for a stdio server; values may be secrets. Only HOME, PATH, USER… are inherited."""
    allowed_tools: list[str] | None = None
    """Only these tools of the server; null = all."""
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    """Timeout for connecting and for each call."""
    retry_s: float = Field(default=60.0, gt=0, le=3600)
    """How often an unreachable server is tried again."""

    @model_validator(mode="after")
    def _transport(self) -> McpBridgedServer:
        if (self.url is None) == (self.command is None):
            raise ValueError("give exactly one of 'url' (streamable HTTP) or 'command' (stdio)")
        if self.command is not None and not self.command:
            raise ValueError("command: must not be empty")
        return self


class McpSettings(Section):
    """MCP servers: remote ones run by the service, bridged ones called by us."""

    remote: list[McpRemoteServer] = Field(default_factory=list)
    """Internet-reachable servers the Realtime service calls directly."""
    bridged: list[McpBridgedServer] = Field(default_factory=list)
    """LAN or local (stdio) servers we call; their tools become functions named <label>__<tool>."""

    @model_validator(mode="after")
    def _labels(self) -> McpSettings:
        labels = [s.label for s in self.remote] + [s.label for s in self.bridged]
        if len(set(labels)) != len(labels):
            raise ValueError("server labels must be unique")
        return self
