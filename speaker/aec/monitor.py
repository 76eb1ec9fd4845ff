"""The echo monitor: how much echo the canceller removes while the speaker plays, and whether
speech barge-in is safe.

ERLE (echo return loss enhancement) = energy of the microphone / energy of the cancelled output,
measured only where the speaker was playing (the reference, held for ``HOLD_MS`` to cover the delay
and the room's reverberation) and the microphone hears it (above ``AUDIBLE_DBFS``). It is taken over
100 ms blocks; the figure is the median of the blocks in the last ``window_s``, so a few blocks of
the user talking over the reply (which lower a block's ERLE) do not flip the verdict.

**Safe** means: at least ``min_measured_s`` of such audio measured, the median ERLE is at least
``erle_min_db`` (default 25 dB: the residual of a reply at normal volume then sits at the noise floor
of a quiet room, below what webrtcvad calls speech), and the linear filter's median ERLE (the wake
word's ear, :mod:`speaker.aec.linear`) is at least ``linear_min_db``. The second figure keeps AEC3
honest: its suppressor can make an echo it does not cancel look removed (a reference that reaches it
after its echo: a sound card that reports its played position late), a linear filter cannot.
Unsafe, or not measured yet, means the core keeps half duplex (barge-in by wake word only)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from speaker.aec.linear import LinearEar
from speaker.aec.port import FRAME_MS, FRAME_SAMPLES
from speaker.config.echo import EchoSettings

HOLD_MS = 400
"""After the reference goes quiet its echo is still arriving: delay plus reverberation."""
ACTIVE_DBFS = -50.0
"""A reference frame louder than this counts as the speaker playing."""
AUDIBLE_DBFS = -55.0
"""A microphone frame quieter than this has no measurable echo in it (the noise floor)."""
BLOCK_FRAMES = 10


def _energy(dbfs: float) -> float:
    return float(FRAME_SAMPLES * (32768 * 10 ** (dbfs / 20)) ** 2)


@dataclass(frozen=True)
class EchoReport:
    erle_db: float | None
    """Median ERLE over the window; None before anything was measured."""
    measured_s: float
    """Reply audio in the window that the figure is based on."""
    safe: bool
    reason: str
    erl_db: float | None = None
    """Median echo path gain (microphone over reference, dB) while the speaker plays: how loud our
    own voice comes back (the guard of speech barge-in expects that much echo)."""
    linear_erle_db: float | None = None
    """Median ERLE of the linear filter alone (None: no linear filter)."""

    def as_dict(self) -> dict[str, object]:
        return {"erle_db": _round(self.erle_db), "linear_erle_db": _round(self.linear_erle_db),
                "measured_s": round(self.measured_s, 2), "safe": self.safe, "reason": self.reason}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


class EchoMonitor:
    """A frame observer (see :class:`speaker.aec.framing.FramedCanceller`); :meth:`report` says the
    current figure and verdict. Costs a few dot products per 10 ms frame."""

    def __init__(self, settings: EchoSettings | None = None, *, ear: LinearEar | None = None) -> None:
        settings = settings or EchoSettings()
        self.ear = ear
        """The linear filter, observed before this monitor on every frame (its ``last`` is this frame's)."""
        self.erle_min_db = settings.erle_min_db
        self.linear_min_db = settings.linear_min_db
        self.min_measured_s = settings.min_measured_s
        self._blocks: deque[float] = deque(maxlen=max(1, round(settings.monitor_window_s * 1000 / (
            FRAME_MS * BLOCK_FRAMES))))
        self._erl: deque[float] = deque(maxlen=self._blocks.maxlen)
        self._linear: deque[float] = deque(maxlen=self._blocks.maxlen)
        self._lin_sum = 0.0
        self._ref_sum = 0.0
        self._hold = 0
        self._mic_sum = 0.0
        self._out_sum = 0.0
        self._count = 0
        self._active = _energy(ACTIVE_DBFS)
        self._audible = _energy(AUDIBLE_DBFS)
        self.total_blocks = 0
        """Blocks measured since creation (not only in the window)."""

    def observe(self, reference: np.ndarray, mic: np.ndarray, out: np.ndarray) -> None:
        ref = reference.astype(np.float64)
        e_ref = float(ref @ ref)
        if e_ref >= self._active:
            self._hold = HOLD_MS // FRAME_MS
        elif self._hold:
            self._hold -= 1
        else:
            return
        m = mic.astype(np.float64)
        e_mic = float(m @ m)
        if e_mic < self._audible:
            return
        o = out.astype(np.float64)
        self._mic_sum += e_mic
        self._out_sum += float(o @ o)
        self._ref_sum += e_ref
        if self.ear is not None:
            self._lin_sum += self.ear.energy
        self._count += 1
        if self._count == BLOCK_FRAMES:
            self._blocks.append(10 * np.log10(self._mic_sum / max(self._out_sum, 1.0)))
            self._erl.append(10 * np.log10(self._mic_sum / max(self._ref_sum, 1.0)))
            if self.ear is not None:
                self._linear.append(10 * np.log10(self._mic_sum / max(self._lin_sum, 1.0)))
            self.total_blocks += 1
            self._mic_sum = self._out_sum = self._ref_sum = self._lin_sum = 0.0
            self._count = 0

    def report(self) -> EchoReport:
        measured = len(self._blocks) * BLOCK_FRAMES * FRAME_MS / 1000
        if not self._blocks:
            return EchoReport(None, 0.0, False, "no echo measured yet")
        erle = float(np.median(self._blocks))
        erl = float(np.median(self._erl))
        linear = float(np.median(self._linear)) if self._linear else None

        def verdict(safe: bool, reason: str) -> EchoReport:
            return EchoReport(erle, measured, safe, reason, erl, linear)

        if measured < self.min_measured_s:
            return verdict(False, f"only {measured:.1f} s of echo measured (needs {self.min_measured_s:g} s)")
        if erle < self.erle_min_db:
            return verdict(False, f"echo reduced by {erle:.1f} dB, below {self.erle_min_db:g} dB")
        if linear is not None and linear < self.linear_min_db:
            return verdict(False, f"echo reduced by {erle:.1f} dB, but the played audio predicts only "
                           f"{linear:.1f} dB of it (needs {self.linear_min_db:g} dB): is the output's played "
                           "position reported late?")
        return verdict(True, f"echo reduced by {erle:.1f} dB" + (
            "" if linear is None else f" ({linear:.1f} dB by the linear filter)"))

    def reset(self) -> None:
        self._blocks.clear()
        self._erl.clear()
        self._linear.clear()
        self._hold = self._count = 0
        self._mic_sum = self._out_sum = self._ref_sum = self._lin_sum = 0.0
