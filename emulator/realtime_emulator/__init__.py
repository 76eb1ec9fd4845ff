"""The Realtime EMULATOR: a local stand-in for the OpenAI Realtime service (GA protocol) used by
``speaker demo`` and the tests. It is not the OpenAI service and labels itself as such everywhere.

``Emulator`` and the script classes import ``websockets`` and ``numpy``; the validator imports the
``openai`` package on first use. The daemon never imports this package.
"""

from realtime_emulator.record import ConnectionStats, Injected, Logged
from realtime_emulator.script import Fault, FunctionCallSpec, McpApprovalSpec, Reply, Script, Turn
from realtime_emulator.server import DEFAULT_KEY, Emulator
from realtime_emulator.validate import (
    ValidationFailure,
    validate_client_event,
    validate_server_event,
    validate_session_update,
)
from realtime_emulator.voice import GENERIC_PHRASE

__all__ = [
    "DEFAULT_KEY",
    "GENERIC_PHRASE",
    "ConnectionStats",
    "Emulator",
    "Fault",
    "FunctionCallSpec",
    "Injected",
    "Logged",
    "McpApprovalSpec",
    "Reply",
    "Script",
    "Turn",
    "ValidationFailure",
    "validate_client_event",
    "validate_server_event",
    "validate_session_update",
]
