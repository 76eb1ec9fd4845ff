"""The emulator is its own distribution: without it, the commands that need it say how to install it."""

from __future__ import annotations

import subprocess
import sys

import pytest

HIDDEN = "import sys; sys.modules['realtime_emulator'] = None; from speaker.cli import main; sys.exit(main({argv}))"


@pytest.mark.parametrize("argv", [["demo"], ["bench", "--conversation"]])
def test_a_command_that_needs_the_emulator_says_how_to_install_it(argv: list[str]) -> None:
    done = subprocess.run([sys.executable, "-c", HIDDEN.format(argv=argv)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"speaker {' '.join(argv)}: the Realtime emulator is not installed" in lines[0]
    assert "script/setup" in lines[0] and "pip install ./emulator" in lines[0]
