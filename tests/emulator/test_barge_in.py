"""Interrupting a reply: cancel, truncate, one active response at a time, and server VAD's barge-in."""

from __future__ import annotations

import asyncio
from typing import Any

from realtime_emulator import Emulator, Reply, Script, Turn
from realtime_emulator.voice import speech_for
from tests.emulator.test_turns import audio_of
from tests.emulator.wire import speech, types, wire

LIMIT = 10.0
STORY = "The timer is set for five minutes."


async def test_truncate_rules() -> None:
    script = Script(turns=[Turn(reply=Reply("It is ten past three."))])
    async with asyncio.timeout(LIMIT), Emulator(script, speed=50) as emu, wire(emu) as w:
        await w.append(speech(lead_s=0.1, tail_s=0.1))
        await w.send("input_audio_buffer.commit")
        user_item = (await w.until("input_audio_buffer.committed"))[-1]["item_id"]
        await w.send("response.create")
        events = await w.until("response.done")
        item_id = events[-1]["response"]["output"][0]["id"]
        heard_ms = len(audio_of(events)) // 48

        async def truncate(item: str, ms: int, content_index: int = 0, *, ok: bool = False) -> dict[str, Any]:
            await w.send("conversation.item.truncate", item_id=item, content_index=content_index, audio_end_ms=ms)
            return (await w.until("conversation.item.truncated" if ok else "error"))[-1]

        too_long = await truncate(item_id, heard_ms + 1)
        assert too_long["error"]["code"] == "invalid_value" and too_long["error"]["param"] == "audio_end_ms"
        unknown = await truncate("item_nope", 100)
        assert unknown["error"]["code"] == "item_truncate_invalid_item_id"
        not_assistant = await truncate(user_item, 100)
        assert not_assistant["error"]["param"] == "content_index"
        bad_part = await truncate(item_id, 100, content_index=1)
        assert bad_part["error"]["param"] == "content_index"
        truncated = await truncate(item_id, 700, ok=True)
        assert truncated == {**truncated, "type": "conversation.item.truncated", "item_id": item_id,
                             "content_index": 0, "audio_end_ms": 700}
        # the item is now 700 ms long: what was cut cannot be truncated "back"
        again = await truncate(item_id, 800)
        assert again["error"]["param"] == "audio_end_ms"
        await w.send("conversation.item.retrieve", item_id=item_id)
        retrieved = (await w.until("conversation.item.retrieved"))[-1]["item"]
        assert retrieved["content"][0]["transcript"] == ""  # the service drops a truncated item's transcript
    assert emu.violations == []


async def test_cancel_ends_the_reply_as_cancelled() -> None:
    script = Script(turns=[Turn(reply=Reply(STORY))])
    async with asyncio.timeout(LIMIT), Emulator(script, speed=2) as emu, wire(emu) as w:
        await w.send("response.cancel")
        not_active = (await w.until("error"))[-1]["error"]
        await w.send("response.create")
        await w.until("response.output_audio.delta")
        await w.send("response.cancel")
        events = await w.until("response.done")
        done = events[-1]["response"]
        assert done["status"] == "cancelled"
        assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
        assert done["output"][0]["status"] == "incomplete"
        # every part it opened is closed, as the service does on cancel
        assert types(events)[-6:] == ["response.output_audio.done", "response.output_audio_transcript.done",
                                      "response.content_part.done", "response.output_item.done",
                                      "conversation.item.done", "response.done"]
        sent = audio_of(w.seen)
        assert 0 < len(sent) < len(speech_for(STORY))
        # billed for what was generated, not for the whole reply
        assert done["usage"]["output_token_details"]["audio_tokens"] == -(-len(sent) // 2400)
        await w.send("response.cancel")
        late = (await w.until("error"))[-1]["error"]
    assert not_active["code"] == late["code"] == "response_cancel_not_active"
    assert emu.violations == []


async def test_one_active_response_per_conversation() -> None:
    script = Script(turns=[Turn(reply=Reply(STORY)), Turn(reply=Reply("It is ten past three."))])
    async with asyncio.timeout(LIMIT), Emulator(script, speed=4) as emu, wire(emu) as w:
        await w.send("response.create")
        await w.send("response.create", event_id="second")
        events = await w.until("response.done")
        errors = [e["error"] for e in events if e["type"] == "error"]
        assert [e["code"] for e in errors] == ["conversation_already_has_active_response"]
        assert errors[0]["event_id"] == "second"
        assert events[-1]["response"]["status"] == "completed"
        # an out-of-band response may run beside it
        await w.send("response.create")
        await w.until("response.created")
        await w.send("response.create", response={"conversation": "none", "output_modalities": ["text"]})
        both = await w.until("response.done")
        both += await w.until("response.done")
        assert [e["response"]["conversation_id"] is None for e in both if e["type"] == "response.done"] == \
            [True, False]
        assert "error" not in types(both)
    assert emu.violations == []


async def test_server_vad_barge_in_cancels_with_turn_detected() -> None:
    script = Script(turns=[Turn(reply=Reply(STORY)), Turn(reply=Reply("It is ten past three."))])
    session = {"type": "realtime", "audio": {"input": {"turn_detection": {
        "type": "server_vad", "silence_duration_ms": 400}}}}
    async with asyncio.timeout(LIMIT), Emulator(script, speed=1) as emu, wire(emu, session=session) as w:
        await w.send("response.create")
        await w.until("response.output_audio.delta")
        await w.append(speech("It is ten past three.", lead_s=0.1, tail_s=0.6), chunk_ms=20)
        events = await w.until("response.done")
        assert "input_audio_buffer.speech_started" in types(events)
        cancelled = events[-1]["response"]
        assert cancelled["status"] == "cancelled"
        assert cancelled["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
        # the user's turn then gets its own response, automatically
        after = await w.until("response.done")
        assert after[-1]["response"]["status"] == "completed"
        seen = [e["type"] for e in w.seen]
        second_response = max(i for i, kind in enumerate(seen) if kind == "response.created")
        assert seen.index("input_audio_buffer.speech_stopped") < seen.index("input_audio_buffer.committed") \
            < second_response
        heard = next(e for e in w.seen if e["type"] == "response.output_audio_transcript.done"
                     and e["response_id"] == after[-1]["response"]["id"])
        assert heard["transcript"] == "It is ten past three."
    assert emu.violations == []


async def test_interrupt_response_false_keeps_the_reply() -> None:
    script = Script(turns=[Turn(reply=Reply(STORY))])
    session = {"type": "realtime", "audio": {"input": {"turn_detection": {
        "type": "server_vad", "interrupt_response": False, "create_response": False}}}}
    async with asyncio.timeout(LIMIT), Emulator(script, speed=2) as emu, wire(emu, session=session) as w:
        await w.send("response.create")
        await w.until("response.output_audio.delta")
        await w.append(speech("It is ten past three.", lead_s=0.1, tail_s=0.5), chunk_ms=20)
        events = await w.until("response.done")
        assert events[-1]["response"]["status"] == "completed"
        await emu.wait_for("input_audio_buffer.committed", sent=True)  # the speech was heard and committed
        await asyncio.sleep(0.1)
        assert len(emu.events("response.created", sent=True)) == 1  # and no response was made for it
    assert emu.violations == []
