"""Full duplex decided by the core: plain speech interrupts a reply only where the echo monitor says the
echo is cancelled (``barge_in: auto``), only when it rises above the expected residual echo, and not
in the first moments of playback; someone talking over a reply ducks it."""

from __future__ import annotations

from speaker.core import actions as A
from speaker.core import outputs as O
from speaker.core.conversation import Phase
from speaker.core.events import EchoLevels, EchoStatus, MicFrame, Wake
from speaker.listen.events import SpeechEnded, SpeechStarted
from tests.core.test_conversation import FRAME, Driver, cfg

SAFE = EchoStatus(True, 38.0, "echo reduced by 38.0 dB", erl_db=-6.0)
ECHO_ONLY = EchoLevels(ref_dbfs=-20.0, mic_dbfs=-26.0, out_dbfs=-64.0)
"""The reply alone: it comes back 6 dB down (the echo path the monitor measured), cancelled by 38 dB."""
TALKING = EchoLevels(ref_dbfs=-40.0, mic_dbfs=-31.0, out_dbfs=-45.0)
"""Someone speaking over the ducked reply: the microphone is 15 dB above the echo the reference explains."""
LOUD_ECHO = EchoLevels(ref_dbfs=-20.0, mic_dbfs=-22.0, out_dbfs=-40.0)
"""A burst of residual echo that the VAD takes for speech (4 dB above the median echo path)."""


def playing(d: Driver, seconds: float, levels: EchoLevels | None = ECHO_ONLY) -> list[A.Action]:
    """Microphone frames while the reply plays (the sink plays 10 ms per frame)."""
    out: list[A.Action] = []
    for _ in range(round(seconds * 100)):
        d.t += 0.01
        d.sink.play(10)
        out += d.feed(MicFrame(FRAME, d.t, echo=levels), 0.01)
    return out


def replying(d: Driver, status: EchoStatus | None = SAFE) -> list[A.Action]:
    out: list[A.Action] = []
    if status is not None:
        out += d.feed(status)
    d.wake_and_connect()
    d.say(1.0)
    out += d.reply(deltas=100)  # 10 s of reply
    assert d.core.phase is Phase.SPEAKING
    return out


def interrupted(out: list[A.Action]) -> bool:
    return any(isinstance(a, A.StopPlayback) for a in out)


def test_auto_without_a_verdict_is_half_duplex() -> None:
    d = Driver()  # barge_in defaults to auto
    replying(d, status=None)
    playing(d, 1.0)
    out = d.feed(SpeechStarted(d.t))
    out += playing(d, 1.0, TALKING)
    assert not interrupted(out) and d.core.phase is Phase.SPEAKING
    out = d.feed(Wake("hey_jarvis", 0.9, d.t))  # the wake word still does
    assert interrupted(out) and d.core.phase is Phase.LISTENING


def test_speech_above_the_echo_interrupts_and_its_start_goes_up() -> None:
    d = Driver()
    out = replying(d)
    assert [(o.full, o.erle_db) for o in out if isinstance(o, O.DuplexChanged)] == [(True, 38.0)]
    playing(d, 1.0)
    before = len(d.uploaded())
    playing(d, 0.2, TALKING)  # speech onset; the VAD tells it 200 ms later
    out = d.feed(SpeechStarted(d.t - 0.2))
    assert interrupted(out) and any(isinstance(o, O.Interrupted) for o in out)
    assert d.sent_types(out) == ["conversation.item.truncate"]  # the reply had all arrived
    assert d.sent(out)[0]["audio_end_ms"] == 1200  # what was heard
    assert d.core.phase is Phase.LISTENING
    # the new turn starts with the pre-roll: the 200 ms before the VAD spoke are uploaded
    assert len(d.uploaded()) - before >= 0.2 * 32000
    out = d.mic(0.5) + d.feed(SpeechEnded(d.t))
    assert "input_audio_buffer.commit" in d.sent_types(out)


def test_our_own_echo_never_interrupts_but_ducks_while_the_vad_hears_it() -> None:
    d = Driver()
    replying(d)
    out = playing(d, 1.0)
    out += d.feed(SpeechStarted(d.t))  # a residual the VAD took for speech
    out += playing(d, 1.0, LOUD_ECHO)
    assert not interrupted(out)
    assert [a.on for a in out if isinstance(a, A.Duck)] == [True]
    out = d.feed(SpeechEnded(d.t))
    assert [a.on for a in out if isinstance(a, A.Duck)] == [False]
    assert d.core.phase is Phase.SPEAKING


