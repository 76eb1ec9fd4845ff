"""The whole daemon in the simulated room: its own reply comes back into its microphone through a
60 ms delay and a room with RT60 0.3 s at -6 dB; the Realtime emulator answers. Virtual time (the
room's loopback is the only clock), no wall-clock assertion."""

from __future__ import annotations

from pathlib import Path

import pytest

from speaker.core import actions as A
from speaker.core import outputs as O
from tests.fixtures.speech import tools_missing
from tests.helpers.room import echo_rms, run_in_room, scale_to, speech_part

pytestmark = [pytest.mark.skipif(tools_missing() is not None, reason=str(tools_missing())), pytest.mark.slow]


def _cut(run_steps: list[tuple[float, object]]) -> list[float]:
    return [t for t, s in run_steps if isinstance(s, A.StopPlayback)]


@pytest.mark.parametrize("config", ["", "echo:\n  delay_ms: 400\n"], ids=["estimated-delay", "wrong-delay"])
async def test_a_reply_with_nobody_speaking_plays_to_the_end(tmp_path: Path, config: str) -> None:
    """Also with a wrong configured delay (400 ms for 60 ms): AEC3 finds the echo by itself."""
    run = await run_in_room(tmp_path, config=config)
    emu = run.emulator
    assert emu.violations == []
    assert [s.full for _, s in run.outputs(O.DuplexChanged)][-1] is True  # the echo measured as cancelled
    assert run.outputs(O.Interrupted) == []
    assert emu.events("response.cancel") == [] and emu.events("conversation.item.truncate") == []
    assert run.loop.sink.played_ms >= 10_000  # the whole reply was heard
    assert run.uploaded_after("input_audio_buffer.commit") == 0.0  # nothing of the reply went up


async def test_speech_6_db_below_the_echo_stops_the_reply_and_reaches_the_session(tmp_path: Path) -> None:
    words, seconds = speech_part("speech_end")
    run = await run_in_room(tmp_path, say=[(scale_to(words, echo_rms() * 10 ** (-6 / 20)), 4000)])
    emu = run.emulator
    assert emu.violations == []
    (said_at,) = run.loop.started
    cuts = [t for t, _ in run.outputs(O.Interrupted)]
    assert len(cuts) == 1 and said_at < cuts[0]  # once, by the user, not before they spoke
    truncate = emu.events("conversation.item.truncate")
    assert len(truncate) == 1 and 4000 <= truncate[0]["audio_end_ms"] <= 4000 + 1000
    # the words reach the session in full (the pre-roll carries their start) and are committed
    print(f"speech onset -> playback cut: {1000 * (cuts[0] - said_at - 0.05):.0f} ms of audio")
    assert run.uploaded_after("conversation.item.truncate") >= seconds
    assert len(emu.events("input_audio_buffer.commit")) == 2
    print(f"speech onset -> playback cut: {1000 * (cuts[0] - said_at - 0.05):.0f} ms of audio")


async def test_once_the_linear_filter_has_learnt_speech_interrupts_without_waiting_for_the_duck(
        tmp_path: Path) -> None:
    """14 s into a long reply the linear filter leaves the echo 20+ dB down: the voice 6 dB below the
    echo stands out of what it leaves, and the reply stops as soon as the VAD hears the voice."""
    words, _ = speech_part("speech_end")
    run = await run_in_room(tmp_path, reply_s=20.0, duration_s=45.0,
                            say=[(scale_to(words, echo_rms() * 10 ** (-6 / 20)), 14_000)])
    assert run.emulator.violations == []
    (said_at,) = run.loop.started
    (cut,) = [t for t, _ in run.outputs(O.Interrupted)]
    ducked = [t for t, a in run.outputs(A.Duck) if a.on]
    assert said_at < cut and ducked and ducked[0] == cut  # cut in the same step that would have ducked
    (truncate,) = run.emulator.events("conversation.item.truncate")
    assert 14_000 <= truncate["audio_end_ms"] <= 14_000 + 400  # audio time: the room's own clock


@pytest.mark.parametrize("at_ms", [2500, 4000, 7000])
async def test_the_wake_word_said_over_the_reply_is_heard(tmp_path: Path, at_ms: int) -> None:
    """6 dB below the echo, early and late in the reply: the wake word hears the microphone through
    the linear filter only (AEC3's suppressor silenced it: scores of 0.2 against 0.65 in silence)."""
    wake, _ = speech_part("hey_jarvis")
    run = await run_in_room(tmp_path, barge_in="wake",
                            say=[(scale_to(wake, echo_rms() * 10 ** (-6 / 20)), at_ms)])
    heard = run.outputs(O.WakeHeard)
    assert len(heard) == 2 and heard[1][0] > run.loop.started[0]
    assert len(run.outputs(O.Interrupted)) == 1
    if at_ms >= 4000:  # by then the echo is measured as cancelled: the reply is lowered while it is said
        assert [a.on for _, a in run.outputs(A.Duck)][:1] == [True]


async def test_half_duplex_when_echo_cancellation_is_off(tmp_path: Path) -> None:
    """The fallback: nothing cancels, the speaker says half duplex (Home Assistant sees it) and its own
    echo at -6 dB never interrupts it, although the VAD hears it all through the reply."""
    run = await run_in_room(tmp_path, config="echo:\n  enabled: false\n")
    assert [(s.full, s.reason) for _, s in run.outputs(O.DuplexChanged)] == [
        (False, "echo cancellation is off (echo.enabled: false)")]
    assert run.outputs(O.Interrupted) == []
    assert run.emulator.events("response.cancel") == []
    assert run.uploaded_after("input_audio_buffer.commit") == 0.0


async def test_a_late_reference_never_makes_it_interrupt_itself(tmp_path: Path) -> None:
    """A sound card that reports its played position a second late: the reference reaches the canceller
    after its echo. AEC3's suppressor gates the echo, so its own figure looks good; the linear filter
    cannot cancel what the reference does not predict, so the monitor keeps the speaker half duplex."""
    run = await run_in_room(tmp_path, report_lag_ms=1000.0)
    assert [s.full for _, s in run.outputs(O.DuplexChanged)] == [False]  # the fallback holds all through
    assert run.outputs(O.Interrupted) == []
    assert run.emulator.events("response.cancel") == []
    assert run.uploaded_after("input_audio_buffer.commit") == 0.0
