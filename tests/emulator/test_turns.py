"""Whole turns over a real loopback WebSocket: the GA lifecycle in order, server VAD on real speech,
function calls, and usage numbers that follow from the audio durations."""

from __future__ import annotations

import asyncio
import base64
import json
import math
from typing import Any

import pytest

from realtime_emulator import GENERIC_PHRASE, Emulator, FunctionCallSpec, Reply, Script, Turn
from realtime_emulator.voice import speech_for
from tests.emulator.wire import LOCAL_TURNS, speech, types, wire

LIMIT = 10.0
REPLY_LIFECYCLE = [
    "response.created", "rate_limits.updated", "response.output_item.added", "conversation.item.added",
    "response.content_part.added", "response.output_audio.delta", "response.output_audio_transcript.delta",
    "response.output_audio.delta", "response.output_audio_transcript.delta",
]
REPLY_END = [
    "response.output_audio.done", "response.output_audio_transcript.done", "response.content_part.done",
    "response.output_item.done", "conversation.item.done", "response.done",
]
LIGHT = FunctionCallSpec("zigbee_light_set", {"device": "kitchen_light", "state": "ON"})


def audio_of(events: list[dict[str, Any]]) -> bytes:
    return b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta")


def transcript_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta")


async def test_a_turn_with_local_commit() -> None:
    script = Script(turns=[Turn(heard="what time is it", reply=Reply("It is ten past three."))])
    async with asyncio.timeout(LIMIT), Emulator(script, speed=50) as emu:
        async with wire(emu) as w:
            question = speech("The kitchen light is on.", lead_s=0.2, tail_s=0.3)
            await w.append(question)
            await w.send("input_audio_buffer.commit")
            committed = await w.until("conversation.item.done")
            await w.send("response.create")
            events = await w.until("response.done")
        # the user's audio became an item
        assert types(committed) == ["input_audio_buffer.committed", "conversation.item.added", "conversation.item.done"]
        user_item = committed[-1]["item"]
        assert user_item["role"] == "user" and user_item["content"] == [{"type": "input_audio", "transcript": None}]
        # the full GA lifecycle, in order
        kinds = types(events)
        assert kinds[:5] == REPLY_LIFECYCLE[:5] and kinds[-6:] == REPLY_END
        assert set(kinds[5:-6]) == {"response.output_audio.delta", "response.output_audio_transcript.delta"}
        # real speech, ~100 ms per delta, transcript = reply text
        reply_pcm = speech_for("It is ten past three.")
        assert audio_of(events) == reply_pcm
        deltas = [e for e in events if e["type"] == "response.output_audio.delta"]
        assert len(deltas) == math.ceil(len(reply_pcm) / 4800)
        assert transcript_of(events) == "It is ten past three."
        assert events[-6]["type"] == "response.output_audio.done" and "delta" not in events[-6]
        done = events[-1]["response"]
        assert done["status"] == "completed" and done["status_details"] is None
        assert done["output"][0]["content"] == [{"type": "output_audio", "transcript": "It is ten past three."}]
        assert done["conversation_id"].startswith("conv_emu")
        # usage from real durations: 10 tokens/s in, 20 tokens/s out
        usage = done["usage"]
        seconds_in = len(question) / 48000
        assert emu.append_seconds == [pytest.approx(seconds_in)]
        assert usage["input_token_details"]["audio_tokens"] == math.ceil(seconds_in * 10)
        assert usage["output_token_details"]["audio_tokens"] == math.ceil(len(reply_pcm) / 48000 * 20)
        assert usage["output_token_details"]["text_tokens"] == round(len("It is ten past three.") / 4)
        assert usage["input_tokens"] + usage["output_tokens"] == usage["total_tokens"]
        assert usage["input_token_details"]["cached_tokens"] == 0  # first response: nothing to reuse
        assert [e["type"] for e in emu.received] == (
            ["session.update"] + ["input_audio_buffer.append"] * math.ceil(len(question) / 4800)
            + ["input_audio_buffer.commit", "response.create"])
        assert emu.first_append_at[0] is not None and emu.first_append_at[0] >= emu.stats[0].connected_at
        await emu.wait_closed()
    assert emu.violations == []


