"""The conversation core driven by event scripts: no sockets, no devices, an injected clock."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import pytest

from speaker.core import actions as A
from speaker.core import outputs as O
from speaker.core.conversation import Conversation, CoreConfig, Phase
from speaker.core.events import (
    Announce,
    EndAfterReply,
    MicFrame,
    PlaybackDrained,
    ServerEvent,
    SessionClosed,
    SessionFailed,
    SessionReady,
    SetMuted,
    StartConversation,
    Stop,
    Tick,
    ToolFinished,
    Wake,
)
from speaker.errors import RealtimeError
from speaker.listen.events import SpeechEnded, SpeechStarted
from speaker.realtime import events as rt

FRAME = b"\x01\x00" * 160  # 10 ms at 16 kHz
DELTA = b"\x00\x00" * 2400  # 100 ms at 24 kHz (4800 bytes)
SOUNDS = {"error": 0.1, "mute": 0.1, "unmute": 0.1}


def cfg(**options: Any) -> CoreConfig:
    return CoreConfig(**{"sound_s": SOUNDS, **options})


@dataclass
class FakeSink:
    written_ms: float = 0.0
    played_ms: float = 0.0

    def play(self, ms: float) -> None:
        self.played_ms = min(self.written_ms, self.played_ms + ms)


@dataclass
class Driver:
    """Feeds events, applies sink-affecting actions to a fake sink, records everything."""

    cfg: CoreConfig = field(default_factory=lambda: CoreConfig(sound_s=SOUNDS))
    now: float = 100.0
    t: float = 0.0
    sink: FakeSink = field(default_factory=FakeSink)
    log: list[A.Action] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.core = Conversation(self.cfg)

    def feed(self, event: Any, dt: float = 0.0) -> list[Any]:
        """Feed ``event``; like the runner, the sink's played position reaches the core first."""
        self.now += dt
        out: list[Any] = []
        if isinstance(event, Tick):
            event = Tick(self.sink.played_ms)
        elif isinstance(event, MicFrame):
            event = MicFrame(event.pcm, event.t, self.sink.played_ms, event.echo)
        else:
            out += self.core.handle(Tick(self.sink.played_ms), self.now)
        out += self.core.handle(event, self.now)
        for action in out:
            if isinstance(action, A.Play):
                self.sink.written_ms += len(action.pcm) / 48
            elif isinstance(action, A.PlaySound):
                self.sink.written_ms += self.cfg.sound_s.get(action.name, 0.0) * 1000
            elif isinstance(action, A.StopPlayback):
                self.sink.written_ms = self.sink.played_ms
        self.log.extend(out)
        return out

    def mic(self, seconds: float) -> list[A.Action]:
        out: list[A.Action] = []
        for _ in range(round(seconds * 100)):
            self.t += 0.01
            out += self.feed(MicFrame(FRAME, self.t), 0.01)
        return out

    def server(self, event: rt.RealtimeEvent) -> list[A.Action]:
        return self.feed(ServerEvent(self.core.session, event))

    def sent(self, out: list[A.Action] | None = None) -> list[dict[str, Any]]:
        return [a.event for a in (self.log if out is None else out) if isinstance(a, A.SendEvent)]

    def sent_types(self, out: list[A.Action] | None = None) -> list[str]:
        return [e["type"] for e in self.sent(out)]

    def uploaded(self, out: list[A.Action] | None = None) -> bytes:
        return b"".join(a.pcm for a in (self.log if out is None else out) if isinstance(a, A.AppendAudio))

    # -------------------------------------------------------- common script pieces

    def wake_and_connect(self) -> None:
        self.mic(1.0)
        out = self.feed(Wake("hey_jarvis", 0.98, self.t))
        assert any(isinstance(a, A.OpenSession) for a in out)
        self.mic(0.05)
        self.feed(SessionReady(self.core.session), 0.0)

    def say(self, seconds: float) -> list[A.Action]:
        out = self.feed(SpeechStarted(self.t))
        out += self.mic(seconds)
        end = self.t
        out += self.mic(0.6)  # the VAD's hangover
        out += self.feed(SpeechEnded(end))
        return out

    def reply(self, rid: str = "resp_1", item: str = "item_1", deltas: int = 5,
              done: bool = True) -> list[A.Action]:
        out = self.server(rt.ResponseCreated(rid))
        for _ in range(deltas):
            out += self.server(rt.AudioDelta(rid, item, 0, DELTA))
        if done:
            out += self.server(rt.ResponseDone(rid, "completed"))
        return out


