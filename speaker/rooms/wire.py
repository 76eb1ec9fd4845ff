"""The arbitration messages on the broker: topics, JSON payloads with a version, validation.

Everything lives under ``<base_topic>/<site_id>/`` like the rest of the speaker's topics:

=========================================  ======  ========  =============================================
topic                                      QoS     retained  payload
=========================================  ======  ========  =============================================
``<base>/<site>/availability``             1       yes       ``online`` / ``offline`` (last will; the
                                                             connection owns it)
``<base>/<site>/rooms/presence``           1       yes       ``{"v": 1, "take_part": true}``
``<base>/<site>/rooms/claim``              1       no        a claim (``claim_payload``)
``<base>/<site>/rooms/release``            1       no        ``{"v": 1, "site": …, "wake_id": …}``
``<base>/<site>/event/answered``           1       no        who answers one wake (``outcome_payload``)
=========================================  ======  ========  =============================================

A speaker's roster is the sites whose availability is ``online`` and whose presence says it takes
part. Parsing never raises: a bad message gives None and one rate-limited warning.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from speaker.rooms.arbiter import Claim, Outcome

log = logging.getLogger(__name__)

VERSION = 1
MAX_PAYLOAD = 4096
MAX_ID = 128


class Topics:
    """The arbitration topics of one base topic."""

    def __init__(self, base_topic: str) -> None:
        self.base = base_topic

    def availability(self, site: str) -> str:
        return f"{self.base}/{site}/availability"

    def presence(self, site: str) -> str:
        return f"{self.base}/{site}/rooms/presence"

    def claim(self, site: str) -> str:
        return f"{self.base}/{site}/rooms/claim"

    def release(self, site: str) -> str:
        return f"{self.base}/{site}/rooms/release"

    def answered(self, site: str) -> str:
        return f"{self.base}/{site}/event/answered"

    def filters(self) -> tuple[str, ...]:
        """What a speaker subscribes to."""
        return tuple(f"{self.base}/+/{leaf}" for leaf in ("availability", "rooms/presence", "rooms/claim",
                                                         "rooms/release"))

    def parse(self, topic: str) -> tuple[str, str] | None:
        """(site, kind) of one of our topics, kind being 'availability', 'presence', 'claim' or 'release'."""
        prefix = self.base + "/"
        if not topic.startswith(prefix):
            return None
        site, _, rest = topic[len(prefix):].partition("/")
        kind = {"availability": "availability", "rooms/presence": "presence", "rooms/claim": "claim",
                "rooms/release": "release"}.get(rest)
        if not site or kind is None:
            return None
        return site, kind


class RateLimitedLog:
    """At most one warning per ``every_s`` for bad messages, with how many were dropped meanwhile."""

    def __init__(self, every_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._every_s = every_s
        self._clock = clock
        self._last: float | None = None
        self.dropped = 0
        self._quiet = 0

    def drop(self, topic: str, why: str) -> None:
        self.dropped += 1
        now = self._clock()
        if self._last is not None and now - self._last < self._every_s:
            self._quiet += 1
            return
        more = f" ({self._quiet} more dropped since the last warning)" if self._quiet else ""
        log.warning("rooms: dropped a bad message on %s: %s%s", topic, why, more)
        self._last, self._quiet = now, 0


# --------------------------------------------------------------------------- encoding


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def claim_payload(claim: Claim) -> str:
    return _dumps({"v": VERSION, "site": claim.site, "wake_id": claim.wake_id, "wake_word": claim.wake_word,
                   "detected_at": claim.detected_at, "level_dbfs": claim.level_dbfs, "score": claim.score,
                   "peak_dbfs": claim.peak_dbfs})


def release_payload(site: str, wake_id: str) -> str:
    return _dumps({"v": VERSION, "site": site, "wake_id": wake_id})


def presence_payload(take_part: bool) -> str:
    return _dumps({"v": VERSION, "take_part": take_part})


def outcome_payload(site: str, outcome: Outcome) -> str:
    """The 'answered' event: which speaker answers the wake this one heard."""
    return _dumps({"v": VERSION, "site": site, "wake_id": outcome.wake_id, "winner": outcome.winner,
                   "winner_wake_id": outcome.winner_wake_id, "answering": outcome.winner == site,
                   "takeover": outcome.takeover, "alone": outcome.alone,
                   "claims": [{"site": c.site, "level_dbfs": c.level_dbfs, "score": c.score}
                              for c in outcome.claims]})


# --------------------------------------------------------------------------- decoding


class BadMessage(ValueError):
    pass


def _object(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD:
        raise BadMessage(f"{len(payload)} bytes (at most {MAX_PAYLOAD})")
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadMessage(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadMessage("not a JSON object")
    version = data.get("v")
    if type(version) is not int:
        raise BadMessage("no integer version 'v'")
    if version != VERSION:
        raise BadMessage(f"version {version} (this speaker speaks {VERSION})")
    return data


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > MAX_ID:
        raise BadMessage(f"'{key}' must be a non-empty string of at most {MAX_ID} characters")
    return value


def _optional_number(data: dict[str, Any], key: str, low: float, high: float) -> float | None:
    return None if data.get(key) is None else _number(data, key, low, high)


def _number(data: dict[str, Any], key: str, low: float, high: float) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise BadMessage(f"'{key}' must be a number from {low:g} to {high:g}")
    return float(value)


def parse_claim(site: str, payload: bytes) -> Claim:
    """The claim published on ``<base>/<site>/rooms/claim``; raises ``BadMessage``."""
    data = _object(payload)
    if _text(data, "site") != site:
        raise BadMessage("the claim names another site than its topic")
    return Claim(site, _text(data, "wake_id"), _text(data, "wake_word"), _number(data, "detected_at", 0.0, 1e11),
                 _number(data, "level_dbfs", -200.0, 60.0), _number(data, "score", 0.0, 1.0),
                 _optional_number(data, "peak_dbfs", -200.0, 60.0))


def parse_release(site: str, payload: bytes) -> str:
    """The wake id a release gives up; raises ``BadMessage``."""
    data = _object(payload)
    if _text(data, "site") != site:
        raise BadMessage("the release names another site than its topic")
    return _text(data, "wake_id")


def parse_presence(payload: bytes) -> bool:
    """Whether the speaker takes part; raises ``BadMessage``."""
    data = _object(payload)
    take_part = data.get("take_part")
    if not isinstance(take_part, bool):
        raise BadMessage("'take_part' must be true or false")
    return take_part


def parse_availability(payload: bytes) -> bool:
    """'online' → True, 'offline' or empty (retained message cleared) → False; raises ``BadMessage``."""
    text = payload.decode("utf-8", errors="replace").strip()
    if not text:
        return False
    if text not in ("online", "offline"):
        raise BadMessage("availability must be 'online' or 'offline'")
    return text == "online"
