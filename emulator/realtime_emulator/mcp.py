"""Remote MCP approvals in the emulator: which ``mcp_approval_request``\\ s went out, and whether the
client answered them properly.

A scripted :class:`~realtime_emulator.script.McpApprovalSpec` makes a response carry an approval
request. The client's ``conversation.item.create`` with an ``mcp_approval_response`` has already passed
the strict openai-types validation; here it must also answer a request that was made, and only once
(the service refuses anything else: an ``invalid_value`` error). Once every request of the turn is
answered, the next response is the outcome: the ``mcp_call`` and the turn's ``then`` when approved, the
spec's ``denied`` reply when not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from realtime_emulator.conversation import ItemError
from realtime_emulator.script import McpApprovalSpec, Reply, Turn

if TYPE_CHECKING:
    from realtime_emulator.response import Output


@dataclass
class Approvals:
    requests: dict[str, tuple[McpApprovalSpec, Turn | None]] = field(default_factory=dict)
    answers: dict[str, bool] = field(default_factory=dict)
    """Request id -> approve, as the client answered (kept for tests to read)."""
    _open: set[str] = field(default_factory=set)

    def requested(self, request_id: str, spec: McpApprovalSpec, turn: Turn | None) -> None:
        self.requests[request_id] = (spec, turn)
        self._open.add(request_id)

    def check(self, item: dict[str, Any]) -> None:
        """An item the client creates: an approval response must answer an open request (ItemError)."""
        if item.get("type") != "mcp_approval_response":
            return
        request_id = item.get("approval_request_id")
        if request_id not in self.requests:
            raise ItemError(f"No MCP approval request found with id '{request_id}'.", "item.approval_request_id")
        if request_id in self.answers:
            raise ItemError(f"MCP approval request '{request_id}' was already answered.",
                            "item.approval_request_id")

    def answered(self, item: dict[str, Any]) -> None:
        if item.get("type") == "mcp_approval_response":
            self.answers[item["approval_request_id"]] = bool(item["approve"])

    def outcome(self, fallback: Reply) -> list[Output] | None:
        """The next response's outputs once every open request is answered, else None."""
        from realtime_emulator.response import Output

        if not self._open or any(r not in self.answers for r in self._open):
            return None
        outputs: list[Output] = []
        for request_id in sorted(self._open):
            spec, turn = self.requests[request_id]
            if self.answers[request_id]:
                outputs += [Output(mcp_call=spec, request_id=request_id),
                            Output(reply=(turn.then if turn is not None else None) or fallback)]
            else:
                outputs.append(Output(reply=spec.denied))
        self._open.clear()
        return outputs
