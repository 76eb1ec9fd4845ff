"""Command payloads: what each accepts (JSON or plain text), and a clear message for everything else."""

from __future__ import annotations

import pytest

from speaker.ha.commands import Ask, CommandError, Mute, Say, SelectWake, StopAll, Volume, parse_command


@pytest.mark.parametrize(("name", "payload", "expected"), [
    ("mute", b"", Mute(True)),
    ("mute", b"true", Mute(True)),
    ("mute", b"false", Mute(False)),
    ("mute", b"OFF", Mute(False)),
    ("mute", b'{"muted": false}', Mute(False)),
    ("unmute", b"", Mute(False)),
    ("volume", b"40", Volume(40)),
    ("volume", b"40.0", Volume(40)),  # Home Assistant's number entity
    ("volume", b'{"volume": 100}', Volume(100)),
    ("volume", b"0", Volume(0)),
    ("stop", b"", StopAll()),
    ("stop", b"stop", StopAll()),
    ("say", b"Dinner is ready", Say("Dinner is ready", True)),
    ("say", b'{"text": "Dinner is ready", "preannounce": false}', Say("Dinner is ready", False)),
    ("say", '"Café ist fertig"'.encode(), Say("Café ist fertig", True)),
    ("start_conversation", b'{"instructions": "Ask whether to close the garage"}',
     Ask("Ask whether to close the garage", None)),
    ("ask", b'{"text": "Close the garage?", "id": "garage-1"}',
     Ask("Ask the user exactly this, then listen to the answer: Close the garage?", "garage-1")),
    ("wake_word", b"alexa", SelectWake("alexa")),
    ("wake_word", b'{"name": "all"}', SelectWake("all")),
])
def test_accepted(name: str, payload: bytes, expected: object) -> None:
    assert parse_command(name, payload, wake_options=["all", "hey_jarvis", "alexa"]) == expected


def test_ask_without_an_id_gets_one_so_the_answer_can_be_published() -> None:
    command = parse_command("ask", b"Should I close the garage?")
    assert isinstance(command, Ask) and command.ask_id and len(command.ask_id) == 12
    assert "Should I close the garage?" in command.instructions


@pytest.mark.parametrize(("name", "payload", "message"), [
    ("say", b'{"text": "unterminated', "say: invalid JSON"),
    ("say", b'{"preannounce": true}', "say: missing text"),
    ("say", b"   ", "say: missing text"),
    ("say", b"x" * 2001, "at most 2000"),
    ("say", b'{"text": "hi", "preannounce": "yes"}', "preannounce must be true or false"),
    ("say", b'{"text": 5}', "say: missing text"),
    ("ask", b'{"id": "a"}', "ask: missing text"),
    ("ask", b'{"text": "ok?", "id": "a/b"}', "cannot be a topic level"),
    ("ask", b'{"text": "ok?", "id": "#"}', "cannot be a topic level"),
    ("volume", b"loud", "is not a number"),
    ("volume", b"101", "out of range"),
    ("volume", b"-1", "out of range"),
    ("volume", b"", "empty"),
    ("volume", b"nan", "not a number"),
    ("volume", b'{"level": true}', "not a number"),
    ("mute", b"maybe", "expected true or false"),
    ("wake_word", b"computer", "not one of"),
    ("reboot", b"", "unknown command 'reboot'"),
    ("say", b"\xff\xfe", "not UTF-8"),
])
def test_refused_with_a_clear_message(name: str, payload: bytes, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        parse_command(name, payload, wake_options=["hey_jarvis"])
