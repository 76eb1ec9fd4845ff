"""Remote MCP servers: internet-reachable servers that the Realtime service itself calls.

They go into the session config as GA ``type: "mcp"`` tools (``session_mcp_tools``). The client
never runs their tools; it only watches the list/call events and answers approval requests
(``McpEventHandler``). Secrets (headers, the OAuth ``authorization``) are revealed only into the
tool dicts handed to the transport; anything logged or printed goes through ``redact_session``.
"""

from __future__ import annotations

import copy
import logging
import uuid
from typing import Any

from speaker.config.schema import McpRemoteServer, McpSettings
from speaker.core.approval import McpQuestion
from speaker.errors import SecretError
from speaker.realtime import events as rt
from speaker.realtime.events import McpEvent

log = logging.getLogger(__name__)

REDACTED = "***"
APPROVAL_DENIED_REASON = "denied by the speaker's configuration (no voice approval for this tool)"

# item types (GA)
ITEM_LIST_TOOLS = "mcp_list_tools"
ITEM_CALL = "mcp_call"
ITEM_APPROVAL_REQUEST = "mcp_approval_request"
ITEM_APPROVAL_RESPONSE = "mcp_approval_response"
ITEM_CREATE = "conversation.item.create"


# --------------------------------------------------------------------------- session config


def session_mcp_tools(settings: McpSettings) -> list[dict[str, Any]]:
    """The GA ``type: "mcp"`` tools for ``session.tools``, one per remote server.

    A server whose secret cannot be read (unset variable, missing file) is left out with a warning
    naming the source, so one bad entry does not stop the speaker. The returned dicts hold revealed
    secrets: send them, never log them (use ``redact_session``)."""
    tools: list[dict[str, Any]] = []
    for server in settings.remote:
        try:
            tools.append(mcp_tool(server))
        except SecretError as exc:
            log.warning("remote MCP server %s left out of the session: %s", server.label, exc)
    return tools


def mcp_tool(server: McpRemoteServer) -> dict[str, Any]:
    """One remote server as a GA MCP tool. Raises SecretError if its secret cannot be read."""
    tool: dict[str, Any] = {"type": "mcp", "server_label": server.label, "server_url": server.url}
    if server.description:
        tool["server_description"] = server.description
    headers = {name: secret.reveal() for name, secret in server.headers.items()}
    if server.authorization is not None:
        # The API refuses `authorization` together with an Authorization header (the settings
        # schema already refuses it; this keeps a hand-built settings object honest too).
        if any(name.lower() == "authorization" for name in headers):
            raise ValueError(f"{server.label}: give either 'authorization' or an Authorization header")
        tool["authorization"] = server.authorization.reveal()
    if headers:
        tool["headers"] = headers
    if server.allowed_tools is not None:
        tool["allowed_tools"] = list(server.allowed_tools)
    tool["require_approval"] = require_approval(server)
    return tool


def require_approval(server: McpRemoteServer) -> str | dict[str, Any]:
    """The wire form of the server's approval policy.

    ``never``/``always`` pass through; a list of names becomes the filter object
    ``{"always": {"tool_names": [...]}, "never": {"tool_names": [...]}}`` where ``never`` lists the
    other allowed tools (only known when ``allowed_tools`` is set). An empty list means ``never``.
    The ``deny`` tools always need approval (the speaker then denies them without asking)."""
    policy = server.require_approval
    if policy == "never" and server.deny:
        policy = []
    if isinstance(policy, str):
        return policy
    policy = list(dict.fromkeys([*policy, *server.deny]))
    if not policy:
        return "never"
    approval: dict[str, Any] = {"always": {"tool_names": list(policy)}}
    if server.allowed_tools is not None:
        others = [name for name in server.allowed_tools if name not in policy]
        if others:
            approval["never"] = {"tool_names": others}
    return approval


def redact_session(session: dict[str, Any]) -> dict[str, Any]:
    """A deep copy safe to log or print: in every ``type: "mcp"`` tool (at any depth, so a whole
    ``session.update`` or ``response.create`` event works too) header values and ``authorization``
    become ``"***"``. The input is not modified."""
    redacted = copy.deepcopy(session)
    _redact(redacted)
    return redacted