def test_privacy_no_wake_means_no_session_and_no_audio() -> None:
    d = Driver()
    for _ in range(5):  # minutes of talk without the wake word
        d.feed(SpeechStarted(d.t))
        d.mic(20)
        d.feed(SpeechEnded(d.t))
        d.mic(4)
    assert not any(isinstance(a, (A.OpenSession, A.AppendAudio, A.SendEvent)) for a in d.log)
    assert d.core.phase is Phase.IDLE


def test_full_turn_then_follow_up_window_then_idle_close() -> None:
    d = Driver(cfg(follow_up_s=5, idle_close_s=8))
    d.wake_and_connect()
    # the pre-roll and what was said while connecting go up the moment the session is ready
    assert len(d.uploaded()) >= len(FRAME) * 30
    d.say(2.0)
    assert d.sent_types()[-2:] == ["input_audio_buffer.commit", "response.create"]
    assert d.core.state == "thinking"
    out = d.reply()
    assert sum(len(a.pcm) for a in out if isinstance(a, A.Play)) == 5 * len(DELTA)
    token = next(a.token for a in out if isinstance(a, A.AwaitPlayback))
    assert d.core.state == "speaking"
    d.sink.play(500)
    d.feed(PlaybackDrained(token))
    assert d.core.phase is Phase.FOLLOW_UP
    assert any(isinstance(a, A.ResetVad) for a in d.log)
    closes = [a for a in d.log if isinstance(a, A.CloseSession)]
    assert closes == []
    d.feed(Tick(), 5.1)
    assert d.core.phase is Phase.OPEN
    d.feed(Tick(), 2.8)
    assert not any(isinstance(a, A.CloseSession) for a in d.log)
    d.feed(Tick(), 0.2)
    assert [a.reason for a in d.log if isinstance(a, A.CloseSession)] == ["idle"]
    assert d.core.phase is Phase.IDLE
    states = [a.state for a in d.log if isinstance(a, O.StateChanged)]
    assert states == ["listening", "thinking", "speaking", "listening", "idle"]


def test_uploaded_audio_is_speech_plus_padding_not_silence() -> None:
    d = Driver(cfg(pad_ms=300, hold_ms=630, tail_ms=100))
    d.mic(1.0)
    d.feed(Wake("hey_jarvis", 0.9, d.t))  # 300 ms pre-roll
    d.feed(SessionReady(d.core.session))
    d.mic(0.2)  # a short pause before the command
    d.say(2.0)
    d.mic(3.0)  # silence after the turn: must not be uploaded
    seconds = len(d.uploaded()) / 32000
    # 0.3 pre-roll + up to 0.3 pad before onset + 2.0 speech + 0.1 tail
    assert 2.0 <= seconds <= 2.0 + 0.3 + 0.3 + 0.1 + 0.02
    # and nothing at all was uploaded before the wake word
    assert d.core.uplink_seconds == pytest.approx(seconds)


def test_speech_finished_while_connecting_is_committed_on_ready() -> None:
    d = Driver()
    d.mic(0.5)
    d.feed(Wake("hey_jarvis", 0.9, d.t))
    d.say(1.0)  # the connection is slow: the whole command is said before it opens
    assert d.sent_types() == []
    out = d.feed(SessionReady(d.core.session))
    assert 1.0 <= len(d.uploaded(out)) / 32000 <= 1.5
    assert d.sent_types(out) == ["input_audio_buffer.commit", "response.create"]


