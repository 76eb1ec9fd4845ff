"""The core's clock: per-phase deadlines, the thinking sound of a slow tool, a timer's ring."""

from __future__ import annotations

from speaker.core import feedback as fb
from speaker.core import outputs as O
from speaker.core import wire
from speaker.core.actions import (
    AppendAudio,
    DismissTimers,
    SendEvent,
)
from speaker.core.base import Step
from speaker.core.resume import ResumeHandling
from speaker.core.state import Phase, State


class TimeHandling(ResumeHandling):
    def _check_feedback(self, now: float, out: list[Step]) -> None:
        if self._thinking_at is not None and now >= self._thinking_at:
            self._thinking_at = now + self.cfg.thinking_repeat_s
            if self._gate.tools_pending and not self._playback.playing and self.state in (
                    State.LISTENING, State.THINKING, State.SPEAKING):
                self._sound(fb.THINKING, now, out)
        if self._ring.due(now):
            if self._ring.exhausted:
                self._ring.stop()
                out.append(DismissTimers("timeout"))
            elif self.phase in (Phase.IDLE, Phase.DISABLED) and not self._playback.playing:
                self._ring.rang(now, self._sound(fb.TIMER, now, out))
            else:
                self._ring.next_at = now + 0.25  # a conversation uses the speaker: the ring waits

    # ------------------------------------------------------------------ interruption, stop, errors

    def _check_deadlines(self, now: float, out: list[Step]) -> None:
        if self._deadline is None or now < self._deadline:
            return
        self._deadline = None
        match self.phase:
            case Phase.CONNECTING if self._purpose != "conversation":
                out.append(O.Problem("the service did not answer in time"))
                self._sound(fb.ERROR, now, out)
                self._close("connect timeout", now, out)
            case Phase.CONNECTING:
                if self._uplink.spoke:
                    self._deadline = now + self.cfg.response_timeout_s  # still connecting; the runner times out
                else:
                    out.append(O.Note("nobody spoke after the wake word; closing"))
                    self._close("no speech", now, out)
            case Phase.LISTENING:
                self._listening_timeout(now, out)
            case Phase.THINKING:
                if self._resume_stalled(now, out):
                    return
                out.append(O.Note(f"no reply within {self.cfg.response_timeout_s:.0f} s", "warning"))
                out.append(O.Problem("no reply from the service"))
                self._sound(fb.ERROR, now, out)
                self._close("reply timeout", now, out)
            case Phase.FOLLOW_UP:
                remaining = self.cfg.idle_close_s - self.cfg.follow_up_s
                if remaining <= 0:
                    self._close("idle", now, out)
                else:
                    self.phase = Phase.OPEN
                    self._deadline = now + remaining
            case Phase.OPEN:
                self._close("idle", now, out)
            case _:
                pass

    def _listening_timeout(self, now: float, out: list[Step]) -> None:
        if self._uplink.spoke:
            out.append(O.Note(f"turn longer than {self.cfg.max_turn_s:.0f} s; ending it"))
            if self.cfg.local_turns:
                out.append(AppendAudio(self._uplink.speech_ended(self._last_t), final=True))
                self._commit_turn(now, out)
            else:
                self._uplink.end()
            return
        out.append(O.Note("nobody spoke; dropping the turn"))
        self._uplink.end()
        out.append(SendEvent(wire.clear_input()))
        if self.turns == 0:
            self._close("no speech", now, out)
        else:
            self.phase = Phase.OPEN
            self._deadline = now + self.cfg.idle_close_s
