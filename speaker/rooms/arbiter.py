"""Which speaker answers a wake word heard in several rooms: a sans-I/O arbiter.

Every speaker runs one ``Arbiter``. It is fed typed events (our own wake, claims and releases from the
other speakers, their availability, the broker's state, the clock) and returns typed decisions (what
to publish, whether to proceed or stay quiet). It never touches a socket or a timer: the adapter
(``speaker.rooms.mqtt``) carries out the publishes and calls ``handle(Tick(now))`` at ``deadline()``.

The rule, the same on every speaker
-----------------------------------
A speaker that detects its wake word publishes a **claim**: site, wake id, wake word, detection time
(wall clock), calibrated speech level over the wake word (dBFS) and score. Claims with the same wake
word whose detection times lie within ``same_wake_ms`` belong to one utterance (wake ids are per
speaker, so they cannot say it). The winner is the claim with the highest level, then the highest
score, then the smallest site id (then wake id): a total order over the claims, so every speaker that
holds the same set of claims picks the same winner, whatever order they arrived in. That is what
voicenode lacks: it keeps only the *latest* message on one retained topic and compares against it,
so the outcome depends on who wrote last. Home Assistant lets the first satellite to reach it win,
which follows arrival time, not distance.

When does a speaker decide?
- At once, alone, when it knows of no other live speaker taking part, when the broker is down, or
  when its ``take_part`` switch is off (then it claims nothing either).
- At once when every live speaker in the roster has already claimed this utterance.
- Otherwise ``window_ms`` after its own detection. The window must cover the spread of detection
  times of one utterance (sound over 5 m ≈ 15 ms, detector jitter ≈ 7 ms, NTP skew a few ms: ≈ 30 ms)
  plus the delivery delay (measured 3–42 ms): 30 + 42 = 72 ms, so 100 ms leaves margin and keeps the
  winner's extra latency under the 150 ms the issue allows.

Afterwards (``takeover_s``), so that exactly one speaker keeps answering:
- A claim that arrives after we decided and outranks our win makes us **yield** (stop quietly). The
  globally best claim never yields, so even when a claim comes later than the window, the speakers
  converge on exactly one answer: the best one.
- A release by the winner (its session failed to open) or its availability going ``offline`` hands
  the floor to the next claim in the same order; that speaker proceeds (``takeover=True``).

Contract with the runner: the arbiter is asked only about **new wakes while idle**. Follow-ups,
barge-in, ``ask`` answers and wakes during our own session stay with us and never reach it. At most
one of our wakes is pending at a time (``handle`` raises ``ValueError`` otherwise: a runner bug).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from enum import Enum

from speaker.config.rooms import RoomsSettings

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Claim:
    """One speaker's claim on one wake word it heard."""

    site: str
    wake_id: str
    """Unique per speaker (not across speakers)."""
    wake_word: str
    detected_at: float
    """Wall-clock time of the detection (Unix seconds): comparable across NTP-synced speakers."""
    level_dbfs: float
    """Calibrated speech level over the wake word (``speaker.rooms.level``)."""
    score: float
    peak_dbfs: float | None = None
    """Informational; not used in the ranking."""

    def rank(self) -> tuple[float, float, str, str]:
        """Sort key: the smallest key wins (loudest, then best score, then site id, then wake id)."""
        return (-self.level_dbfs, -self.score, self.site, self.wake_id)

    def rounded(self) -> Claim:
        """The claim as it travels: values rounded so every speaker compares the same numbers."""
        peak = None if self.peak_dbfs is None else round(self.peak_dbfs, 2)
        return replace(self, level_dbfs=round(self.level_dbfs, 2), score=round(self.score, 4), peak_dbfs=peak)


# --------------------------------------------------------------------------- events in


@dataclass(frozen=True)
class OwnWake:
    """Our wake word fired while idle (see the module docstring's contract)."""

    wake_id: str
    wake_word: str
    detected_at: float
    """Wall clock (``time.time()``) at the detection."""
    level_dbfs: float
    """Calibrated level (``Level.calibrated``)."""
    score: float
    now: float
    """Monotonic time (the same clock as every other ``now``)."""
    peak_dbfs: float | None = None


