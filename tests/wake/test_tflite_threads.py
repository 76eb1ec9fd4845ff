"""TFLite interpreter options: few threads, same scores, loud failure on an unknown library version."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib import metadata

import numpy as np
import pytest

from speaker.wake import tflite_threads
from speaker.wake.tflite_threads import InterpreterOptions, TfLiteOptionsError, interpreter_options
from tests.fixtures.speech import fixture_wav, read_pcm

# Runs in a fresh interpreter: TFLite's default thread pool, once started, lives as long as its
# interpreter, and other tests in this process may have started one.
THREAD_PROBE = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    from speaker.config.schema import WakeSettings
    from speaker.wake.factory import build_wake_engine
    from pyopen_wakeword import Model, OpenWakeWord, OpenWakeWordFeatures

    def tasks():
        return len(os.listdir("/proc/self/task"))

    audio = (np.random.default_rng(1).standard_normal(16000 * 3) * 300).astype("<i2").tobytes()
    before = tasks()
    if sys.argv[1] == "engine":
        engine = build_wake_engine(WakeSettings(engine=sys.argv[2], threads=int(sys.argv[3])), ".")
        for i in range(0, len(audio), 320):
            engine.process(audio[i:i + 320])
    else:  # the library as shipped
        features, model = OpenWakeWordFeatures.from_builtin(), OpenWakeWord.from_builtin(Model.HEY_JARVIS)
        for emb in features.process_streaming(audio):
            list(model.process_streaming(emb))
    print(json.dumps({"before": before, "after": tasks()}))
""")


def _threads(*args: str) -> dict[str, int]:
    out = subprocess.run([sys.executable, "-c", THREAD_PROBE, *args], check=True, capture_output=True, text=True,
                         timeout=120, cwd=os.getcwd())
    result: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads through /proc")
@pytest.mark.parametrize("engine", ["openwakeword", "microwakeword"])
def test_engine_adds_no_threads_after_inference(engine: str) -> None:
    counts = _threads("engine", engine, "1")
    assert counts["after"] == counts["before"], counts


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads through /proc")
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="TFLite only starts a pool with more than one CPU")
def test_the_library_as_shipped_starts_a_thread_pool() -> None:
    """The control for the test above: without our options the process grows threads."""
    counts = _threads("shipped")
    assert counts["after"] > counts["before"], counts


def _oww_scores(options: InterpreterOptions | None) -> np.ndarray:
    from pyopen_wakeword import Model, OpenWakeWord, OpenWakeWordFeatures

    if options is None:
        features, model = OpenWakeWordFeatures.from_builtin(), OpenWakeWord.from_builtin(Model.HEY_JARVIS)
    else:
        with interpreter_options("pyopen-wakeword", options):
            features, model = OpenWakeWordFeatures.from_builtin(), OpenWakeWord.from_builtin(Model.HEY_JARVIS)
    pcm = read_pcm(fixture_wav("hey_jarvis"))
    scores = [p for i in range(0, len(pcm), 2560) for e in features.process_streaming(pcm[i:i + 2560])
              for p in model.process_streaming(e)]
    model.close()
    features.close()
    return np.array(scores)


def test_openwakeword_scores_match_the_library_defaults() -> None:
    shipped = _oww_scores(None)
    ours = _oww_scores(InterpreterOptions(threads=1, xnnpack=True))
    assert shipped.max() > 0.9 and len(ours) == len(shipped)
    # not bit-identical (thread count and XNNPACK change the float summation order), but far below what
    # a threshold can tell apart
    np.testing.assert_allclose(ours, shipped, atol=1e-4)
    assert np.flatnonzero(ours > 0.5).tolist() == np.flatnonzero(shipped > 0.5).tolist()


def test_microwakeword_reset_keeps_the_options() -> None:
    from pymicro_wakeword import MicroWakeWord, Model

    with interpreter_options("pymicro-wakeword", InterpreterOptions(threads=1)) as handles:
        model = MicroWakeWord.from_builtin(Model.HEY_JARVIS)
    assert [h.interpreters_created for h in handles] == [1]
    model.reset()  # reloads the interpreter through the same handle
    assert handles[0].interpreters_created == 2
    model.close()


def test_an_unknown_library_version_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tflite_threads.metadata, "version", lambda name: "1.2.0")
    with pytest.raises(TfLiteOptionsError, match=r"pyopen-wakeword 1\.1\.0, but 1\.2\.0 is installed"), \
            interpreter_options("pyopen-wakeword", InterpreterOptions()):
        pass


def test_the_pinned_versions_are_the_installed_ones() -> None:
    assert tflite_threads.check_version("pyopen-wakeword") == metadata.version("pyopen-wakeword") == "1.1.0"
    assert tflite_threads.check_version("pymicro-wakeword").startswith("2.5.")


def test_building_nothing_through_the_patch_is_an_error() -> None:
    """If the library stopped creating interpreters through TfLiteWakeWord.__init__/self.lib, the
    options would silently not apply: the context refuses that."""
    with pytest.raises(TfLiteOptionsError, match="did not create its interpreters"), \
            interpreter_options("pyopen-wakeword", InterpreterOptions()):
        pass


def test_the_patch_is_removed_after_the_context() -> None:
    from pyopen_wakeword import wakeword

    original = wakeword.TfLiteWakeWord.__init__
    with interpreter_options("pyopen-wakeword", InterpreterOptions()):
        from pyopen_wakeword import OpenWakeWordFeatures

        features = OpenWakeWordFeatures.from_builtin()
        assert wakeword.TfLiteWakeWord.__init__ is not original
    assert wakeword.TfLiteWakeWord.__init__ is original
    features.close()


def test_threads_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threads"):
        InterpreterOptions(threads=0)