@pytest.mark.parametrize("when", ["first", "last"])
def test_barge_in_by_wake_word_truncates_to_what_was_heard(when: str) -> None:
    d = Driver()
    d.wake_and_connect()
    d.say(1.0)
    d.server(rt.ResponseCreated("resp_1"))
    n = 1 if when == "first" else 8
    for _ in range(n):
        d.server(rt.AudioDelta("resp_1", "item_1", 0, DELTA))
    heard = 40.0 if when == "first" else 650.0
    d.sink.play(heard)
    out = d.feed(Wake("hey_jarvis", 0.97, d.t))
    assert isinstance(out[0], A.StopPlayback)
    # the VAD heard the wake word as speech already: it must start afresh for the new request
    assert any(isinstance(a, A.ResetVad) for a in out)
    assert d.sent_types(out)[:2] == ["response.cancel", "conversation.item.truncate"]
    truncate = d.sent(out)[1]
    assert truncate == {"type": "conversation.item.truncate", "item_id": "item_1", "content_index": 0,
                        "audio_end_ms": int(heard)}
    assert d.core.phase is Phase.LISTENING
    # late deltas of the cancelled response are dropped, its response.done is ignored
    late = d.server(rt.AudioDelta("resp_1", "item_1", 0, DELTA))
    assert not any(isinstance(a, A.Play) for a in late)
    d.server(rt.ResponseDone("resp_1", "cancelled", reason="client_cancelled"))
    assert d.core.phase is Phase.LISTENING
    # the new request is listened to and answered
    d.say(1.0)
    assert d.sent_types()[-2:] == ["input_audio_buffer.commit", "response.create"]


def test_barge_in_truncates_only_the_item_being_heard() -> None:
    d = Driver()
    d.wake_and_connect()
    d.say(1.0)
    d.server(rt.ResponseCreated("resp_1"))
    for _ in range(2):  # item_1: 200 ms, fully heard
        d.server(rt.AudioDelta("resp_1", "item_1", 0, DELTA))
    for _ in range(3):  # item_2: 300 ms, 50 ms of it heard
        d.server(rt.AudioDelta("resp_1", "item_2", 0, DELTA))
    d.sink.play(250)
    out = d.feed(Wake("hey_jarvis", 0.97, d.t))
    truncates = [e for e in d.sent(out) if e["type"] == "conversation.item.truncate"]
    assert truncates == [{"type": "conversation.item.truncate", "item_id": "item_2", "content_index": 0,
                          "audio_end_ms": 50}]


def test_no_truncate_when_the_reply_was_heard_to_the_end() -> None:
    d = Driver()
    d.wake_and_connect()
    d.say(1.0)
    d.reply(deltas=2, done=True)  # 200 ms received, the response complete
    d.sink.play(200)
    out = d.feed(Wake("hey_jarvis", 0.97, d.t))
    assert "conversation.item.truncate" not in d.sent_types(out)


def test_a_streaming_reply_heard_to_its_last_delta_is_truncated_there() -> None:
    """More of the item is in flight: the model must not remember saying what never arrived here."""
    d = Driver()
    d.wake_and_connect()
    d.say(1.0)
    d.reply(deltas=2, done=False)  # 200 ms received
    d.sink.played_ms = d.sink.written_ms = 10_000  # a sink that over-reports cannot make us claim more
    out = d.feed(Wake("hey_jarvis", 0.97, d.t))
    truncates = [e for e in d.sent(out) if e["type"] == "conversation.item.truncate"]
    assert [t["audio_end_ms"] for t in truncates] == [200]