def test_no_barge_in_during_the_warm_up_then_speech_that_goes_on_interrupts() -> None:
    d = Driver()
    replying(d)
    out = playing(d, 0.1, TALKING)
    out += d.feed(SpeechStarted(d.t - 0.05))
    out += playing(d, 0.3, TALKING)
    assert not interrupted(out)  # 400 ms into the reply: still warming up
    out = playing(d, 0.2, TALKING)
    assert interrupted(out)
    assert d.sent(out)[0]["audio_end_ms"] == 510  # 500 ms after the first frame that saw it playing


def test_fallback_to_half_duplex_when_the_echo_is_no_longer_cancelled() -> None:
    d = Driver()
    replying(d)
    out = d.feed(EchoStatus(False, 8.0, "echo reduced by 8.0 dB, below 25 dB"))
    assert [(o.full, o.reason) for o in out if isinstance(o, O.DuplexChanged)] == [
        (False, "echo reduced by 8.0 dB, below 25 dB")]
    assert [n.level for n in out if isinstance(n, O.Note) and "half duplex" in n.message] == ["warning"]
    assert d.feed(SAFE.__class__(False, 9.0, "still bad")) == []  # told once
    playing(d, 1.0)
    out = d.feed(SpeechStarted(d.t)) + playing(d, 1.0, TALKING)
    assert not interrupted(out)
    assert not any(isinstance(a, A.Duck) for a in out)  # ducking only where the echo is cancelled


def test_explicit_modes_are_honoured() -> None:
    wake = Driver(cfg(barge_in="wake"))
    out = replying(wake)
    assert [o.full for o in out if isinstance(o, O.DuplexChanged)] == [False]
    playing(wake, 1.0)
    out = wake.feed(SpeechStarted(wake.t)) + playing(wake, 1.0, TALKING)
    assert not interrupted(out)
    assert [a.on for a in out if isinstance(a, A.Duck)] == [True]  # ducked for the wake word

    speech = Driver(cfg(barge_in="speech"))
    replying(speech, status=None)  # no echo data at all: speech is taken at its word
    playing(speech, 1.0, None)
    assert interrupted(speech.feed(SpeechStarted(speech.t)))


LEARNT = EchoStatus(True, 38.0, "echo reduced by 38.0 dB (22.0 dB by the linear filter)", erl_db=-6.0,
                    linear_erle_db=22.0)
"""The linear filter has learnt the room: it leaves the echo 22 dB down (at -48 dBFS for ECHO_ONLY)."""
VOICE_OVER_ECHO = EchoLevels(ref_dbfs=-20.0, mic_dbfs=-25.0, out_dbfs=-60.0, ear_dbfs=-32.0)
"""A voice 6 dB below the echo, not ducked yet: the raw microphone barely rises (-25 for -26 dBFS),
the linear filter leaves the voice (-32 dBFS) 16 dB above the echo it leaves."""
RESIDUAL_BURST = EchoLevels(ref_dbfs=-20.0, mic_dbfs=-26.0, out_dbfs=-50.0, ear_dbfs=-42.0)
"""Our own echo, where the linear filter leaves 6 dB more than its median (a transient)."""


def test_over_a_learnt_linear_filter_a_voice_interrupts_before_any_duck() -> None:
    d = Driver()
    replying(d, status=LEARNT)
    playing(d, 1.0, ECHO_ONLY)
    out = playing(d, 0.1, VOICE_OVER_ECHO)
    out += d.feed(SpeechStarted(d.t - 0.1))
    assert interrupted(out)  # at once: the raw microphone alone would have waited for the duck
    assert d.sent(out)[0]["audio_end_ms"] == 1100


def test_the_linear_test_is_not_fooled_by_a_residual_burst_nor_used_before_it_learnt() -> None:
    d = Driver()
    replying(d, status=LEARNT)
    playing(d, 1.0, ECHO_ONLY)
    out = d.feed(SpeechStarted(d.t))  # a residual the VAD took for speech
    out += playing(d, 0.5, RESIDUAL_BURST)
    assert not interrupted(out)
    out += d.feed(SpeechEnded(d.t))

    young = Driver()  # the same voice while the filter has only 8 dB: the raw microphone decides
    replying(young, status=EchoStatus(True, 38.0, "learning", erl_db=-6.0, linear_erle_db=8.0))
    playing(young, 1.0, ECHO_ONLY)
    out = playing(young, 0.1, VOICE_OVER_ECHO) + young.feed(SpeechStarted(young.t - 0.1))
    out += playing(young, 0.2, VOICE_OVER_ECHO)
    assert not interrupted(out)
