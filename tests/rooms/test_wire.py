"""The arbitration JSON: what goes out parses back, anything else is refused with a reason."""

from __future__ import annotations

import logging

import pytest

from speaker.rooms import wire
from speaker.rooms.arbiter import Claim, Outcome

CLAIM = Claim("kitchen", "k1", "hey_jarvis", 1_700_000_000.123, -21.5, 0.8123, -4.2)


def test_a_claim_round_trips_exactly() -> None:
    assert wire.parse_claim("kitchen", wire.claim_payload(CLAIM).encode()) == CLAIM


@pytest.mark.parametrize(("payload", "why"), [
    (b"\xff\xfe", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"site": "kitchen"}', "version"),
    (b'{"v": 2, "site": "kitchen"}', "version 2"),
    (b'{"v": true}', "version"),
    (b'{"v": 1, "site": "hall", "wake_id": "k1"}', "another site"),
    (b'{"v": 1, "site": "kitchen", "wake_id": "k1", "wake_word": "x", "detected_at": 1.0, '
     b'"level_dbfs": NaN, "score": 0.5}', "level_dbfs"),
    (b'{"v": 1, "site": "kitchen", "wake_id": "k1", "wake_word": "x", "detected_at": 1.0, '
     b'"level_dbfs": -20, "score": 7}', "score"),
    (b'{"v": 1, "site": "kitchen", "wake_id": "", "wake_word": "x", "detected_at": 1.0, '
     b'"level_dbfs": -20, "score": 0.5}', "wake_id"),
    (b'{"v": 1, "site": "kitchen", "wake_id": "k", "wake_word": "x", "detected_at": "now", '
     b'"level_dbfs": -20, "score": 0.5}', "detected_at"),
    (b"{" + b" " * 5000 + b"}", "bytes"),
])
def test_a_bad_claim_is_refused_with_the_reason(payload: bytes, why: str) -> None:
    with pytest.raises(wire.BadMessage, match=why):
        wire.parse_claim("kitchen", payload)


def test_presence_release_and_availability_parse() -> None:
    assert wire.parse_presence(wire.presence_payload(False).encode()) is False
    assert wire.parse_release("hall", wire.release_payload("hall", "h7").encode()) == "h7"
    assert wire.parse_availability(b"online") is True
    assert wire.parse_availability(b"offline") is False
    assert wire.parse_availability(b"") is False  # a cleared retained message: gone
    with pytest.raises(wire.BadMessage):
        wire.parse_availability(b"maybe")
    with pytest.raises(wire.BadMessage):
        wire.parse_presence(b'{"v": 1, "take_part": "yes"}')


def test_the_answered_event_names_the_winner_and_whether_this_speaker_answers() -> None:
    import json
    outcome = Outcome("k1", "hall", "h1", (CLAIM,))
    data = json.loads(wire.outcome_payload("kitchen", outcome))
    assert data["v"] == 1 and data["winner"] == "hall" and data["answering"] is False
    assert data["claims"] == [{"site": "kitchen", "level_dbfs": -21.5, "score": 0.8123}]


def test_topics_are_under_the_base_topic_and_parse_back() -> None:
    topics = wire.Topics("home/speakers")
    assert topics.claim("hall") == "home/speakers/hall/rooms/claim"
    assert topics.parse("home/speakers/hall/rooms/claim") == ("hall", "claim")
    assert topics.parse("home/speakers/hall/availability") == ("hall", "availability")
    assert topics.parse("home/speakers/hall/state") is None
    assert topics.parse("other/hall/rooms/claim") is None


def test_bad_messages_are_logged_at_most_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    limited = wire.RateLimitedLog(60.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="speaker.rooms.wire"):
        for _ in range(50):
            limited.drop("t", "garbage")
        now[0] = 61.0
        limited.drop("t", "garbage")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "49 more dropped" in lines[1]
    assert limited.dropped == 51
