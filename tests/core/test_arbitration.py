"""Multi-room arbitration in the core: a new wake while idle is claimed and answered only when the other
speakers agree; standing down is silent; a takeover answers from the kept audio; a late better claim
ends our session quietly; a session that cannot open releases the floor. Virtual time only."""

from __future__ import annotations

from typing import Any

from speaker.core import actions as A
from speaker.core import outputs as O
from speaker.core.events import Arbitrated, MicFrame, SessionFailed, SessionReady, Wake
from speaker.core.state import State
from speaker.errors import RealtimeError
from speaker.realtime import events as rt
from tests.core.test_conversation import DELTA, SOUNDS, Driver, cfg

ROOMS = cfg(arbitrate=True, sound_s={**SOUNDS, "wake": 0.2})


def loud(n: int) -> bytes:
    return (n & 0x7FFF).to_bytes(2, "little") * 160


def claim(d: Driver) -> A.Claim:
    d.mic(1.0)
    out = d.feed(Wake("hey_jarvis", 0.9, d.t))
    claims = [a for a in out if isinstance(a, A.Claim)]
    assert len(claims) == 1, out
    return claims[0]


def noticed(out: list[Any]) -> list[Any]:
    """What a user would see or hear: sounds, sessions, state changes."""
    return [a for a in out if isinstance(a, (A.PlaySound, A.OpenSession, O.StateChanged, O.WakeHeard))]


def test_a_claimed_wake_is_silent_until_the_verdict_then_answers_like_today() -> None:
    d = Driver(ROOMS)
    d.mic(0.5)
    c = claim(d)
    assert len(c.segment) == 32000, "a second of audio over the wake word goes with the claim"
    assert noticed(d.log) == [] and d.core.state is State.IDLE
    d.feed(Wake("hey_jarvis", 0.95, d.t))  # the same utterance fires again: one claim
    assert sum(isinstance(a, A.Claim) for a in d.log) == 1
    d.mic(0.1)  # the window: the user goes on speaking
    out = d.feed(Arbitrated(c.wake_id, proceed=True))
    assert A.PlaySound("wake") in out and A.OpenSession(d.core.session, wake_model="hey_jarvis") in out
    assert d.core.state is State.LISTENING
    ready = d.feed(SessionReady(d.core.session))
    # the pre-roll before the wake (300 ms) and the 100 ms heard while waiting go up first
    assert len(d.uploaded(ready)) == (30 + 10) * 320


def test_standing_down_is_completely_quiet() -> None:
    d = Driver(ROOMS)
    c = claim(d)
    out = d.feed(Arbitrated(c.wake_id, proceed=False, winner="kitchen"))
    d.mic(2.0)
    assert noticed(d.log) == []
    assert O.StoodDown(c.wake_id, "kitchen") in out
    assert not any(isinstance(a, (A.OpenSession, A.Release)) for a in d.log)
    assert d.core.quiet


def test_a_takeover_answers_from_the_audio_kept_since_the_wake() -> None:
    d = Driver(ROOMS)
    d.mic(1.0)
    out = d.feed(Wake("hey_jarvis", 0.9, d.t))
    c = next(a for a in out if isinstance(a, A.Claim))
    d.feed(Arbitrated(c.wake_id, proceed=False, winner="kitchen"))
    for i in range(120):  # 1.2 s of the request, each frame told apart
        d.t += 0.01
        d.feed(MicFrame(loud(i + 1), d.t), 0.01)
    out = d.feed(Arbitrated(c.wake_id, proceed=True, takeover=True))
    assert any(isinstance(a, A.OpenSession) for a in out)
    sent = d.uploaded(d.feed(SessionReady(d.core.session)))
    assert loud(1) in sent and sent.endswith(loud(120)), "the request heard since the wake is answered"


def test_a_takeover_after_takeover_s_is_refused() -> None:
    d = Driver(cfg(arbitrate=True, takeover_s=1.0))
    c = claim(d)
    d.feed(Arbitrated(c.wake_id, proceed=False, winner="kitchen"))
    d.mic(1.5)
    out = d.feed(Arbitrated(c.wake_id, proceed=True, takeover=True))
    assert not any(isinstance(a, A.OpenSession) for a in out)


def test_a_late_better_claim_ends_our_session_without_a_sound() -> None:
    d = Driver(ROOMS)
    c = claim(d)
    d.feed(Arbitrated(c.wake_id, proceed=True))
    d.feed(SessionReady(d.core.session))
    d.server(rt.ResponseCreated("r1"))
    d.server(rt.AudioDelta("r1", "item_1", 0, DELTA))
    out = d.feed(Arbitrated(c.wake_id, proceed=False, winner="kitchen"))
    assert A.StopPlayback() in out and any(isinstance(a, A.CloseSession) for a in out)
    assert not any(isinstance(a, A.PlaySound) for a in out)
    assert d.core.state is State.IDLE


def test_a_session_that_cannot_open_releases_the_floor() -> None:
    d = Driver(ROOMS)
    c = claim(d)
    d.feed(Arbitrated(c.wake_id, proceed=True))
    out = d.feed(SessionFailed(d.core.session, RealtimeError("refused", code="server_error", retryable=True)))
    assert A.Release(c.wake_id) in out


def test_follow_up_and_barge_in_are_never_claimed() -> None:
    d = Driver(ROOMS)
    c = claim(d)
    d.feed(Arbitrated(c.wake_id, proceed=True))
    d.feed(SessionReady(d.core.session))
    d.server(rt.ResponseCreated("r1"))
    d.server(rt.AudioDelta("r1", "item_1", 0, DELTA))
    out = d.feed(Wake("hey_jarvis", 0.9, d.t))  # barge-in
    assert not any(isinstance(a, A.Claim) for a in out) and O.Interrupted() in out


def test_without_arbitration_a_wake_answers_at_once() -> None:
    d = Driver(cfg())
    d.mic(1.0)
    out = d.feed(Wake("hey_jarvis", 0.9, d.t))
    assert any(isinstance(a, A.OpenSession) for a in out)
    assert not any(isinstance(a, A.Claim) for a in out)
