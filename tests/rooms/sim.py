"""A discrete-event simulation of several arbiters exchanging claims over a broker with chosen
per-message delays: virtual time, no sockets, so any arrival order can be replayed exactly."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from speaker.config.rooms import RoomsSettings
from speaker.rooms.arbiter import (
    Arbiter,
    Availability,
    BrokerState,
    Claim,
    ClaimSeen,
    Decision,
    Event,
    OwnRelease,
    OwnWake,
    Participation,
    Proceed,
    PublishClaim,
    PublishRelease,
    ReleaseSeen,
    StandDown,
    Tick,
    Yield,
)

T0 = 1_700_000_000.0
"""Wall clock of the utterance (detections are offsets from it)."""


@dataclass(frozen=True)
class Hearing:
    """One speaker heard the wake word: when (s after the utterance), how loud, what score."""

    offset_s: float
    level_dbfs: float
    score: float


@dataclass
class Result:
    decisions: dict[str, list[tuple[float, Decision]]] = field(default_factory=dict)

    def verdicts(self) -> dict[str, Decision]:
        """Each hearer's first Proceed/StandDown."""
        out: dict[str, Decision] = {}
        for site, items in self.decisions.items():
            for _, d in items:
                if isinstance(d, Proceed | StandDown):
                    out.setdefault(site, d)
        return out

    def answering(self) -> set[str]:
        """Who is answering once everything settled (proceeded and not yielded since)."""
        live: set[str] = set()
        for site, items in self.decisions.items():
            for _, d in items:
                if isinstance(d, Proceed):
                    live.add(site)
                elif isinstance(d, Yield):
                    live.discard(site)
        return live

    def proceeds(self) -> list[tuple[str, Proceed]]:
        return [(s, d) for s, items in self.decisions.items() for _, d in items if isinstance(d, Proceed)]

    def first_decision_at(self, site: str) -> float:
        return next(t for t, d in self.decisions[site] if isinstance(d, Proceed | StandDown))


def simulate(
    sites: list[str],
    hearings: dict[str, Hearing],
    delay: Callable[[str, str, int], float],
    *,
    settings: RoomsSettings | None = None,
    fail: Callable[[str], float | None] = lambda site: None,
    offline: frozenset[str] = frozenset(),
) -> Result:
    """Run one utterance. ``delay(sender, receiver, n)`` is the broker delay of sender's n-th message
    to receiver; ``fail(site)``: seconds after a first Proceed after which that site's session fails
    (None: it does not). Sites in ``offline`` are known offline to everyone (their claims ignored)."""
    settings = settings or RoomsSettings()
    arbiters = {s: Arbiter(s, settings) for s in sites}
    queue: list[tuple[float, int, str, Event]] = []
    order = itertools.count()
    sent = dict.fromkeys(sites, 0)
    failed: set[str] = set()
    result = Result({s: [] for s in sites})

    def at(t: float, site: str, event: Event) -> None:
        heapq.heappush(queue, (t, next(order), site, event))

    for s in sites:
        at(0.0, s, BrokerState(True, 0.0))
        for other in sites:
            at(0.0, s, Availability(other, other not in offline, 0.0))
            at(0.0, s, Participation(other, True, 0.0))
    base = 1.0
    for i, (site, h) in enumerate(hearings.items()):
        t = base + h.offset_s
        at(t, site, OwnWake(f"w{i}", "hey_jarvis", T0 + h.offset_s, h.level_dbfs, h.score, t))

    while queue:
        now, _, site, event = heapq.heappop(queue)
        event = _at(event, now)
        arbiter = arbiters[site]
        for d in arbiter.handle(event):
            result.decisions[site].append((now, d))
            if isinstance(d, PublishClaim | PublishRelease):
                n = sent[site]
                sent[site] += 1
                for other in sites:
                    if other == site:
                        continue
                    msg: Event = (ClaimSeen(d.claim, 0.0) if isinstance(d, PublishClaim)
                                  else ReleaseSeen(d.site, d.wake_id, 0.0))
                    at(now + delay(site, other, n), other, msg)
            elif isinstance(d, Proceed) and site not in failed:
                after = fail(site)
                if after is not None:
                    failed.add(site)
                    at(now + after, site, OwnRelease(d.wake_id, 0.0))
        deadline = arbiter.deadline()
        if deadline is not None:
            at(deadline, site, Tick(deadline))
    return result


def _at(event: Event, now: float) -> Event:
    """The event stamped with the simulation time."""
    match event:
        case ClaimSeen(claim=c):
            return ClaimSeen(c, now)
        case ReleaseSeen(site=s, wake_id=w):
            return ReleaseSeen(s, w, now)
        case OwnRelease(wake_id=w):
            return OwnRelease(w, now)
        case _:
            return event


def best(hearings: dict[str, Hearing], exclude: frozenset[str] = frozenset()) -> str:
    """Who should answer: the loudest claim by the published (rounded) numbers, then score, then site."""
    claims = [Claim(s, f"w{i}", "hey_jarvis", T0 + h.offset_s, h.level_dbfs, h.score).rounded()
              for i, (s, h) in enumerate(hearings.items()) if s not in exclude]
    return min(claims, key=Claim.rank).site