@pytest.mark.parametrize("local", [True, False])
def test_half_duplex_nothing_uploaded_while_a_reply_plays(local: bool) -> None:
    d = Driver(cfg(local_turns=local))
    d.wake_and_connect()
    d.feed(SpeechStarted(d.t))
    d.mic(1.0)
    if local:
        d.feed(SpeechEnded(d.t))
    d.reply(deltas=20, done=False)
    before = len(d.uploaded())
    d.feed(SpeechStarted(d.t))  # the microphone hears the reply
    d.mic(1.5)
    assert len(d.uploaded()) == before
    assert d.core.state == "speaking"


def test_wake_during_playback_ignored_when_barge_in_off() -> None:
    d = Driver(cfg(barge_in="off"))
    d.wake_and_connect()
    d.say(1.0)
    d.reply(done=False)
    out = d.feed(Wake("hey_jarvis", 0.97, d.t))
    assert out == []


def test_server_speech_barge_in_in_full_duplex_mode() -> None:
    d = Driver(cfg(barge_in="speech", local_turns=False))
    d.wake_and_connect()
    d.feed(SpeechStarted(d.t))
    d.mic(1.0)
    d.reply(deltas=4, done=False)
    d.sink.play(120)
    out = d.server(rt.ServerSpeechStarted("item_9", 1000))
    assert isinstance(out[0], A.StopPlayback)
    # the server cancels on its own (interrupt_response): we only truncate
    assert d.sent_types(out) == ["conversation.item.truncate"]
    assert d.sent(out)[0]["audio_end_ms"] == 120


def test_follow_up_needs_no_wake_word_and_ignores_echo_tail() -> None:
    d = Driver(cfg(echo_tail_s=0.3))
    d.wake_and_connect()
    d.say(1.0)
    out = d.reply()
    token = next(a.token for a in out if isinstance(a, A.AwaitPlayback))
    d.sink.play(1000)
    d.feed(PlaybackDrained(token))
    # the room's echo right after playback is not a follow-up
    d.feed(SpeechStarted(d.t), 0.05)
    assert d.core.phase is Phase.FOLLOW_UP
    d.mic(1.0)
    d.say(1.5)
    assert d.sent_types().count("response.create") == 2
    assert d.core.turns == 2


def test_tool_call_output_then_single_response_create() -> None:
    d = Driver()
    d.wake_and_connect()
    d.say(1.0)
    d.server(rt.ResponseCreated("resp_1"))
    call = rt.FunctionCall("resp_1", "item_f", "call_1", "light_set", '{"device": "kitchen"}')
    out = d.server(call)
    assert [a for a in out if isinstance(a, A.RunTool)] == [A.RunTool("call_1", "light_set", '{"device": "kitchen"}')]
    # the tool finishes before the response is done: output now, response.create only after response.done
    out = d.feed(ToolFinished("call_1", '{"ok": true}', True))
    assert d.sent_types(out) == ["conversation.item.create"]
    out = d.server(rt.ResponseDone("resp_1", "completed", function_calls=(call,)))
    assert d.sent_types(out) == ["response.create"]  # the call in response.done is not run twice
    assert sum(isinstance(a, A.RunTool) for a in d.log) == 1
    out = d.reply("resp_2", "item_2")
    assert any(isinstance(a, A.AwaitPlayback) for a in out)
    creates = d.sent_types().count("response.create")
    assert creates == 2


def test_tool_finishing_after_response_done_triggers_response_create() -> None:
    d = Driver()
    d.wake_and_connect()
    d.say(1.0)
    d.server(rt.ResponseCreated("resp_1"))
    call = rt.FunctionCall("resp_1", "item_f", "call_1", "slow_tool", "{}")
    d.server(rt.ResponseDone("resp_1", "completed", function_calls=(call,)))
    assert d.core.state == "thinking"
    out = d.feed(ToolFinished("call_1", '{"ok": true}', True), 2.0)
    assert d.sent_types(out) == ["conversation.item.create", "response.create"]


