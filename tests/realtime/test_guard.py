"""The sequence guard and the client's intake: events that refer to nothing never reach the core, a
valid session passes untouched, and the emulator's real traffic is never dropped."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from typing import Any

import pytest

from realtime_emulator import Emulator, FunctionCallSpec, Reply, Script, Turn
from speaker.config.schema import RealtimeSettings
from speaker.realtime.client import connect_realtime
from speaker.realtime.events import (
    AudioDelta,
    FunctionCall,
    ItemTruncated,
    RealtimeEvent,
    ResponseCreated,
    ResponseDone,
    parse_server_event,
)
from speaker.realtime.guard import DropLog, Intake, SequenceGuard
from speaker.realtime.session_config import build_session
from speaker.tools.base import ToolSpec
from tests.realtime.ga_events import session

log = logging.getLogger("test.guard")


def feed(events: list[dict[str, Any]]) -> tuple[list[RealtimeEvent], Intake]:
    intake = Intake(log)
    out = [e for e in (intake.take(json.dumps(raw)) for raw in events) if e is not None]
    return out, intake


def by_id(events: list[dict[str, Any]], event_id: str) -> dict[str, Any]:
    return copy.deepcopy(next(e for e in events if e.get("event_id") == event_id))


def test_a_valid_session_passes_untouched() -> None:
    raw = session()
    out, intake = feed(raw)
    assert intake.log.counts == {}
    expected = [parse_server_event(e) for e in raw]
    # everything typed arrives, as decoded; output items and unknown types feed only the guard
    assert out == [e for e in expected if type(e).__name__ not in ("OutputItemAdded", "Other")]
    assert [e.response_id for e in out if isinstance(e, ResponseDone)] == ["resp_1", "resp_2", "resp_3"]
    assert [e.call_id for e in out if isinstance(e, FunctionCall)] == ["call_1"]


def test_response_done_for_an_unknown_response_is_not_billed() -> None:
    raw = session()
    stray = by_id(raw, "ev_resp_1_done")
    stray["response"]["id"] = "resp_never"
    out, intake = feed(raw[:1] + [stray] * 5)
    assert not [e for e in out if isinstance(e, ResponseDone)]
    assert intake.log.counts == {"out_of_order": 5}


def test_response_done_before_created_and_twice_is_dropped() -> None:
    raw = session()
    done = by_id(raw, "ev_resp_1_done")
    created = by_id(raw, "ev_resp_1_c")
    out, _ = feed([done, created, done, done, created])
    assert [type(e) for e in out] == [ResponseCreated, ResponseDone]


def test_an_unannounced_function_call_never_runs() -> None:
    raw = session()
    # arguments.done and a response.done listing the call, without response.output_item.added
    events = [e for e in raw if e.get("event_id") != "ev_r2a"]
    out, intake = feed(events)
    assert not [e for e in out if isinstance(e, FunctionCall)]
    done = next(e for e in out if isinstance(e, ResponseDone) and e.response_id == "resp_2")
    assert done.function_calls == ()  # the response itself still ends the reply
    assert intake.log.counts["out_of_order"] == 2


def test_a_function_call_with_another_call_id_or_twice_is_dropped() -> None:
    raw = session()
    upto = raw[:raw.index(by_id(raw, "ev_r2f"))]
    forged = by_id(raw, "ev_r2f")
    forged["call_id"] = "call_forged"
    twice = by_id(raw, "ev_r2f")
    out, _ = feed([*upto, forged, twice, twice])
    assert [e.call_id for e in out if isinstance(e, FunctionCall)] == ["call_1"]


def test_late_audio_and_audio_for_unannounced_items_are_dropped() -> None:
    raw = session()
    delta = by_id(raw, "ev_resp_1_d0")
    other_item = copy.deepcopy(delta)
    other_item["item_id"] = "item_nobody"
    out, intake = feed([*raw, delta, other_item])  # after resp_1's response.done
    assert len([e for e in out if isinstance(e, AudioDelta)]) == 3 + 4
    assert intake.log.counts == {"out_of_order": 2}
    # within the response, after output_audio.done
    cut = raw.index(by_id(raw, "ev_resp_1_ad")) + 1
    out, _ = feed([*raw[:cut], delta, other_item])
    assert len([e for e in out if isinstance(e, AudioDelta)]) == 3


def test_a_truncation_of_an_unknown_item_is_dropped() -> None:
    raw = session()
    trunc = by_id(raw, "ev_trunc")
    trunc["item_id"] = "item_nobody"
    out, _ = feed([*raw, trunc])
    assert [e.item_id for e in out if isinstance(e, ItemTruncated)] == ["item_3"]


def test_guard_memory_is_bounded() -> None:
    guard = SequenceGuard()
    for n in range(10_000):
        guard.check(ResponseCreated(f"resp_{n}"))
    assert len(guard._open) <= 16 and len(guard._finished) <= 256


def test_drop_log_is_rate_limited_but_counts_everything(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    drops = DropLog(log, interval_s=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.guard"):
        for _ in range(1000):
            drops.note("malformed", "bad delta", about="response.output_audio.delta")
        drops.note("malformed", "bad done", about="response.done")  # another problem: its own line
        now[0] = 61.0
        drops.note("malformed", "bad delta", about="response.output_audio.delta")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert "999 more since the last such line" in lines[2]
    assert drops.counts["malformed"] == 1002


@pytest.mark.parametrize("text, category", [
    ('{"type":"input_audio_buffer.speech_started","audio_start_ms":1e309,"item_id":"i"}', "malformed"),
    ('{"type":"input_audio_buffer.speech_started","audio_start_ms":NaN,"item_id":"i"}', "malformed"),
    ('{"type":"input_audio_buffer.speech_started","audio_start_ms":-5,"item_id":"i"}', "malformed"),
    ('{"type":"conversation.item.truncated","item_id":"i","audio_end_ms":' + "9" * 5000 + "}", "malformed"),
    ("[" * 100_000 + "]" * 100_000, "malformed"),
    ('{"type":"response.output_audio.delta","response_id":"r","item_id":"i","delta":"AAEC"}', "malformed"),
])
def test_the_issue_s_crashing_frames_are_dropped_and_counted(text: str, category: str) -> None:
    intake = Intake(log)
    assert intake.take(text) is None
    assert intake.log.counts == {category: 1}


def test_an_infinite_token_count_is_not_billed_but_ends_the_reply() -> None:
    raw = session()
    done = by_id(raw, "ev_resp_1_done")
    text = json.dumps(done).replace('"audio_tokens": 91', '"audio_tokens": 1e999')
    _, intake = feed(raw[:raw.index(done)])
    last = intake.take(text)
    assert isinstance(last, ResponseDone) and last.usage.total == 0
    assert intake.log.counts == {"repaired": 1}


# ---------------------------------------------------------------------------- the emulator's traffic

TIMER = ToolSpec("set_timer", "Start a kitchen timer.",
                 {"type": "object", "properties": {"seconds": {"type": "integer"}}, "required": ["seconds"]})


async def test_the_emulator_s_traffic_passes_the_guard_untouched() -> None:
    script = Script(turns=[
        Turn(reply=Reply("Setting it."), call=FunctionCallSpec("set_timer", {"seconds": 60}, call_id="call_t"),
             then=Reply("Your timer is set.")),
    ])
    async with asyncio.timeout(20), Emulator(script=script, api_key="sk-emulator", speed=20) as emu:
        settings = RealtimeSettings(url=emu.url, connect_timeout_s=3.0)
        session_config = build_session(settings, tools=[TIMER], mcp_tools=[])
        async with await connect_realtime(settings, "sk-emulator", session=session_config) as conn:
            conn.append_audio(b"\x10\x20" * 24000)
            conn.send({"type": "input_audio_buffer.commit"})
            conn.send({"type": "response.create"})
            seen: list[RealtimeEvent] = []
            async for event in conn.events():
                seen.append(event)
                if isinstance(event, ResponseDone) and event.function_calls:
                    conn.send({"type": "conversation.item.create", "item": {
                        "type": "function_call_output", "call_id": "call_t", "output": '{"ok": true}'}})
                    conn.send({"type": "response.create"})
                elif isinstance(event, ResponseDone):
                    break
            assert conn.dropped == {}
        sent = [logged.event for logged in emu.log if logged.direction == "sent"]
    assert [e.call_id for e in seen if isinstance(e, FunctionCall)] == ["call_t"]
    assert len([e for e in seen if isinstance(e, ResponseDone)]) == 2
    assert sum(len(e.pcm) for e in seen if isinstance(e, AudioDelta)) > 24000
    # and replayed through a fresh intake, every event the emulator sent is accepted as it was
    _, intake = feed(sent)
    assert intake.log.counts == {}
