"""What the conversation core learns from the echo chain, as typed data: per microphone frame the
levels of the reference, the microphone and the cancelled signal (:class:`EchoLevels`), and now and
then the echo monitor's verdict (:class:`EchoStatus`). The runner reads both; the core never reads the
canceller or the monitor itself."""

from __future__ import annotations

import math

import numpy as np

from speaker.aec.factory import EchoChain
from speaker.aec.linear import LinearEar
from speaker.core.events import EchoLevels, EchoStatus

FLOOR_DBFS = -120.0


def _dbfs(energy: float, samples: int) -> float:
    if samples == 0 or energy <= 0:
        return FLOOR_DBFS
    return max(FLOOR_DBFS, 10 * math.log10(energy / samples / 32768.0 ** 2))


class LevelMeter:
    """A frame observer of the canceller: sums the energies of the frames since the last ``take``
    (observing after ``ear``, whose output of the same frame it reads)."""

    def __init__(self, ear: LinearEar | None = None) -> None:
        self._ear = ear
        self._ref = self._mic = self._out = self._lin = 0.0
        self._n_ref = self._n = 0

    def observe(self, reference: np.ndarray, mic: np.ndarray, out: np.ndarray) -> None:
        r, m, o = (x.astype(np.float64) for x in (reference, mic, out))
        self._ref += float(r @ r)
        self._n_ref += r.size
        self._mic += float(m @ m)
        self._out += float(o @ o)
        if self._ear is not None:
            self._lin += self._ear.energy
        self._n += m.size

    def take(self) -> EchoLevels | None:
        if self._n == 0:
            return None
        levels = EchoLevels(_dbfs(self._ref, self._n_ref), _dbfs(self._mic, self._n), _dbfs(self._out, self._n),
                            None if self._ear is None else _dbfs(self._lin, self._n))
        self._ref = self._mic = self._out = self._lin = 0.0
        self._n_ref = self._n = 0
        return levels


class EchoProbe:
    """The runner's view of the echo chain (``chain`` None: nothing cancels echo in the daemon,
    ``why`` says why). Levels only where the daemon cancels: after a canceller outside the daemon the
    microphone and the output are the same signal and there is nothing to compare."""

    def __init__(self, chain: EchoChain | None, why: str = "no echo cancellation in the daemon") -> None:
        self._chain = chain
        self._why = chain.why if chain is not None else why
        self._meter: LevelMeter | None = None
        if chain is not None and chain.canceller.active:
            self._meter = LevelMeter(chain.ear)
            chain.canceller.observers.append(self._meter)

    def levels(self) -> EchoLevels | None:
        """The frames cancelled since the last call (the runner calls it once per microphone frame)."""
        return self._meter.take() if self._meter is not None else None

    def ear(self) -> bytes | None:
        """What the wake word hears of the frames cancelled since the last call (None: the frames
        themselves)."""
        ear = self._chain.ear if self._chain is not None else None
        return ear.take() if ear is not None else None

    def status(self) -> EchoStatus:
        if self._chain is None or not self._chain.canceller.active:
            return EchoStatus(False, None, self._why)
        report = self._chain.monitor.report()
        estimator = self._chain.estimator
        if report.safe and estimator is not None and estimator.delay_ms is None:
            # the echo looks reduced, but the played audio was never found in the microphone signal:
            # the reference does not line up with the echo (AEC3's suppressor gating is no cancelling)
            return EchoStatus(False, report.erle_db, "the played audio is not found in the microphone signal "
                              "(no playback -> capture delay measured yet)", report.erl_db)
        return EchoStatus(report.safe, report.erle_db, report.reason, report.erl_db, report.linear_erle_db)
