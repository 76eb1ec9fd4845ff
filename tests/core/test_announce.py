"""Announcements (issue 15): what a muted speaker does with one, and the state it shows while it plays."""

from __future__ import annotations

from speaker.core import actions as A
from speaker.core import outputs as O
from speaker.core.events import Announce, PlaybackDrained, SessionReady, SetMuted, StartConversation
from speaker.core.state import State
from tests.core.test_conversation import Driver, cfg


def states(out: list[object]) -> list[str]:
    return [s.state.value for s in out if isinstance(s, O.StateChanged)]


def play_announcement(d: Driver, text: str = "Dinner is ready") -> list[object]:
    out: list[object] = list(d.feed(Announce(text)))
    out += d.feed(SessionReady(d.core.session))
    reply = d.reply()
    out += reply
    token = next(a.token for a in reply if isinstance(a, A.AwaitPlayback))
    d.sink.play(1000)
    out += d.feed(PlaybackDrained(token))
    return out


def test_an_announcement_shows_announcing_never_listening_or_thinking() -> None:
    d = Driver()
    out = play_announcement(d)
    assert states(out) == ["announcing", "idle"]
    assert [a.reason for a in out if isinstance(a, A.CloseSession)] == ["announcement done"]


def test_a_muted_speaker_still_speaks_announcements_and_stays_deaf() -> None:
    d = Driver()
    d.feed(SetMuted(True))
    out = play_announcement(d)
    assert not any(isinstance(s, O.Problem) for s in out)
    assert any(isinstance(a, A.OpenSession) and a.purpose == "announce" for a in out)
    assert states(out) == ["announcing", "muted"]  # and back to muted, not idle
    listens = [a for a in out if isinstance(a, A.Listen)]
    assert all(not listen.wake and not listen.vad for listen in listens)  # the microphone stays off
    assert d.uploaded() == b""


def test_muting_during_an_announcement_lets_it_finish() -> None:
    d = Driver()
    d.feed(Announce("The washing machine is done"))
    d.feed(SessionReady(d.core.session))
    out = d.feed(SetMuted(True))
    assert not any(isinstance(a, (A.CloseSession, A.StopPlayback)) for a in out)
    assert d.core.state is State.ANNOUNCING


def test_announce_when_muted_false_keeps_the_old_refusal() -> None:
    d = Driver(cfg(announce_when_muted=False))
    d.feed(SetMuted(True))
    out = d.feed(Announce("Dinner is ready"))
    assert O.Problem("muted: request ignored") in out
    assert not any(isinstance(a, A.OpenSession) for a in out)


def test_a_muted_speaker_refuses_a_conversation_but_not_the_announcement_queued_after_it() -> None:
    d = Driver()
    d.feed(SetMuted(True))
    out = d.feed(StartConversation("Ask whether to close the garage", ask_id="g1"))
    assert O.Problem("muted: request ignored") in out
    out = d.feed(Announce("Dinner is ready"))
    assert [a.purpose for a in out if isinstance(a, A.OpenSession)] == ["announce"]
