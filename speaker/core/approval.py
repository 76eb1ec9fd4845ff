"""Remote MCP approvals asked by voice: the pieces ``confirm`` uses for an ``mcp_approval_request``.

A remote MCP server's tool that needs approval (``require_approval`` in the YAML) is asked like a
``confirm: true`` tool (see ``speaker.core.confirm``): the service's ``mcp_approval_request`` item is
held, the model asks the question in its voice (a ``response.create`` naming the server and the tool,
no tools), the speaker listens without a wake word and the user's own transcribed answer decides. The
answer goes back as a ``conversation.item.create`` with an ``mcp_approval_response`` (approve true or
false, with a reason when false), followed by a ``response.create`` so the model carries on: it runs
the approved call, or tells the user it did not. Tools the policy approves never reach this module;
the ones it denies without asking (``deny``, ``ask: false``) are answered by the handler directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from speaker.core import wire


@dataclass(frozen=True)
class McpQuestion:
    """An approval request the user must answer (returned by ``McpApprovals.handle``)."""

    request_id: str
    """The ``mcp_approval_request`` item's id."""
    server_label: str
    tool: str
    arguments: str
    answer_id: str
    """The id our ``mcp_approval_response`` item gets (client item ids: at most 32 characters)."""

    @property
    def name(self) -> str:
        return f"{self.server_label}.{self.tool}"


def question_create(q: McpQuestion) -> dict[str, Any]:
    """The ``response.create`` that asks: the question only, no tool may be called meanwhile."""
    ask = (f'The remote service "{q.server_label}" wants to run its tool "{q.tool}" with {q.arguments}. '
           "Before it runs, ask the user one short yes/no question to confirm it, naming the action in "
           "plain words (for example: \"Shall I order the pizza?\"). Say only the question, in the user's "
           "language. Do not say it is done.")
    event = wire.response_create(ask)
    event["response"]["tool_choice"] = "none"
    return event


def approval_response(q: McpQuestion, approve: bool, reason: str | None = None) -> dict[str, Any]:
    """The ``conversation.item.create`` that answers the request."""
    item: dict[str, Any] = {"type": "mcp_approval_response", "id": q.answer_id,
                            "approval_request_id": q.request_id, "approve": approve}
    if not approve and reason:
        item["reason"] = reason
    return {"type": wire.ITEM_CREATE, "item": item}


def denied_reason(why: str) -> str:
    return f"the user did not approve it by voice ({why}); nothing was run"