def _redact(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "mcp":
            if "authorization" in node:
                node["authorization"] = REDACTED
            headers = node.get("headers")
            if isinstance(headers, dict):
                for name in headers:
                    headers[name] = REDACTED
        for value in node.values():
            _redact(value)
    elif isinstance(node, list):
        for value in node:
            _redact(value)


# --------------------------------------------------------------------------- server events


class McpEventHandler:
    """Sans-I/O: fed the ``McpEvent``s of one Realtime session, it logs what the remote MCP servers
    did and answers approval requests.

    ``handle`` returns the client event to send (a ``conversation.item.create`` with an
    ``mcp_approval_response``), a ``McpQuestion`` for the user, or None. Policy per server label, from
    the YAML (``decision``): ``never`` and unlisted tools are approved at once; ``always`` and the
    listed tool names are asked by voice (``speaker.core.approval``: the core answers from the user's
    transcribed yes or no); ``deny`` tools, and with ``ask: false`` every tool that needs approval, are
    denied at once with ``APPROVAL_DENIED_REASON``; an unknown server is denied. Each request is
    answered once even though it is seen both as ``response.output_item.done`` and
    ``conversation.item.done``.

    The protocol does not say whether the server resumes by itself after an approval response; the
    core sends a ``response.create`` after an asked one (the question's response ended the original
    one; a refusal because the service already resumed is benign)."""

    def __init__(self, settings: McpSettings) -> None:
        self._servers = {server.label: server for server in settings.remote}
        self._answered: set[str] = set()
        self._failed_lists: set[str] = set()
        self._list_labels: dict[str, str] = {}
        self.tools_listed: dict[str, list[str]] = {}
        """Server label -> tool names the Realtime service listed in this session."""

    def reset(self) -> None:
        """Forget per-session state (call when a new Realtime session starts)."""
        self._answered.clear()
        self._failed_lists.clear()
        self._list_labels.clear()
        self.tools_listed.clear()

    def handle(self, event: McpEvent) -> dict[str, Any] | McpQuestion | None:
        """Log the event; for an approval request return the client event to send or the question to
        ask the user, else None."""
        item = event.item or {}
        match event.type:
            case rt.MCP_LIST_COMPLETED:
                log.debug("remote MCP tool list %s completed", event.item_id)
            case rt.MCP_LIST_FAILED:
                self._list_failed(event.item_id)
            case rt.MCP_CALL_COMPLETED:
                log.debug("remote MCP call %s completed", event.item_id)
            case rt.MCP_CALL_FAILED:
                log.debug("remote MCP call %s failed (details follow with the item)", event.item_id)
            case rt.ITEM_DONE | rt.OUTPUT_ITEM_DONE:
                return self._item(item)
            case _:
                log.debug("remote MCP event %s", event.type)
        return None

    def approval_policy(self, label: str, tool: str) -> bool:
        """True to approve a call of ``tool`` on the server ``label`` without asking anyone."""
        return self.decision(label, tool) == "approve"

    @staticmethod
    def asks(server: McpRemoteServer) -> bool:
        """Whether some tool of ``server`` may be approved by voice (then sessions transcribe the user)."""
        policy = server.require_approval
        return server.ask and (policy == "always" or (isinstance(policy, list) and bool(policy)))

    def decision(self, label: str, tool: str) -> str:
        """``approve``, ``ask`` (the user, by voice) or ``deny``, for ``tool`` on the server ``label``."""
        server = self._servers.get(label)
        if server is None or tool in server.deny:
            return "deny"
        policy = server.require_approval
        if policy == "never" or (isinstance(policy, list) and tool not in policy):
            return "approve"
        return "ask" if server.ask else "deny"

    def _item(self, item: dict[str, Any]) -> dict[str, Any] | McpQuestion | None:
        kind = item.get("type")
        if kind == ITEM_LIST_TOOLS:
            self._listed(item)
        elif kind == ITEM_CALL:
            self._called(item)
        elif kind == ITEM_APPROVAL_REQUEST:
            return self._approval(item)
        return None

    def _list_failed(self, item_id: str | None) -> None:
        if item_id is None:
            log.warning("a remote MCP server failed to list its tools; its tools are unavailable this session")
            return
        self._failed_lists.add(item_id)
        label = self._list_labels.get(item_id)
        if label is not None:
            self._warn_list_failed(label)
        # else: the label arrives with the item (conversation.item.done) and is logged then

    def _warn_list_failed(self, label: str) -> None:
        server = self._servers.get(label)
        url = server.url if server is not None else "?"
        log.warning("remote MCP server %s (%s) failed to list its tools; they are unavailable this session "
                    "(the Realtime service could not reach it or was refused)", label, url)

    def _listed(self, item: dict[str, Any]) -> None:
        label = str(item.get("server_label") or "?")
        item_id = item.get("id")
        if isinstance(item_id, str):
            self._list_labels[item_id] = label
            if item_id in self._failed_lists:
                self._warn_list_failed(label)
                return
        tools = item.get("tools")
        names = [str(t.get("name")) for t in tools if isinstance(t, dict)] if isinstance(tools, list) else []
        if label in self.tools_listed and self.tools_listed[label] == names:
            return
        self.tools_listed[label] = names
        log.info("remote MCP server %s: %d tools listed by the Realtime service: %s",
                 label, len(names), ", ".join(names) or "none")

    def _called(self, item: dict[str, Any]) -> None:
        label = item.get("server_label")
        name = item.get("name")
        error = item.get("error")
        if error:
            message = (error.get("message") or error.get("type")) if isinstance(error, dict) else error
            code = error.get("code") if isinstance(error, dict) else None
            log.warning("remote MCP call %s.%s failed: %s%s", label, name, message,
                        f" (code {code})" if code is not None else "")
        elif item.get("output") is not None:
            log.info("remote MCP call %s.%s ok: %s", label, name, _clip(str(item["output"]), 200))

    def _approval(self, item: dict[str, Any]) -> dict[str, Any] | McpQuestion | None:
        request_id = item.get("id")
        if not isinstance(request_id, str) or not request_id:
            log.warning("remote MCP approval request without an id; ignored")
            return None
        if request_id in self._answered:
            return None
        self._answered.add(request_id)
        label = str(item.get("server_label") or "")
        tool = str(item.get("name") or "")
        # own id, kept short: client item ids are limited to 32 characters
        answer_id = "mcpa_" + uuid.uuid4().hex[:24]
        decision = self.decision(label, tool)
        if decision == "ask":
            arguments = item.get("arguments")
            log.info("remote MCP approval request %s.%s: asking the user", label, tool)
            return McpQuestion(request_id, label, tool, arguments if isinstance(arguments, str) else "{}",
                               answer_id)
        approve = decision == "approve"
        response: dict[str, Any] = {
            "type": ITEM_APPROVAL_RESPONSE,
            "id": answer_id,
            "approval_request_id": request_id,
            "approve": approve,
        }
        if not approve:
            response["reason"] = (APPROVAL_DENIED_REASON if label in self._servers
                                  else f"unknown MCP server {label!r}")
        log.info("remote MCP approval request %s.%s: %s", label, tool,
                 "approved" if approve else f"denied ({response['reason']})")
        return {"type": ITEM_CREATE, "item": response}


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
