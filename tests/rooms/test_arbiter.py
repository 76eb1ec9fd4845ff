"""The arbiter alone, driven by event scripts: when it waits, whom it picks, what it publishes."""

from __future__ import annotations

import pytest

from speaker.config.rooms import RoomsSettings
from speaker.rooms.arbiter import (
    Arbiter,
    Availability,
    BrokerState,
    Claim,
    ClaimSeen,
    OwnRelease,
    OwnWake,
    Participation,
    Proceed,
    PublishClaim,
    PublishOutcome,
    PublishRelease,
    ReleaseSeen,
    SetTakePart,
    StandDown,
    Tick,
    Yield,
)

T = 1_700_000_000.0


def arbiter(site: str = "kitchen", peers: tuple[str, ...] = (), **settings: object) -> Arbiter:
    a = Arbiter(site, RoomsSettings.model_validate(settings))
    a.handle(BrokerState(True, 0.0))
    for p in (site, *peers):
        a.handle(Availability(p, True, 0.0))
        a.handle(Participation(p, True, 0.0))
    return a


def wake(wake_id: str = "k1", level: float = -30.0, score: float = 0.8, at: float = T, now: float = 10.0,
         word: str = "hey_jarvis") -> OwnWake:
    return OwnWake(wake_id, word, at, level, score, now)


def claim(site: str, level: float, score: float = 0.8, at: float = T, wake_id: str | None = None,
          word: str = "hey_jarvis") -> Claim:
    return Claim(site, wake_id or f"{site}-1", word, at, level, score)


def kinds(decisions: list[object]) -> list[str]:
    return [type(d).__name__ for d in decisions]


def test_a_lone_speaker_answers_at_once_and_still_says_so() -> None:
    a = arbiter()
    out = a.handle(wake())
    assert kinds(out) == ["PublishClaim", "Proceed", "PublishOutcome"]
    assert out[1] == Proceed("k1", alone=True)
    assert a.deadline() is None


def test_with_the_broker_down_a_speaker_answers_alone_and_publishes_nothing() -> None:
    a = arbiter(peers=("hall",))
    a.handle(BrokerState(False, 5.0))
    assert a.handle(wake()) == [Proceed("k1", alone=True)]


def test_a_speaker_not_taking_part_answers_alone_and_claims_nothing() -> None:
    a = arbiter(peers=("hall",))
    a.handle(SetTakePart(False, 5.0))
    assert a.handle(wake()) == [Proceed("k1", alone=True)]


def test_a_neighbour_not_taking_part_is_not_waited_for() -> None:
    a = arbiter(peers=("hall",))
    a.handle(Participation("hall", False, 5.0))
    assert Proceed("k1", alone=True) in a.handle(wake())


def test_with_a_live_neighbour_it_waits_the_window_then_answers_when_nobody_else_heard() -> None:
    a = arbiter(peers=("hall",), window_ms=100)
    out = a.handle(wake(now=10.0))
    assert kinds(out) == ["PublishClaim"]
    assert a.deadline() == pytest.approx(10.1)
    assert a.handle(Tick(10.05)) == []
    out = a.handle(Tick(10.1))
    assert out[0] == Proceed("k1")


def test_the_louder_neighbour_wins_and_we_stand_down_as_soon_as_every_neighbour_claimed() -> None:
    a = arbiter(peers=("hall",))
    a.handle(wake(level=-30.0, score=0.9))
    out = a.handle(ClaimSeen(claim("hall", -24.0, score=0.5), 10.03))
    assert out[0] == StandDown("k1", "hall")
    assert isinstance(out[1], PublishOutcome)
    assert out[1].outcome.winner == "hall"
    assert [c.site for c in out[1].outcome.claims] == ["hall", "kitchen"]


def test_a_claim_that_arrived_before_our_own_detection_counts() -> None:
    a = arbiter(peers=("hall",))
    a.handle(ClaimSeen(claim("hall", -20.0, at=T - 0.015), 9.99))
    out = a.handle(wake())
    assert StandDown("k1", "hall") in out


def test_ties_go_to_the_better_score_then_the_smaller_site_id() -> None:
    a = arbiter("kitchen", peers=("attic", "hall"))
    a.handle(wake(level=-30.0, score=0.7))
    a.handle(ClaimSeen(claim("hall", -30.0, score=0.9), 10.01))
    out = a.handle(ClaimSeen(claim("attic", -30.0, score=0.9), 10.02))
    assert out[0] == StandDown("k1", "attic")


def test_another_wake_word_or_a_wake_outside_the_tolerance_is_another_utterance() -> None:
    a = arbiter(peers=("hall", "den"), same_wake_ms=250)
    a.handle(wake(level=-30.0))
    assert a.handle(ClaimSeen(claim("hall", -10.0, word="alexa"), 10.01)) == []
    assert a.handle(ClaimSeen(claim("den", -10.0, at=T + 0.3), 10.02)) == []
    assert a.handle(Tick(10.1))[0] == Proceed("k1")


