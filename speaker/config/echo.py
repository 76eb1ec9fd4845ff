"""The ``echo`` section: acoustic echo cancellation in the daemon (speaker.aec).

Not yet part of the root ``Settings``; the lead wires it in as ``echo: EchoSettings = EchoSettings()``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from speaker.config.section import Section


class EchoSettings(Section):
    """Cancelling the speaker's own voice in the microphone signal, with what the daemon plays as
    the reference. Every frame the VAD and the uplink see is echo-cancelled by AEC3; the wake word
    hears the same microphone with the echo removed by a linear filter only (AEC3's suppressor would
    silence a wake word said over the reply)."""

    enabled: bool = True
    """Cancel echo in the daemon (false: the microphone passes through untouched, half duplex)."""
    engine: Literal["webrtc"] = "webrtc"
    """The canceller: WebRTC AEC3 (livekit's audio processing module), chosen by measurement."""
    external: Literal["auto", "yes", "no"] = "auto"
    """An echo canceller already in the audio chain (PipeWire/PulseAudio echo-cancel, a USB array
    that cancels on board): yes = do not cancel twice; auto = yes when the input device's name says
    echo-cancel; no = always cancel here."""
    delay_ms: int | None = Field(default=None, ge=0, le=1000)
    """Playback → capture delay handed to the canceller; null = estimated from the replies."""
    noise_suppression: bool = True
    """Also suppress stationary noise (fans, hum) in the cancelled signal."""
    high_pass_filter: bool = True
    """Remove rumble below ~80 Hz before cancelling."""
    erle_min_db: float = Field(default=25.0, ge=10.0, le=60.0)
    """Echo reduction (ERLE) below which speech barge-in is unsafe and the speaker falls back to
    half duplex. 25 dB puts a reply at normal volume under the noise floor of a quiet room."""
    linear_min_db: float = Field(default=6.0, ge=0.0, le=40.0)
    """Echo reduction the linear filter (the wake word's ear) must reach too before speech barge-in is
    safe: proof that what the daemon plays predicts the echo. A reference reported late cannot be
    cancelled linearly, however quiet AEC3's suppressor makes the echo look."""
    monitor_window_s: float = Field(default=3.0, ge=1.0, le=60.0)
    """Seconds of recent reply audio the echo monitor judges the ERLE over (the median of 100 ms
    blocks, so a few blocks of the user talking over the reply do not count)."""
    min_measured_s: float = Field(default=1.5, ge=0.5, le=30.0)
    """Reply audio the monitor must have measured before it calls barge-in safe."""
    barge_in_margin_db: float = Field(default=10.0, ge=0.0, le=40.0)
    """Speech over a reply interrupts it only this far above the echo expected after cancelling (the
    guard against the speaker's own residual echo)."""
    barge_in_warmup_ms: int = Field(default=500, ge=0, le=5000)
    """Speech barge-in is not taken in the first this-many ms of a reply (the canceller re-adapts)."""
    duck_db: float = Field(default=20.0, ge=0.0, le=60.0)
    """Lower the reply this much while someone talks over it, where the echo is cancelled (so the wake
    word gets through); 0 = never."""