@dataclass(frozen=True)
class ClaimSeen:
    claim: Claim
    now: float


@dataclass(frozen=True)
class ReleaseSeen:
    """Another speaker gave up the floor for its wake ``wake_id``."""

    site: str
    wake_id: str
    now: float


@dataclass(frozen=True)
class OwnRelease:
    """Our session for ``wake_id`` failed to open: give the floor to the runner-up."""

    wake_id: str
    now: float


@dataclass(frozen=True)
class Availability:
    """A speaker's availability topic said ``online`` or ``offline``."""

    site: str
    online: bool
    now: float


@dataclass(frozen=True)
class Participation:
    """A speaker's presence says whether it takes part in arbitration."""

    site: str
    take_part: bool
    now: float


@dataclass(frozen=True)
class BrokerState:
    connected: bool
    now: float


@dataclass(frozen=True)
class SetTakePart:
    """Our own 'take part' switch."""

    take_part: bool
    now: float


@dataclass(frozen=True)
class Tick:
    now: float


Event = (OwnWake | ClaimSeen | ReleaseSeen | OwnRelease | Availability | Participation | BrokerState
         | SetTakePart | Tick)


# --------------------------------------------------------------------------- decisions out


@dataclass(frozen=True)
class PublishClaim:
    claim: Claim


@dataclass(frozen=True)
class PublishRelease:
    site: str
    wake_id: str


@dataclass(frozen=True)
class Outcome:
    """Who answers one utterance, as this speaker sees it (published as an event)."""

    wake_id: str
    """Our wake id."""
    winner: str
    winner_wake_id: str
    claims: tuple[Claim, ...]
    """The live claims considered, best first."""
    takeover: bool = False
    alone: bool = False
    """Decided without waiting (no live neighbour, broker down)."""


@dataclass(frozen=True)
class PublishOutcome:
    outcome: Outcome


@dataclass(frozen=True)
class Proceed:
    """We answer: chime, listening state, open the session. ``takeover``: the winner gave up after
    we had stood down; answer from the audio kept since the wake."""

    wake_id: str
    takeover: bool = False
    alone: bool = False


@dataclass(frozen=True)
class StandDown:
    """Another speaker answers: stay completely quiet (no chime, no session, no listening state)."""

    wake_id: str
    winner: str


@dataclass(frozen=True)
class Yield:
    """A better claim arrived after we had proceeded: end the session for ``wake_id`` at once and
    quietly."""

    wake_id: str
    winner: str


Decision = PublishClaim | PublishRelease | PublishOutcome | Proceed | StandDown | Yield


# --------------------------------------------------------------------------- state


class RoundState(Enum):
    PENDING = "pending"
    WON = "won"
    LOST = "lost"
    RELEASED = "released"


@dataclass
class Round:
    """One of our wakes and the claims on the same utterance."""

    own: Claim
    started: float
    deadline: float
    claims: dict[str, Claim] = field(default_factory=dict)
    """Per site (the first claim by the order below, should a speaker claim twice)."""
    state: RoundState = RoundState.PENDING
    winner: Claim | None = None


@dataclass
class _Seen:
    claim: Claim
    received: float


def _keep(old: Claim | None, new: Claim) -> bool:
    """Whether ``new`` replaces ``old`` as a site's claim in a round (deterministic, order-free)."""
    return old is None or (new.detected_at, new.wake_id) < (old.detected_at, old.wake_id)


