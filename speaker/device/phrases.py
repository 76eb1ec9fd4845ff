"""Short phrases the speaker says without the Realtime service, shipped with the daemon
(``speaker/assets``, made by ``script/make-budget-phrases``): the budget refusal and the goodbye of a
conversation over its budget. Played like the feedback sounds (``PlaySound``), at ``feedback.volume``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from speaker.audio.gain import apply_gain_bytes, volume_gain
from speaker.audio.wavfile import read_wav
from speaker.config.feedback import FeedbackSettings
from speaker.core.budget import GOODBYE, REFUSED
from speaker.device.sounds import RATE

PHRASES = {REFUSED: "budget_day.wav", GOODBYE: "budget_session.wav"}


def phrase_path(name: str) -> Path:
    return Path(str(resources.files("speaker") / "assets" / PHRASES[name]))


def build_phrases(feedback: FeedbackSettings) -> dict[str, bytes]:
    """Every phrase as 24 kHz mono pcm16 at the feedback loudness (for the runner's sound table)."""
    gain = volume_gain(feedback.volume)
    return {name: apply_gain_bytes(read_wav(phrase_path(name), RATE), gain) for name in PHRASES}
