"""`speaker check`'s multi-room line: the level this speaker hears for the test phrase (the wake word
said at a normal voice, 1 m away) and the ``rooms.level_offset_db`` that calibrates it
(``speaker.rooms.calibrate``). From ``--input-file``, or a few seconds of the configured input."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from speaker.config import LoadedConfig
from speaker.errors import SpeakerError
from speaker.rooms.calibrate import Calibration, calibrate, calibrate_file

RECORD_S = 4.0
"""How long the configured input is recorded for the test phrase."""


class Report(Protocol):
    def add(self, name: str, status: str, detail: str, hint: str = "") -> None: ...


async def record(loaded: LoadedConfig, seconds: float = RECORD_S) -> bytes:
    """``seconds`` of the configured input (16 kHz mono s16le); bounded by ``seconds`` + 5 s."""
    from speaker.audio.factory import open_source

    source = open_source(loaded.settings.audio.input, resilient=False)
    want = int(seconds * 16000) * 2
    pcm = bytearray()

    async def take() -> None:
        async with source:
            async for frame in source.frames():
                pcm.extend(frame)
                if len(pcm) >= want:
                    return

    async with asyncio.timeout(seconds + 5.0):
        await take()
    return bytes(pcm[:want])


async def check_rooms(loaded: LoadedConfig, report: Report, input_file: Path | None) -> Calibration | None:
    offset = loaded.settings.rooms.level_offset_db
    try:
        if input_file is not None:
            cal = calibrate_file(input_file, offset)
        else:
            report.add("rooms", "INFO", f"say the wake word now, at 1 m (recording {RECORD_S:.0f} s)")
            cal = calibrate(await record(loaded), offset)
    except (SpeakerError, OSError, ValueError, TimeoutError) as exc:
        # a file that cannot be read fails; a device that cannot record is the 'audio in' line's failure
        report.add("rooms level", "FAIL" if input_file is not None else "SKIP",
                   f"cannot measure the test phrase: {exc or 'no audio in time'}",
                   "give a WAV of the wake word said at 1 m with --input-file, or check audio.input")
        return None
    heard, advice = (line.removeprefix("rooms: ") for line in cal.lines())
    status = "OK" if cal.problem is None else "WARN"
    report.add("rooms level", status, heard)
    report.add("rooms offset", status, advice)
    return cal