def test_a_claim_from_a_speaker_that_went_offline_is_ignored() -> None:
    a = arbiter(peers=("hall", "den"))
    a.handle(Availability("hall", False, 9.0))
    a.handle(wake(level=-30.0))
    out = a.handle(ClaimSeen(claim("hall", -10.0), 10.01))
    assert out == []
    assert a.handle(Tick(10.1))[0] == Proceed("k1")


def test_a_late_louder_claim_makes_the_answering_speaker_yield() -> None:
    a = arbiter(peers=("hall",))
    a.handle(wake(level=-30.0))
    assert a.handle(Tick(10.1))[0] == Proceed("k1")
    out = a.handle(ClaimSeen(claim("hall", -20.0), 10.3))
    assert out[0] == Yield("k1", "hall")
    # a quieter late claim changes nothing
    b = arbiter(peers=("hall",))
    b.handle(wake(level=-30.0))
    b.handle(Tick(10.1))
    assert b.handle(ClaimSeen(claim("hall", -40.0), 10.3)) == []


def test_the_runner_up_takes_over_when_the_winner_releases() -> None:
    a = arbiter(peers=("hall", "den"))
    a.handle(wake(level=-25.0))
    a.handle(ClaimSeen(claim("hall", -20.0), 10.01))
    assert a.handle(ClaimSeen(claim("den", -30.0), 10.02))[0] == StandDown("k1", "hall")
    out = a.handle(ReleaseSeen("hall", "hall-1", 10.5))
    assert out[0] == Proceed("k1", takeover=True)
    assert isinstance(out[1], PublishOutcome) and out[1].outcome.takeover


def test_only_the_next_in_line_takes_over() -> None:
    a = arbiter("den", peers=("hall", "kitchen"))
    a.handle(wake(level=-30.0))
    a.handle(ClaimSeen(claim("hall", -20.0), 10.01))
    a.handle(ClaimSeen(claim("kitchen", -25.0), 10.02))
    assert a.handle(ReleaseSeen("hall", "hall-1", 10.5)) == []
    assert a.handle(ReleaseSeen("kitchen", "kitchen-1", 10.9))[0] == Proceed("k1", takeover=True)


def test_a_winner_going_offline_hands_over_too_but_not_after_the_takeover_time() -> None:
    a = arbiter(peers=("hall",), takeover_s=3.0)
    a.handle(wake(level=-25.0))
    a.handle(ClaimSeen(claim("hall", -20.0), 10.01))
    assert a.handle(Availability("hall", False, 11.0))[0] == Proceed("k1", takeover=True)
    b = arbiter(peers=("hall",), takeover_s=3.0)
    b.handle(wake(level=-25.0))
    b.handle(ClaimSeen(claim("hall", -20.0), 10.01))
    assert b.handle(ReleaseSeen("hall", "hall-1", 13.5)) == []


def test_our_failed_session_publishes_a_release() -> None:
    a = arbiter(peers=("hall",))
    a.handle(wake())
    a.handle(Tick(10.1))
    assert a.handle(OwnRelease("k1", 10.4)) == [PublishRelease("kitchen", "k1")]
    assert a.handle(OwnRelease("k1", 10.5)) == []


def test_a_duplicate_claim_changes_nothing() -> None:
    a = arbiter(peers=("hall", "den"))
    a.handle(wake(level=-30.0))
    c = claim("hall", -20.0)
    a.handle(ClaimSeen(c, 10.01))
    a.handle(ClaimSeen(c, 10.02))
    assert len(a.rounds["k1"].claims) == 2


def test_asking_twice_while_pending_is_a_runner_bug() -> None:
    a = arbiter(peers=("hall",))
    a.handle(wake("k1"))
    with pytest.raises(ValueError, match="one wake at a time"):
        a.handle(wake("k2"))


def test_a_wake_in_another_room_during_our_session_is_a_fresh_round() -> None:
    a = arbiter("kitchen", peers=("bedroom",))
    a.handle(wake("k1", level=-20.0))
    assert a.handle(Tick(10.1))[0] == Proceed("k1")
    # five seconds later the bedroom hears a wake word the busy kitchen does not ask about:
    # the kitchen's old round is not disturbed
    assert a.handle(ClaimSeen(claim("bedroom", -5.0, at=T + 5.0), 15.0)) == []
    # once idle again, the kitchen's own next wake is arbitrated afresh
    out = a.handle(wake("k2", level=-40.0, at=T + 5.01, now=15.01))
    assert StandDown("k2", "bedroom") in out


def test_the_claim_travels_rounded_so_everyone_compares_the_same_numbers() -> None:
    a = arbiter()
    out = a.handle(OwnWake("k1", "hey_jarvis", T, -31.234567, 0.876543, 10.0, -3.33333))
    assert isinstance(out[0], PublishClaim)
    assert (out[0].claim.level_dbfs, out[0].claim.score, out[0].claim.peak_dbfs) == (-31.23, 0.8765, -3.33)
