"""gpt-realtime-2 preambles: one response with several assistant message items. Every item is played, in
order, and a barge-in truncates each item at what was really heard of it (virtual time)."""

from __future__ import annotations

from speaker.core import actions as A
from speaker.core.conversation import Phase
from speaker.core.events import PlaybackDrained, Wake
from speaker.realtime import events as rt
from tests.core.test_conversation import Driver

PRE = b"\x01\x00" * 2400  # 100 ms of the preamble ("Let me check.")
MAIN = b"\x02\x00" * 2400  # 100 ms of the answer


def two_items(d: Driver, pre: int = 3, main: int = 4, done: bool = True) -> list[A.Action]:
    d.wake_and_connect()
    d.say(1.0)
    out = d.server(rt.ResponseCreated("resp_1"))
    for _ in range(pre):
        out += d.server(rt.AudioDelta("resp_1", "item_pre", 0, PRE))
    out += d.server(rt.TranscriptDone("resp_1", "item_pre", "Let me check."))
    for _ in range(main):
        out += d.server(rt.AudioDelta("resp_1", "item_main", 0, MAIN))
    if done:
        out += d.server(rt.ResponseDone("resp_1", "completed"))
    return out


def test_every_item_of_one_response_is_played_in_order_then_the_follow_up() -> None:
    d = Driver()
    out = two_items(d)
    assert b"".join(a.pcm for a in out if isinstance(a, A.Play)) == PRE * 3 + MAIN * 4
    token = next(a.token for a in out if isinstance(a, A.AwaitPlayback))
    d.sink.play(700)
    d.feed(PlaybackDrained(token))
    assert d.core.phase is Phase.FOLLOW_UP
    assert "conversation.item.truncate" not in d.sent_types()


def test_a_barge_in_during_the_preamble_truncates_it_and_drops_the_unheard_answer() -> None:
    d = Driver()
    two_items(d, done=False)  # both items arrived faster than they play
    d.sink.play(120)  # 120 ms of the preamble heard
    out = d.feed(Wake("hey_jarvis", 0.97, d.t))
    truncates = [e for e in d.sent(out) if e["type"] == "conversation.item.truncate"]
    assert [(e["item_id"], e["audio_end_ms"]) for e in truncates] == [("item_pre", 120), ("item_main", 0)]


def test_a_barge_in_during_the_answer_keeps_the_heard_preamble_whole() -> None:
    d = Driver()
    two_items(d, done=True)
    d.sink.play(450)  # the preamble (300 ms) and 150 ms of the answer heard
    out = d.feed(Wake("hey_jarvis", 0.97, d.t))
    truncates = [e for e in d.sent(out) if e["type"] == "conversation.item.truncate"]
    assert [(e["item_id"], e["audio_end_ms"]) for e in truncates] == [("item_main", 150)]
