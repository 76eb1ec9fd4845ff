"""Pass-through: echo cancellation off, or done before the daemon (PipeWire's echo-cancel)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from speaker.aec.factory import build_echo_chain
from speaker.aec.passthrough import PassThroughCanceller, external_canceller_in_chain
from speaker.config.echo import EchoSettings


def test_passes_the_microphone_unchanged_for_any_block() -> None:
    c = PassThroughCanceller()
    c.add_reference(b"\x10\x00" * 480)
    pcm = (np.arange(320) - 160).astype("<i2").tobytes()
    assert c.process(pcm) == pcm
    assert not c.active


@pytest.mark.parametrize("name", ["Echo-Cancel Source", "echo-cancel-source", "alsa_input.echo-cancel"])
def test_an_echo_cancelled_input_is_detected(name: str) -> None:
    assert external_canceller_in_chain(name)
    chain = build_echo_chain(EchoSettings(), input_device=name)
    assert not chain.canceller.active and chain.estimator is None


def test_the_settings_choose() -> None:
    assert not external_canceller_in_chain("ReSpeaker 4 Mic Array (UAC1.0)")
    assert build_echo_chain(EchoSettings(), input_device="ReSpeaker 4 Mic Array").canceller.active
    assert not build_echo_chain(EchoSettings(enabled=False)).canceller.active
    assert not build_echo_chain(EchoSettings(external="yes")).canceller.active
    assert build_echo_chain(EchoSettings(external="no"), input_device="Echo-Cancel Source").canceller.active
    assert build_echo_chain(EchoSettings(delay_ms=80)).estimator is None


def test_unknown_or_out_of_range_keys_are_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        EchoSettings.model_validate({"enable": True})
    with pytest.raises(ValidationError, match="delay_ms"):
        EchoSettings.model_validate({"delay_ms": -5})