def test_session_expired_mid_reply_still_plays_and_a_fresh_session_answers() -> None:
    d = Driver()
    d.wake_and_connect()
    first = d.core.session
    d.say(1.0)
    d.reply(deltas=3, done=False)
    out = d.feed(SessionFailed(first, RealtimeError("60 minutes", code="session_expired")))
    assert not any(isinstance(a, (A.StopPlayback, A.PlaySound)) for a in out)  # what we got still plays
    opens = [a for a in out if isinstance(a, A.OpenSession)]
    assert opens and opens[0].session == first + 1  # resumed in the same wake (tests/core/test_resume.py)
    assert O.Expired() in out


def test_fatal_error_disables_without_reconnecting() -> None:
    d = Driver()
    d.mic(0.5)
    d.feed(Wake("hey_jarvis", 0.9, d.t))
    d.feed(SessionFailed(d.core.session, RealtimeError("beta_api_shape_disabled", code="4000")))
    assert d.core.state == "error"
    out = d.feed(Wake("hey_jarvis", 0.9, d.t), 5.0)
    assert not any(isinstance(a, A.OpenSession) for a in out)
    assert A.PlaySound("error") in out
    assert sum(isinstance(a, A.OpenSession) for a in d.log) == 1


def test_after_a_fatal_refusal_the_first_wake_after_the_cool_off_tries_once_more() -> None:
    """A fixed key (or a topped-up account) is picked up without a restart, and nothing loops."""
    d = Driver(cfg(fatal_retry_s=600))
    d.mic(0.5)
    d.feed(Wake("hey_jarvis", 0.9, d.t))
    d.feed(SessionFailed(d.core.session, RealtimeError("invalid_api_key", code="invalid_api_key")))
    for _ in range(10):  # ten minutes of ticks: no attempt by itself
        d.feed(Tick(), 59.0)
    assert sum(isinstance(a, A.OpenSession) for a in d.log) == 1
    out = d.feed(Wake("hey_jarvis", 0.9, d.t), 11.0)
    assert any(isinstance(a, A.OpenSession) for a in out)
    d.feed(SessionFailed(d.core.session, RealtimeError("invalid_api_key", code="invalid_api_key")))
    out = d.feed(Wake("hey_jarvis", 0.9, d.t), 5.0)  # still wrong: the next cool-off starts now
    assert not any(isinstance(a, A.OpenSession) for a in out) and d.core.state == "error"


def test_retryable_drop_returns_to_idle_and_next_wake_reconnects() -> None:
    d = Driver()
    d.wake_and_connect()
    d.feed(SessionFailed(d.core.session, RealtimeError("1006", code="1006", retryable=True)))
    assert d.core.phase is Phase.CONNECTING  # resumed once (tests/core/test_resume.py)...
    d.feed(SessionReady(d.core.session))
    d.feed(SessionFailed(d.core.session, RealtimeError("1006", code="1006", retryable=True)))
    assert d.core.phase is Phase.IDLE and A.PlaySound("error") in d.log  # ...not twice
    out = d.feed(Wake("hey_jarvis", 0.9, d.t), 1.0)
    assert any(isinstance(a, A.OpenSession) for a in out)


def test_nobody_speaks_after_wake_closes_session() -> None:
    d = Driver(cfg(no_speech_timeout_s=4))
    d.wake_and_connect()
    d.mic(3.9)
    assert not any(isinstance(a, A.CloseSession) for a in d.log)
    d.mic(0.2)
    assert [a.reason for a in d.log if isinstance(a, A.CloseSession)] == ["no speech"]
    assert "input_audio_buffer.commit" not in d.sent_types()


def test_reply_timeout_closes_with_error_sound() -> None:
    d = Driver(cfg(response_timeout_s=5))
    d.wake_and_connect()
    d.say(1.0)
    d.feed(Tick(), 5.1)
    assert A.PlaySound("error") not in d.log  # a fresh session is asked once (tests/core/test_resume.py)
    d.feed(SessionReady(d.core.session))
    d.feed(Tick(), 5.1)
    assert A.PlaySound("error") in d.log
    assert [a.reason for a in d.log if isinstance(a, A.CloseSession)] == ["no reply; resuming", "reply timeout"]