class Arbiter:
    """The per-speaker arbiter (see the module docstring)."""

    def __init__(self, site: str, settings: RoomsSettings) -> None:
        self.site = site
        self._window_s = settings.window_ms / 1000.0
        self._tolerance_s = settings.same_wake_ms / 1000.0
        self._takeover_s = settings.takeover_s
        self._hold_s = settings.takeover_s + self._window_s + 2 * self._tolerance_s + 1.0
        self.take_part = settings.take_part
        self.connected = False
        self._online: dict[str, bool] = {}
        self._taking_part: dict[str, bool] = {}
        self._seen: dict[tuple[str, str], _Seen] = {}
        self._released: dict[tuple[str, str], float] = {}
        self.rounds: dict[str, Round] = {}

    # ------------------------------------------------------------------ queries

    def deadline(self) -> float | None:
        """When ``handle(Tick(now))`` is next needed (monotonic), or None."""
        pending = [r.deadline for r in self.rounds.values() if r.state is RoundState.PENDING]
        return min(pending) if pending else None

    def live_peers(self) -> set[str]:
        """Other speakers known to be online and taking part (empty while the broker is down)."""
        if not self.connected:
            return set()
        return {s for s, up in self._online.items()
                if up and s != self.site and self._taking_part.get(s, False)}

    def pending(self) -> bool:
        return any(r.state is RoundState.PENDING for r in self.rounds.values())

    # ------------------------------------------------------------------ events

    def handle(self, event: Event) -> list[Decision]:
        """Take one event, return what to do (in order)."""
        out: list[Decision] = []
        match event:
            case OwnWake():
                self._purge(event.now)
                self._own_wake(event, out)
            case ClaimSeen(claim=claim, now=now):
                self._purge(now)
                self._claim(claim, now, out)
            case ReleaseSeen(site=site, wake_id=wake_id, now=now):
                self._released[(site, wake_id)] = now
                self._floor_left(site, wake_id, now, out)
            case OwnRelease(wake_id=wake_id, now=now):
                self._own_release(wake_id, now, out)
            case Availability(site=site, online=online, now=now):
                self._online[site] = online
                if not online:
                    self._floor_left(site, None, now, out)
                    self._decide_complete(now, out)
            case Participation(site=site, take_part=take_part, now=now):
                self._taking_part[site] = take_part
                self._decide_complete(now, out)
            case BrokerState(connected=connected, now=now):
                self.connected = connected
                if not connected:  # decide alone, at once, from what we have
                    for r in list(self.rounds.values()):
                        if r.state is RoundState.PENDING:
                            self._decide(r, now, out)
            case SetTakePart(take_part=take_part):
                self.take_part = take_part
            case Tick(now=now):
                for r in list(self.rounds.values()):
                    if r.state is RoundState.PENDING and r.deadline <= now:
                        self._decide(r, now, out)
                self._purge(now)
        return out

    # ------------------------------------------------------------------ own wake

    def _own_wake(self, ev: OwnWake, out: list[Decision]) -> None:
        if self.pending():
            raise ValueError("the arbiter is asked about one wake at a time, and only while idle")
        if ev.wake_id in self.rounds:
            raise ValueError(f"wake id {ev.wake_id!r} was used before")
        if not self.take_part:
            out.append(Proceed(ev.wake_id, alone=True))
            return
        own = Claim(self.site, ev.wake_id, ev.wake_word, ev.detected_at, ev.level_dbfs, ev.score,
                    ev.peak_dbfs).rounded()
        r = Round(own, ev.now, ev.now + self._window_s, {self.site: own})
        self.rounds[ev.wake_id] = r
        for seen in self._seen.values():
            if self._same_wake(r, seen.claim):
                self._add(r, seen.claim)
        if not self.connected:
            self._decide(r, ev.now, out, alone=True)
            return
        out.append(PublishClaim(own))
        peers = self.live_peers()
        if not peers:
            self._decide(r, ev.now, out, alone=not (r.claims.keys() - {self.site}))
        elif peers <= r.claims.keys():
            self._decide(r, ev.now, out)

    def _same_wake(self, r: Round, claim: Claim) -> bool:
        return (claim.wake_word == r.own.wake_word
                and abs(claim.detected_at - r.own.detected_at) <= self._tolerance_s)

    def _add(self, r: Round, claim: Claim) -> None:
        if _keep(r.claims.get(claim.site), claim):
            r.claims[claim.site] = claim

    def _live(self, r: Round) -> list[Claim]:
        """The claims that count, best first: not released, not from a speaker gone offline."""
        live = [c for c in r.claims.values()
                if (c.site, c.wake_id) not in self._released
                and (c.site == self.site or self._online.get(c.site, True))]
        return sorted(live, key=Claim.rank)

    def _decide_complete(self, now: float, out: list[Decision]) -> None:
        """Decide every pending round that already holds a claim from each live peer."""
        peers = self.live_peers()
        for r in list(self.rounds.values()):
            if r.state is RoundState.PENDING and peers <= r.claims.keys():
                self._decide(r, now, out)

    def _decide(self, r: Round, now: float, out: list[Decision], *, alone: bool = False) -> None:
        ranked = self._live(r)
        top = ranked[0] if ranked else r.own
        r.winner = top
        outcome = Outcome(r.own.wake_id, top.site, top.wake_id, tuple(ranked), alone=alone)
        if top.site == self.site:
            r.state = RoundState.WON
            out.append(Proceed(r.own.wake_id, alone=alone))
        else:
            r.state = RoundState.LOST
            out.append(StandDown(r.own.wake_id, top.site))
        if self.connected:
            out.append(PublishOutcome(outcome))
        log.debug("rooms: wake %s: %s answers (%d claim(s))", r.own.wake_id, top.site, len(ranked))

    # ------------------------------------------------------------------ others' claims and releases

    def _claim(self, claim: Claim, now: float, out: list[Decision]) -> None:
        if claim.site == self.site:
            return  # our own echo
        key = (claim.site, claim.wake_id)
        if key not in self._seen:
            self._seen[key] = _Seen(claim, now)
        if not self._online.get(claim.site, True):
            return  # kept in case it comes back, but ignored while offline
        for r in self.rounds.values():
            if not self._same_wake(r, claim):
                continue
            self._add(r, claim)
            if r.state is RoundState.PENDING:
                self._decide_complete(now, out)
            elif r.state is RoundState.WON and claim.rank() < r.own.rank() and self._live_claim(claim):
                r.state, r.winner = RoundState.LOST, claim
                out.append(Yield(r.own.wake_id, claim.site))
                if self.connected:
                    out.append(PublishOutcome(Outcome(r.own.wake_id, claim.site, claim.wake_id,
                                                      tuple(self._live(r)))))
            elif r.state is RoundState.LOST and r.winner is not None and claim.rank() < r.winner.rank():
                r.winner = claim

    def _live_claim(self, claim: Claim) -> bool:
        return (claim.site, claim.wake_id) not in self._released and self._online.get(claim.site, True)

    def _floor_left(self, site: str, wake_id: str | None, now: float, out: list[Decision]) -> None:
        """``site`` released ``wake_id`` (None: went offline): the next claim takes the floor."""
        for r in self.rounds.values():
            claim = r.claims.get(site)
            if claim is None or (wake_id is not None and claim.wake_id != wake_id):
                continue
            if r.state is not RoundState.LOST or r.winner is None or r.winner.site != site:
                continue
            ranked = self._live(r)
            if not ranked:
                continue
            r.winner = ranked[0]
            if ranked[0].site == self.site and now - r.started <= self._takeover_s:
                r.state = RoundState.WON
                out.append(Proceed(r.own.wake_id, takeover=True))
                if self.connected:
                    out.append(PublishOutcome(Outcome(r.own.wake_id, self.site, r.own.wake_id, tuple(ranked),
                                                      takeover=True)))

    def _own_release(self, wake_id: str, now: float, out: list[Decision]) -> None:
        r = self.rounds.get(wake_id)
        if r is None or r.state is not RoundState.WON:
            return
        r.state = RoundState.RELEASED
        self._released[(self.site, wake_id)] = now
        if self.connected:
            out.append(PublishRelease(self.site, wake_id))

    # ------------------------------------------------------------------ memory

    def _purge(self, now: float) -> None:
        horizon = now - self._hold_s
        for wake_id in [w for w, r in self.rounds.items() if r.state is not RoundState.PENDING
                        and r.started < horizon]:
            del self.rounds[wake_id]
        for key in [k for k, s in self._seen.items() if s.received < horizon]:
            del self._seen[key]
        for key in [k for k, t in self._released.items() if t < horizon]:
            del self._released[key]
