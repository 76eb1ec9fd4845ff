"""Build the echo chain the settings ask for: canceller (or pass-through), delay estimator and
echo monitor, and wrap the daemon's source and sink with it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from speaker.aec.delay import DelayEstimator
from speaker.aec.framing import FramedCanceller
from speaker.aec.linear import LinearEar
from speaker.aec.monitor import EchoMonitor
from speaker.aec.passthrough import PassThroughCanceller, external_canceller_in_chain
from speaker.aec.reference import CancellingSource, ReferenceTap
from speaker.audio.ports import AudioSink, AudioSource
from speaker.config.echo import EchoSettings

log = logging.getLogger(__name__)


@dataclass
class EchoChain:
    canceller: FramedCanceller
    monitor: EchoMonitor
    estimator: DelayEstimator | None
    """None when the delay is configured (``echo.delay_ms``) or nothing is cancelled."""
    ear: LinearEar | None
    """What the wake word hears (the microphone minus a linear echo estimate); None where nothing
    is cancelled in the daemon (the wake word hears the microphone as it is)."""
    why: str
    """One line for the log: what cancels the echo."""

    def tap(self, sink: AudioSink) -> ReferenceTap:
        """The sink to play through: it feeds the canceller what was really played."""
        return ReferenceTap(sink, self.canceller.add_reference)

    def source(self, source: AudioSource, tap: ReferenceTap | None) -> CancellingSource:
        """The source to listen to: its frames are echo-cancelled."""
        return CancellingSource(source, self.canceller, tap)


def build_echo_chain(settings: EchoSettings, *, input_device: str | int | None = None) -> EchoChain:
    """``input_device`` is the configured input device (a name is checked for an echo-cancel source)."""
    external = settings.external == "yes" or (
        settings.external == "auto" and isinstance(input_device, str) and external_canceller_in_chain(input_device))
    canceller: FramedCanceller
    estimator = None
    ear = None
    if not settings.enabled:
        canceller, why = PassThroughCanceller(), "echo cancellation is off (echo.enabled: false)"
    elif external:
        canceller, why = PassThroughCanceller(), (f"echo is cancelled before the daemon (input {input_device!r}, "
                                                  f"echo.external: {settings.external})")
    else:
        from speaker.aec.webrtc import WebRtcCanceller

        canceller = WebRtcCanceller(noise_suppression=settings.noise_suppression,
                                    high_pass_filter=settings.high_pass_filter, delay_ms=settings.delay_ms)
        why = "echo cancelled in the daemon (WebRTC AEC3)"
        if settings.delay_ms is None:
            estimator = DelayEstimator(on_estimate=canceller.set_delay_ms)
            canceller.observers.append(estimator)
        ear = LinearEar()
        canceller.observers.append(ear)  # before the monitor: it reads the ear's output of the frame
    monitor = EchoMonitor(settings, ear=ear)
    canceller.observers.append(monitor)
    log.info("%s", why)
    return EchoChain(canceller, monitor, estimator, ear, why)