def test_stop_command_cancels_and_closes() -> None:
    d = Driver()
    d.wake_and_connect()
    d.say(1.0)
    d.reply(deltas=3, done=False)
    out = d.feed(Stop())
    assert isinstance(out[0], A.StopPlayback)
    assert "response.cancel" in d.sent_types(out)
    assert any(isinstance(a, A.CloseSession) for a in out)
    assert d.core.phase is Phase.IDLE


def test_end_after_reply_closes_once_heard() -> None:
    d = Driver()
    d.wake_and_connect()
    d.say(1.0)
    d.feed(EndAfterReply())
    out = d.reply()
    token = next(a.token for a in out if isinstance(a, A.AwaitPlayback))
    out = d.feed(PlaybackDrained(token))
    assert [a.reason for a in out if isinstance(a, A.CloseSession)] == ["conversation ended"]


def test_mute_closes_session_and_ignores_wake() -> None:
    d = Driver()
    d.wake_and_connect()
    d.feed(SetMuted(True))
    assert d.core.state == "muted"
    assert any(isinstance(a, A.CloseSession) for a in d.log)
    out = d.feed(Wake("hey_jarvis", 0.99, d.t))
    assert not any(isinstance(a, A.OpenSession) for a in out)
    d.feed(SetMuted(False))
    assert d.core.state == "idle"


def test_events_of_an_old_session_are_ignored() -> None:
    d = Driver()
    d.wake_and_connect()
    old = d.core.session
    d.feed(Stop())
    d.feed(SessionClosed(old))
    d.feed(Wake("hey_jarvis", 0.9, d.t), 1.0)
    out = d.feed(ServerEvent(old, rt.AudioDelta("r", "i", 0, DELTA)))
    assert out == []
    out = d.feed(SessionFailed(old, RealtimeError("late", code="1006", retryable=True)))
    assert d.core.phase is Phase.CONNECTING


def test_benign_server_errors_do_not_disturb_the_turn() -> None:
    d = Driver()
    d.wake_and_connect()
    d.say(1.0)
    out = d.server(rt.ServerError("invalid_request_error", "response_cancel_not_active", "none active"))
    assert [s for s in out if not isinstance(s, O.Note)] == []  # a debug line, nothing else
    assert d.core.state == "thinking"


def test_delta_decoding_assumption_matches_wire() -> None:
    # 100 ms of pcm16 @ 24 kHz is 4800 bytes: the ms arithmetic (bytes / 48) the truncate relies on
    ev = rt.parse_server_event({"type": "response.output_audio.delta", "response_id": "r", "item_id": "i",
                                "output_index": 0, "content_index": 0,
                                "delta": base64.b64encode(DELTA).decode()})
    assert isinstance(ev, rt.AudioDelta) and len(ev.pcm) / 48 == 100.0


def test_announce_speaks_then_closes_without_follow_up() -> None:
    d = Driver()
    out = d.feed(Announce("Dinner is ready"))
    opens = [a for a in out if isinstance(a, A.OpenSession)]
    assert opens and opens[0].purpose == "announce"
    out = d.feed(SessionReady(d.core.session))
    create = d.sent(out)[0]
    assert create["type"] == "response.create" and "Dinner is ready" in create["response"]["instructions"]
    assert d.uploaded(out) == b""  # nothing from the microphone goes up for an announcement
    out = d.reply()
    token = next(a.token for a in out if isinstance(a, A.AwaitPlayback))
    out = d.feed(PlaybackDrained(token))
    assert [a.reason for a in out if isinstance(a, A.CloseSession)] == ["announcement done"]


def test_announce_waits_for_the_conversation_in_progress() -> None:
    d = Driver()
    d.wake_and_connect()
    out = d.feed(Announce("The washing machine is done"))
    assert not any(isinstance(a, A.OpenSession) for a in out)
    d.feed(Stop())
    assert any(isinstance(a, A.OpenSession) and a.purpose == "announce" for a in d.log)


