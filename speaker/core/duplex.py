"""Full or half duplex: may plain speech interrupt a reply, and is this speech the user or our echo?

``conversation.barge_in`` is the mode: ``speech`` and ``wake``/``off`` are honoured as they are;
``auto`` (the default) means speech while the echo monitor's last verdict (an ``EchoStatus`` event)
says the speaker's own voice is cancelled well enough, else the wake word. Every change of the
effective mode is told as a ``DuplexChanged`` output (MQTT/Home Assistant) and a log line.

Speech heard over a reply interrupts it only when

- the reply has played for ``barge_in_warmup_ms`` (the canceller re-adapts when playback starts), and
- it rises above the echo expected at the microphone: the microphone's level over the last
  ``MIC_FRAMES`` must stand ``barge_in_margin_db`` above the loudest reference of the last
  ``REF_FRAMES`` (delay plus the room's main reverberation) times the echo path gain the monitor
  measured (``EchoStatus.erl_db``). The raw microphone, not the cancelled signal: WebRTC's AEC3
  suppresses a voice that talks over the echo nearly to silence, so what is left after cancelling
  says little about who talks.

Or it rises above the echo the *linear filter* leaves (``EchoLevels.ear_dbfs``, the wake word's ear):
the same margin over the expected echo lowered by the filter's measured reduction
(``EchoStatus.linear_erle_db``). The linear filter never suppresses a voice, so once it has learnt the
room (20+ dB) a voice 6 dB below the echo passes at once, without waiting for the duck to reach the
microphone; while it is still learning this test passes nothing and the raw-microphone test decides.

Speech that does not (yet) pass stays *pending* until the VAD says it ended; every frame meanwhile
checks again. While someone talks over a reply the playback is ducked (``Duck``) when the echo is
cancelled: the wake word said over a reply then gets through nearly as in silence, and the ducking is
also the guard's probe — our echo falls with the reference, a voice does not. A voice 6 dB below the
echo is told from it once the duck has reached the microphone.
The echo monitor's ERLE (``EchoStatus``) decides only *whether* speech may interrupt (auto mode);
it is a median, and AEC3's residual at word onsets is far above it, so it is no guard by itself.
"""

from __future__ import annotations

import math
from collections import deque

from speaker.core import outputs as O
from speaker.core.actions import Duck
from speaker.core.config import CoreConfig
from speaker.core.events import EchoLevels, EchoStatus
from speaker.core.playback import Playback

REF_FRAMES = 15
"""Frames of reference the guard takes the loudest of (150 ms of 10 ms frames)."""
MIC_FRAMES = 5
"""Frames of microphone signal the guard averages (50 ms)."""


def _energy(dbfs: float) -> float:
    return 10 ** (dbfs / 10)


class Duplex:
    def __init__(self, cfg: CoreConfig) -> None:
        self.mode = cfg.barge_in
        self.margin_db = cfg.barge_in_margin_db
        self.warmup_ms = cfg.barge_in_warmup_ms
        self.duck_db = cfg.duck_db
        self.status: EchoStatus | None = None
        self.full = self.mode == "speech"
        self._told = False
        self._levels: deque[EchoLevels] = deque(maxlen=REF_FRAMES)
        self._playing = False
        self._reply_start_ms = 0.0
        self.pending = False
        """Speech over the reply that has not been allowed to interrupt it (yet)."""
        self.ducked = False

    # ------------------------------------------------------------------ mode

    @property
    def speech(self) -> bool:
        """Plain speech may interrupt a reply (the effective mode)."""
        if self.mode == "speech":
            return True
        if self.mode == "auto":
            return self.status is not None and self.status.safe
        return False

    def on_status(self, status: EchoStatus) -> list[O.Output]:
        """The echo monitor's latest verdict; a change of the effective mode is told (once)."""
        self.status = status
        full = self.speech
        if full == self.full and self._told:
            return []
        fallback = self._told and self.full and not full
        self.full, self._told = full, True
        if self.mode == "auto":
            why = status.reason
            line = (f"full duplex: plain speech interrupts a reply ({why})" if full else
                    f"half duplex: only the wake word interrupts a reply ({why})")
        else:
            why = f"conversation.barge_in: {self.mode}"
            line = f"{'full' if full else 'half'} duplex ({why}; echo monitor: {status.reason})"
        return [O.Note(line, "warning" if fallback else "info"),
                O.DuplexChanged(full, why, status.erle_db)]

    # ------------------------------------------------------------------ frames

    def frame(self, levels: EchoLevels | None, playback: Playback) -> None:
        """Every microphone frame: its echo levels, and where a reply's playback began."""
        if levels is not None:
            self._levels.append(levels)
        playing = playback.playing
        if playing and not self._playing:
            self._reply_start_ms = playback.played_ms
        self._playing = playing

    def may_interrupt(self, playback: Playback) -> bool:
        """Speech heard now may stop the reply: past the warm-up, and above the expected echo."""
        if self._playing and playback.played_ms - self._reply_start_ms < self.warmup_ms:
            return False
        return self.above_echo_db() >= self.margin_db or self.above_residual_db() >= self.margin_db

    def above_echo_db(self) -> float:
        """How far the cancelled signal of the last frames stands above the echo that may be left in
        it (+inf when nothing cancels echo in the daemon: no levels, nothing to compare)."""
        if not self._levels:
            return math.inf
        erl = self.status.erl_db if self.status is not None and self.status.erl_db is not None else 0.0
        recent = list(self._levels)[-MIC_FRAMES:]
        heard = sum(_energy(x.mic_dbfs) for x in recent) / len(recent)
        expected = max(_energy(x.ref_dbfs) for x in self._levels) * _energy(erl)
        return 10 * math.log10(max(heard, 1e-12) / max(expected, 1e-12))

    def above_residual_db(self) -> float:
        """How far what the linear filter leaves of the last frames stands above the echo it is expected
        to leave (-inf without a linear filter or before its reduction was measured)."""
        status = self.status
        if not self._levels or status is None or status.linear_erle_db is None or status.erl_db is None:
            return -math.inf
        recent = [x.ear_dbfs for x in list(self._levels)[-MIC_FRAMES:] if x.ear_dbfs is not None]
        if not recent:
            return -math.inf
        heard = sum(_energy(x) for x in recent) / len(recent)
        expected = max(_energy(x.ref_dbfs) for x in self._levels) * _energy(status.erl_db - status.linear_erle_db)
        return 10 * math.log10(max(heard, 1e-12) / max(expected, 1e-12))

    # ------------------------------------------------------------------ ducking

    def talked_over(self) -> list[Duck]:
        """Someone talks over the reply: it is pending, and the reply is lowered (only where the echo
        is cancelled, else our own echo could keep the speaker ducked)."""
        self.pending = True
        if self.ducked or self.duck_db <= 0 or self.status is None or not self.status.safe:
            return []
        self.ducked = True
        return [Duck(True)]

    def settle(self, over_reply: bool) -> list[Duck]:
        """Unduck once nobody talks over a reply any more (speech ended, the reply ended or was cut)."""
        if not over_reply:
            self.pending = False
        if self.ducked and not self.pending:
            self.ducked = False
            return [Duck(False)]
        return []
