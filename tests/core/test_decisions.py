"""Decisions that used to live outside the core and now are its alone: its own sounds and the
microphone's deafness to them, the thinking sound, a timer's ring and its dismissal, the pre-announce
chime, what the microphone feeds. Virtual time only."""

from __future__ import annotations

import subprocess
import sys

from speaker.core import actions as A
from speaker.core import outputs as O
from speaker.core.events import (
    Announce,
    MicFrame,
    SessionReady,
    SetMuted,
    Stop,
    Tick,
    TimersQuiet,
    TimersRinging,
    ToolFinished,
    Wake,
)
from speaker.core.state import State
from speaker.realtime import events as rt
from tests.core.test_conversation import FRAME, Driver, cfg


def sounds(log: list[object], name: str) -> int:
    return sum(1 for a in log if a == A.PlaySound(name))


def test_importing_the_core_loads_no_io_module() -> None:
    code = ("import sys, speaker.core.conversation, speaker.core.outputs; "
            "print(sorted({'asyncio', 'ssl', 'socket', 'threading', 'subprocess', 'pydantic', 'yaml'} "
            "& set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_microphone_is_deaf_to_the_mute_chime_and_its_echo_then_hears_again() -> None:
    d = Driver(cfg(echo_tail_s=0.2))
    out = d.feed(SetMuted(True))
    assert A.PlaySound("mute") in out
    assert A.Listen(wake=False, vad=False, blank=True) in out
    d.mic(0.29)  # the chime (0.1 s) and the echo tail (0.2 s)
    assert A.Listen(wake=False, vad=False, blank=False) not in d.log
    d.mic(0.02)
    assert d.log[-1] == A.Listen(wake=False, vad=False, blank=False)


def test_the_vad_runs_only_while_a_conversation_is_open() -> None:
    d = Driver()
    d.mic(0.5)
    d.feed(Wake("hey_jarvis", 0.9, d.t))
    assert A.Listen(wake=True, vad=True) in d.log
    d.feed(Stop("stop command"))
    assert d.log[-1] == A.Listen(wake=True, vad=False)


def test_a_slow_tool_plays_the_thinking_sound_every_few_seconds_until_it_answers() -> None:
    d = Driver(cfg(thinking_after_s=1.0, thinking_repeat_s=3.0, sound_s={"thinking": 0.1}))
    d.wake_and_connect()
    d.say(1.0)
    d.server(rt.ResponseCreated("r1"))
    d.server(rt.FunctionCall("r1", "item_1", "call_1", "z2m_light_set", "{}"))
    d.server(rt.ResponseDone("r1", "completed"))
    d.feed(Tick(), 0.9)
    assert sounds(d.log, "thinking") == 0
    d.feed(Tick(), 0.2)  # 1.1 s
    assert sounds(d.log, "thinking") == 1
    d.sink.play(100)  # the speaker played it
    d.feed(Tick(), 3.0)  # 4.1 s
    assert sounds(d.log, "thinking") == 2
    out = d.feed(ToolFinished("call_1", '{"ok": true}', True), 0.5)
    assert any(isinstance(o, O.ToolDone) and o.seconds == 4.6 for o in out)
    d.feed(Tick(), 10.0)
    assert sounds(d.log, "thinking") == 2, "the thinking sound went on after the tool answered"


def test_a_timer_rings_with_pauses_exactly_as_long_as_max_ring_s() -> None:
    d = Driver(cfg(sound_s={"timer": 0.5}, timer_pause_s=1.5, timer_max_ring_s=8.0))
    d.feed(TimersRinging(("tea",)))
    for _ in range(200):  # 10 s in 50 ms ticks, the speaker playing in real time
        d.sink.play(50)
        d.feed(Tick(), 0.05)
    assert sounds(d.log, "timer") == 4  # a ring every 2 s: 4 rings make 8 s
    assert A.DismissTimers("timeout") in d.log
    assert not any(isinstance(a, A.Listen) and a.blank for a in d.log), "the ring must not blank the microphone"


def test_the_ring_waits_while_a_conversation_uses_the_speaker() -> None:
    d = Driver(cfg(sound_s={"timer": 0.5}))
    d.wake_and_connect()
    d.feed(TimersRinging(("tea",)))
    d.mic(1.0)
    assert sounds(d.log, "timer") == 0
    d.feed(Stop("stop command"))
    assert A.DismissTimers("stop") in d.log  # a stop meets the ringing timer too


def test_the_wake_word_stops_a_ringing_timer_and_opens_no_conversation() -> None:
    d = Driver(cfg(sound_s={"timer": 0.5}))
    d.feed(TimersRinging(("tea",)))
    d.feed(Tick(), 0.01)
    assert sounds(d.log, "timer") == 1
    out = d.feed(Wake("hey_jarvis", 0.9, d.t))
    assert A.DismissTimers("wake") in out and A.StopPlayback() in out
    assert not any(isinstance(a, A.OpenSession) for a in out)
    d.feed(TimersQuiet())
    d.feed(Tick(), 5.0)
    assert sounds(d.log, "timer") == 1


def test_shutdown_does_not_dismiss_a_ringing_timer() -> None:
    d = Driver(cfg(sound_s={"timer": 0.5}))
    d.feed(TimersRinging(("tea",)))
    d.feed(Stop("shutdown", timers=False))
    assert not any(isinstance(a, A.DismissTimers) for a in d.log)


def test_an_announcement_has_its_chime_unless_asked_not_to() -> None:
    d = Driver(cfg(sound_s={"preannounce": 0.4}))
    out = d.feed(Announce("Dinner is ready"))
    assert O.Announcing("Dinner is ready") in out and A.PlaySound("preannounce") in out
    session = d.core.session
    d.feed(SessionReady(session))
    d.server(rt.ResponseCreated("r1"))
    d.server(rt.ResponseDone("r1", "completed"))
    quiet = Driver(cfg(sound_s={"preannounce": 0.4}))
    out = quiet.feed(Announce("Quietly", preannounce=False))
    assert A.PlaySound("preannounce") not in out


def test_a_session_ends_with_its_figures_counted_once() -> None:
    d = Driver()
    d.wake_and_connect()
    d.say(1.0)
    d.reply()
    d.feed(Stop("stop command"))
    ended = [o for o in d.log if isinstance(o, O.SessionEnded)]
    assert len(ended) == 1
    assert ended[0].turns == 1 and ended[0].responses == 1 and ended[0].reason == "stop command"
    assert ended[0].uploaded_s == d.core.uplink_seconds > 1.0
    states = [o.state for o in d.log if isinstance(o, O.StateChanged)]
    assert states[-1] is State.IDLE
    assert d.log.index(O.StateChanged(State.IDLE)) < d.log.index(ended[0]), "state first, then the summary"


def test_mic_frames_carry_the_played_position_for_truncation() -> None:
    d = Driver()
    d.wake_and_connect()
    d.say(1.0)
    d.reply(deltas=10, done=False)  # 1 s received
    d.sink.play(400)
    d.feed(MicFrame(FRAME, d.t))  # the runner reads the sink's position into every frame
    out = d.feed(Wake("hey_jarvis", 0.9, d.t))
    truncates = [a.event for a in out if isinstance(a, A.SendEvent) and a.event["type"].endswith("truncate")]
    assert truncates and truncates[0]["audio_end_ms"] == 400