def test_ask_speaks_first_listens_without_wake_word_and_reports_the_answer() -> None:
    d = Driver()
    out = d.feed(StartConversation("Ask whether to close the garage door.", ask_id="garage-1"))
    opens = [a for a in out if isinstance(a, A.OpenSession)]
    assert opens[0].transcribe and opens[0].instructions == "Ask whether to close the garage door."
    d.feed(SessionReady(d.core.session))
    out = d.reply()
    token = next(a.token for a in out if isinstance(a, A.AwaitPlayback))
    d.sink.play(1000)
    d.feed(PlaybackDrained(token))
    d.feed(Tick(), 0.5)
    assert d.core.phase is Phase.FOLLOW_UP
    d.say(1.0)  # "yes please"
    assert d.sent_types()[-2:] == ["input_audio_buffer.commit", "response.create"]
    out = d.server(rt.InputTranscript("item_u", "yes please"))
    assert O.Answer("garage-1", "yes please") in out


def test_slow_connect_short_command_sends_no_silence_after_it() -> None:
    """The user says a short command and stops while the session is still connecting: the silence after
    it (and before it) is not held for upload."""
    d = Driver(cfg(pad_ms=300, tail_ms=100))
    d.mic(1.0)
    d.feed(Wake("hey_jarvis", 0.9, d.t))
    d.mic(1.5)  # silence before the command, still connecting
    d.say(1.0)
    d.mic(3.0)  # the connection takes ages; nobody speaks
    out = d.feed(SessionReady(d.core.session))
    assert 1.0 <= len(d.uploaded(out)) / 32000 <= 1.0 + 0.3 + 0.1 + 0.02
    assert d.sent_types(out) == ["input_audio_buffer.commit", "response.create"]


def test_new_turn_waits_for_the_cancelled_reply_before_response_create() -> None:
    """Barge-in, and the new request is finished before the server confirmed the cancel: the
    response.create waits for the cancelled response's response.done (never two active responses)."""
    d = Driver()
    d.wake_and_connect()
    d.say(1.0)
    d.reply(deltas=3, done=False)
    d.feed(Wake("hey_jarvis", 0.97, d.t))
    out = d.say(0.8)
    assert d.sent_types(out) == ["input_audio_buffer.commit"]
    out = d.server(rt.ResponseDone("resp_1", "cancelled", reason="client_cancelled"))
    assert d.sent_types(out) == ["response.create"]
    out = d.reply("resp_2", "item_2")
    assert any(isinstance(a, A.AwaitPlayback) for a in out)


def test_the_wake_pre_roll_is_the_uplinks_last_pad_of_audio() -> None:
    """One copy of recent audio: the uplink's ring. The wake word's pre-roll is its last pad_ms (at
    most audio.preroll_ms); the minutes before never go up."""
    d = Driver(cfg(pad_ms=300, preroll_ms=200))
    d.mic(5.0)
    d.feed(Wake("hey_jarvis", 0.9, d.t))
    out = d.feed(SessionReady(d.core.session))
    assert len(d.uploaded(out)) / 32000 == pytest.approx(0.2, abs=0.011)


def test_no_echo_of_the_reply_as_pre_roll_for_the_follow_up() -> None:
    d = Driver()
    d.wake_and_connect()
    d.say(1.0)
    d.reply()
    d.mic(0.5)  # the reply's echo reaches the microphone while it plays
    d.sink.play(500)
    d.feed(PlaybackDrained(1, d.sink.played_ms))
    assert d.core.phase is Phase.FOLLOW_UP
    before = len(d.uploaded())
    d.feed(SpeechStarted(d.t), 0.5)  # after the echo tail
    assert len(d.uploaded()) == before, "the echo of the reply went up as the follow-up's pre-roll"
