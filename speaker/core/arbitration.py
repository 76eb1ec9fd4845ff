"""Multi-room arbitration, the core's side: a new wake word while idle is first *claimed*.

With ``cfg.arbitrate`` (MQTT on and ``rooms.enabled``), a wake word heard while idle opens nothing at
once: the core emits ``Claim`` (with the audio over the wake word, whose speech level the adapter
measures) and waits — no chime, no ``listening`` state, no session — for ``Arbitrated``:

- ``proceed``: exactly today's path (chime, state, ``OpenSession``), the pre-roll before the wake and
  the audio heard while waiting going up first;
- stand down: nothing at all (the ``StoodDown`` output is for the log and benches);
- a later ``proceed`` with ``takeover`` (the winner's session failed, or it went offline): answer that
  wake now, from the audio kept since it (the uplink keeps ``takeover_s`` of it);
- a later stand-down for the wake our open session answers (a better claim came late): end the
  session at once, without a sound;
- our session for a won wake fails to open: ``Release`` it so the runner-up takes over.

Follow-ups, barge-in, ``ask`` answers, announcements and a ringing timer never reach it: they are not
new wakes while idle. The adapter that carries out ``Claim``/``Release`` is ``speaker.rooms.port``.
"""

from __future__ import annotations

from dataclasses import dataclass

from speaker.core import outputs as O
from speaker.core.actions import Claim, Release
from speaker.core.base import CoreBase, McpApprovals, Step
from speaker.core.config import CoreConfig
from speaker.core.events import Arbitrated, Wake
from speaker.core.state import Phase

WAKE_SEGMENT_S = 1.0
"""The audio before the detection that a claim's level is measured over (``speaker.rooms.level``)."""


@dataclass(frozen=True)
class _Claimed:
    wake_id: str
    model: str
    score: float
    t: float
    """Stream time of the detection (the last frame heard)."""
    at: float
    """``now`` at the detection."""


class ArbitrationHandling(CoreBase):
    """Claims, verdicts, takeovers and yields (see the module docstring)."""

    def __init__(self, cfg: CoreConfig, *, mcp: McpApprovals | None = None) -> None:
        super().__init__(cfg, mcp=mcp)
        self._wakes = 0
        self._claimed: _Claimed | None = None
        self._lost: dict[str, _Claimed] = {}
        self._answering: tuple[int, str] | None = None
        """(session, wake id) of the session that answers a won wake."""

    @property
    def claiming(self) -> bool:
        """A wake of ours waits for the other speakers' verdict."""
        return self._claimed is not None

    def _on_wake(self, ev: Wake, now: float, out: list[Step], *, since: float | None = None) -> None:
        raise NotImplementedError  # ``Conversation``'s

    def _claim_wake(self, ev: Wake, now: float, out: list[Step]) -> bool:
        """A new wake while idle: claim it instead of answering. True when the caller stops here."""
        if not self.cfg.arbitrate:
            return False
        if self._claimed is not None:
            return True  # the same utterance fired the detector again while we wait
        self._wakes += 1
        t = self._last_t
        claimed = _Claimed(f"w{self._wakes}", ev.model, round(ev.score, 4), t, now)
        self._claimed = claimed
        out.append(Claim(claimed.wake_id, ev.model, claimed.score, self._uplink.window(t - WAKE_SEGMENT_S, t)))
        return True

    def _on_arbitrated(self, ev: Arbitrated, now: float, out: list[Step]) -> None:
        self._lost = {k: w for k, w in self._lost.items() if now - w.at <= self.cfg.takeover_s}
        claimed = self._claimed
        if claimed is not None and ev.wake_id == claimed.wake_id:
            self._claimed = None
            if ev.proceed:
                self._answer(claimed, now, out)
            else:
                self._lost[claimed.wake_id] = claimed
                out.append(O.StoodDown(claimed.wake_id, ev.winner))
                out.append(O.Note(f"wake word {claimed.model}: {ev.winner or 'another speaker'} answers; "
                                  "staying quiet"))
            return
        lost = self._lost.pop(ev.wake_id, None)
        if lost is not None:
            if ev.proceed:
                out.append(O.Note(f"wake word {lost.model}: the answering speaker gave up; taking over"))
                self._answer(lost, now, out)
            else:
                self._lost[lost.wake_id] = lost
            return
        if not ev.proceed and self._answering == (self._session, ev.wake_id) \
                and self.phase not in (Phase.IDLE, Phase.DISABLED):
            self._answering = None
            out.append(O.Note(f"{ev.winner or 'another speaker'} heard the wake word louder; ending quietly"))
            self._clear_playback(out)
            self._close("another speaker answers", now, out)

    def _answer(self, claimed: _Claimed, now: float, out: list[Step]) -> None:
        """Today's wake path for a won wake, from the audio kept since it; released if we cannot."""
        if self.phase is Phase.IDLE and not self.muted:
            session = self._session
            self._on_wake(Wake(claimed.model, claimed.score, claimed.t), now, out, since=claimed.t)
            if self._session != session:  # a session was asked for
                self._answering = (self._session, claimed.wake_id)
                return
        out.append(Release(claimed.wake_id))

    def _release_failed(self, was_open: bool, out: list[Step]) -> None:
        """Our session for a won wake failed to open: the floor goes to the runner-up."""
        answering, self._answering = self._answering, None
        if not was_open and answering is not None and answering[0] == self._session:
            out.append(Release(answering[1]))