async def test_commit_needs_100_ms_and_clear_empties() -> None:
    async with asyncio.timeout(LIMIT), Emulator() as emu, wire(emu) as w:
        await w.send("input_audio_buffer.commit", event_id="c1")
        empty = await w.until("error")
        await w.append(speech(lead_s=0.05, tail_s=0)[:48 * 60])  # 60 ms
        await w.send("input_audio_buffer.commit")
        short = await w.until("error")
        await w.send("input_audio_buffer.clear")
        await w.until("input_audio_buffer.cleared")
        assert empty[-1]["error"]["code"] == "input_audio_buffer_commit_empty"
        assert empty[-1]["error"]["event_id"] == "c1"
        assert short[-1]["error"]["code"] == "input_audio_buffer_commit_empty"
        assert "60.00ms" in short[-1]["error"]["message"]
    assert emu.violations == []


async def test_server_vad_turn_on_real_speech() -> None:
    script = Script(turns=[Turn(heard="turn on the kitchen light", reply=Reply("The kitchen light is on."))])
    session = {"type": "realtime", "audio": {"input": {
        "transcription": {"model": "gpt-transcribe", "language": "en"},
        "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                           "silence_duration_ms": 500}}}}
    async with asyncio.timeout(LIMIT), Emulator(script, speed=50) as emu, wire(emu, session=session) as w:
        assert w.seen[-1]["session"]["audio"]["input"]["turn_detection"]["interrupt_response"] is True  # defaults
        audio = speech("The kitchen light is on.", lead_s=0.5, tail_s=1.0)
        await w.append(audio, chunk_ms=20)
        events = await w.until("response.done")
        kinds = types(events)
        assert kinds[:8] == [
            "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
            "conversation.item.added", "conversation.item.done", "conversation.item.input_audio_transcription.delta",
            "conversation.item.input_audio_transcription.completed", "response.created"]
        started, stopped, committed = events[0], events[1], events[2]
        assert 400 <= started["audio_start_ms"] <= 600  # the speech starts after 0.5 s of room noise
        speech_ms = len(speech_for("The kitchen light is on.")) / 48
        assert stopped["audio_end_ms"] - started["audio_start_ms"] >= speech_ms - 200
        assert started["item_id"] == stopped["item_id"] == committed["item_id"]
        transcript = events[6]
        assert transcript["transcript"] == "turn on the kitchen light" and transcript["usage"]["type"] == "tokens"
        done = events[-1]["response"]
        assert done["status"] == "completed" and transcript_of(events) == "The kitchen light is on."
        # VAD keeps only speech (plus padding and the closing silence): fewer tokens than appended audio
        item_ms = (stopped["audio_end_ms"] - started["audio_start_ms"]) + 300
        assert done["usage"]["input_token_details"]["audio_tokens"] == math.ceil(item_ms / 100)
        assert done["usage"]["input_token_details"]["audio_tokens"] < emu.append_seconds[0] * 10
        assert [e["type"] for e in emu.received if e["type"] != "input_audio_buffer.append"] == ["session.update"]
    assert emu.violations == []


LIGHT_TOOL = {"type": "function", "name": "zigbee_light_set", "description": "Switch a Zigbee light.",
              "parameters": {"type": "object", "properties": {"device": {"type": "string"},
                                                              "state": {"enum": ["ON", "OFF"]}}}}


async def test_function_call_round_trip() -> None:
    script = Script(turns=[Turn(heard="turn on the kitchen light", call=LIGHT, then=Reply("The kitchen light is on."))])
    session = {**LOCAL_TURNS, "tools": [LIGHT_TOOL]}
    async with asyncio.timeout(LIMIT), Emulator(script, speed=50) as emu, wire(emu, session=session) as w:
        await w.append(speech())
        await w.send("input_audio_buffer.commit")
        await w.send("response.create")
        first = await w.until("response.done")
        first = first[types(first).index("response.created"):]  # after the commit's events
        assert types(first)[2:] == [
            "response.output_item.added", "conversation.item.added", "response.function_call_arguments.delta",
            "response.function_call_arguments.done", "response.output_item.done", "conversation.item.done",
            "response.done"]
        args_done = next(e for e in first if e["type"] == "response.function_call_arguments.done")
        assert args_done["name"] == "zigbee_light_set"
        assert json.loads(args_done["arguments"]) == {"device": "kitchen_light", "state": "ON"}
        streamed = "".join(e["delta"] for e in first if e["type"] == "response.function_call_arguments.delta")
        assert streamed == args_done["arguments"]
        call_item = first[-1]["response"]["output"][0]
        assert call_item["type"] == "function_call" and call_item["status"] == "completed"
        assert call_item["call_id"] == args_done["call_id"]
        # an output for a call that does not exist is refused
        await w.send("conversation.item.create", item={"type": "function_call_output", "call_id": "call_nope",
                                                       "output": "{}"})
        assert (await w.until("error"))[-1]["error"]["param"] == "item.call_id"
        # the real output, then the follow-up response speaks `then`
        await w.send("conversation.item.create", item={"type": "function_call_output",
                                                       "call_id": args_done["call_id"], "output": "{\"ok\":true}"})
        added = await w.until("conversation.item.done")
        assert added[-1]["item"]["type"] == "function_call_output"
        await w.send("response.create")
        second = await w.until("response.done")
        assert transcript_of(second) == "The kitchen light is on."
        assert second[-1]["response"]["status"] == "completed"
    assert emu.violations == [] and emu.warnings == []


async def test_a_script_calling_an_undeclared_function_is_flagged() -> None:
    script = Script(turns=[Turn(call=FunctionCallSpec("zigbee2mqtt_light_set", {}))])
    async with asyncio.timeout(LIMIT), Emulator(script, speed=50) as emu, \
            wire(emu, session={**LOCAL_TURNS, "tools": [LIGHT_TOOL]}) as w:
        await w.send("response.create")
        await w.until("response.done")
    assert emu.warnings == ["script calls 'zigbee2mqtt_light_set', which the session does not offer "
                            "(offered: ['zigbee_light_set'])"]


async def test_usage_grows_and_repeated_context_is_cached() -> None:
    script = Script(turns=[Turn(reply=Reply("It is ten past three.")),
                           Turn(reply=Reply("The timer is set for five minutes."))])
    async with asyncio.timeout(LIMIT), Emulator(script, speed=50) as emu, wire(emu) as w:
        usages = []
        for _ in range(2):
            await w.append(speech(lead_s=0.1, tail_s=0.1))
            await w.send("input_audio_buffer.commit")
            await w.send("response.create")
            usages.append((await w.until("response.done"))[-1]["response"]["usage"])
    first, second = usages
    # the second response re-reads everything the first read and said, and that part is cached
    said = first["output_token_details"]["audio_tokens"]  # the reply is only audio in the context
    assert second["input_token_details"]["cached_tokens"] == first["input_tokens"] + said
    details = second["input_token_details"]["cached_tokens_details"]
    assert details["audio_tokens"] == first["input_token_details"]["audio_tokens"] + said
    assert second["input_tokens"] > first["input_tokens"] + said  # plus the new question
    assert emu.violations == []


async def test_text_output_and_an_exhausted_script() -> None:
    session = {"type": "realtime", "output_modalities": ["text"], "audio": {"input": {"turn_detection": None}}}
    async with asyncio.timeout(LIMIT), Emulator(Script(), speed=50) as emu, wire(emu, session=session) as w:
        await w.send("conversation.item.create", item={"type": "message", "role": "user",
                                                       "content": [{"type": "input_text", "text": "Hello?"}]})
        await w.send("response.create")
        events = await w.until("response.done")
        kinds = types(events)
        assert "response.output_audio.delta" not in kinds
        assert kinds[-10:] == [
            "rate_limits.updated", "response.output_item.added", "conversation.item.added",
            "response.content_part.added", "response.output_text.delta", "response.output_text.done",
            "response.content_part.done", "response.output_item.done", "conversation.item.done", "response.done"]
        text_done = next(e for e in events if e["type"] == "response.output_text.done")
        assert text_done["text"] == GENERIC_PHRASE
        assert events[-1]["response"]["output"][0]["content"] == [{"type": "output_text", "text": GENERIC_PHRASE}]
        assert events[-1]["response"]["usage"]["output_token_details"]["audio_tokens"] == 0
    assert emu.violations == []


async def test_an_invalid_client_event_is_answered_and_recorded() -> None:
    async with asyncio.timeout(LIMIT), Emulator() as emu, wire(emu) as w:
        await w.send("session.update", event_id="bad-1", session={"type": "realtime", "instrucions": "x"})
        error = (await w.until("error"))[-1]["error"]
        await w.send("input_audio_buffer.apend", audio="AAAA")
        unknown = (await w.until("error"))[-1]["error"]
    assert error == {"type": "invalid_request_error", "code": "unknown_parameter",
                     "message": "Unknown parameter: 'session.instrucions'.", "param": "session.instrucions",
                     "event_id": "bad-1"}
    assert unknown["code"] == "invalid_value" and unknown["param"] == "type"
    assert [v.event_type for v in emu.violations] == ["session.update", "input_audio_buffer.apend"]
    assert [e["type"] for e in emu.received] == ["session.update"]  # only the valid one


async def test_session_rules_the_service_enforces() -> None:
    script = Script(turns=[Turn(reply=Reply("It is ten past three."))])
    async with asyncio.timeout(LIMIT), Emulator(script, speed=50) as emu, wire(emu) as w:
        await w.send("session.update", session={"type": "realtime", "model": "gpt-realtime-2.1-mini"})
        model = (await w.until("error"))[-1]["error"]
        await w.send("session.update", session={"type": "realtime", "audio": {"output": {"voice": "cedar"}}})
        assert (await w.until("session.updated"))[-1]["session"]["audio"]["output"]["voice"] == "cedar"
        await w.send("response.create")
        await w.until("response.done")
        await w.send("session.update", session={"type": "realtime", "audio": {"output": {"voice": "cedar"}}})
        voice = (await w.until("error"))[-1]["error"]
        await w.send("session.update", session={"type": "realtime", "instructions": "Be brief."})
        updated = (await w.until("session.updated"))[-1]["session"]
    assert model["param"] == "session.model"
    assert voice["code"] == "cannot_update_voice"
    assert updated["instructions"] == "Be brief." and updated["audio"]["output"]["voice"] == "cedar"
    assert emu.violations == []


async def test_max_output_tokens_cuts_the_reply_as_incomplete() -> None:
    story = "The timer is set for five minutes."
    script = Script(turns=[Turn(reply=Reply(story))])
    session = {"type": "realtime", "max_output_tokens": 20, "audio": {"input": {"turn_detection": None}}}
    async with asyncio.timeout(LIMIT), Emulator(script, speed=50) as emu, wire(emu, session=session) as w:
        await w.send("response.create")
        events = await w.until("response.done")
    done = events[-1]["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    assert done["output"][0]["status"] == "incomplete"
    assert done["usage"]["output_tokens"] <= 20 and len(audio_of(events)) < len(speech_for(story))
    assert emu.violations == []


async def test_items_can_be_retrieved_and_deleted() -> None:
    async with asyncio.timeout(LIMIT), Emulator() as emu, wire(emu) as w:
        await w.append(speech(lead_s=0.1, tail_s=0.1))
        await w.send("input_audio_buffer.commit")
        item_id = (await w.until("input_audio_buffer.committed"))[-1]["item_id"]
        await w.send("conversation.item.retrieve", item_id=item_id)
        retrieved = (await w.until("conversation.item.retrieved"))[-1]["item"]
        await w.send("conversation.item.delete", item_id=item_id)
        deleted = (await w.until("conversation.item.deleted"))[-1]
        await w.send("conversation.item.delete", item_id=item_id)
        missing = (await w.until("error"))[-1]["error"]
    assert base64.b64decode(retrieved["content"][0]["audio"]) == speech(lead_s=0.1, tail_s=0.1)
    assert deleted["item_id"] == item_id and missing["param"] == "item_id"
    assert emu.violations == []


async def test_out_of_band_response_leaves_the_conversation_alone() -> None:
    async with asyncio.timeout(LIMIT), Emulator(speed=50) as emu, wire(emu) as w:
        await w.send("response.create", response={"conversation": "none", "metadata": {"purpose": "summary"},
                                                  "output_modalities": ["text"], "instructions": "Summarize."})
        events = await w.until("response.done")
    assert "conversation.item.added" not in types(events)
    done = events[-1]["response"]
    assert done["conversation_id"] is None and done["metadata"] == {"purpose": "summary"}
    assert emu.violations == []
