"""Which microphone audio of a turn leaves the house.

A turn starts at the wake word (or at speech onset in a follow-up) with a short pre-roll. Audio is
held back while the session connects and sent the moment it is ready. While the user speaks, audio
flows with a delay of ``hold_ms`` (the VAD's hangover), so that when the VAD decides the speech has
ended, the trailing silence it waited through has not been sent yet: only ``tail_ms`` of it goes up.
Before the user starts speaking, only the last ``pad_ms`` are kept. The result: what is billed is the
speech plus a little padding, never the minutes before the wake word or the silence after.

It owns every copy of recent microphone audio: the pre-roll of a wake word and the pad before a
follow-up's speech come from its short ring of the last frames (nothing else keeps one), and what a turn
sent is kept (at most ``turn_keep_s``) until the next turn begins, so that a session lost before the answer
can be given the same turn again (``turn_audio``, ``rewind``; see ``speaker.core.resume``).

Sans-I/O: it takes frames and returns bytes to send.
"""

from __future__ import annotations

from collections import deque

from speaker.audio.format import MIC, AudioFormat

MIN_PAD_S = 0.1
"""Audio kept before speech onset even when the pre-roll already went up at connect time."""


class Uplink:
    def __init__(self, *, pad_ms: int, hold_ms: int, tail_ms: int, preroll_ms: int | None = None,
                 fmt: AudioFormat = MIC, ring_keep_s: float = 0.0, turn_keep_s: float = 30.0) -> None:
        self._fmt = fmt
        self._pad_s = pad_ms / 1000
        self._preroll_s = min(pad_ms, preroll_ms if preroll_ms is not None else pad_ms) / 1000
        self._hold_s = hold_ms / 1000
        self._tail_s = tail_ms / 1000
        self._held: deque[tuple[float, bytes]] = deque()  # (end time, pcm)
        self._ring: deque[tuple[float, bytes]] = deque()
        self._ring_s = max(self._pad_s + 0.05, ring_keep_s)
        """``ring_keep_s``: multi-room arbitration keeps the audio since a wake until another speaker's
        answer is certain (a takeover answers from it)."""
        self._ready = False
        self._active = False
        self._speaking = False
        self._spoke = False
        self._preonset_sent = 0.0
        self.sent_bytes = 0
        self._turn: deque[tuple[float, bytes]] = deque()  # what this turn sent, oldest first
        self._turn_bytes = 0
        self._keep_bytes = int(turn_keep_s * fmt.bytes_per_second)
        self.turn = 0
        """Turns begun so far (a lost session is resumed at most once per turn)."""

    @property
    def active(self) -> bool:
        return self._active

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def spoke(self) -> bool:
        """Speech was heard in this turn."""
        return self._spoke

    @property
    def sent_seconds(self) -> float:
        return self.sent_bytes / self._fmt.bytes_per_second

    def hear(self, pcm: bytes, t: float) -> None:
        """Every microphone frame, ending at ``t``: kept for ``pad_ms`` (+50 ms) as the pre-roll."""
        ring = self._ring
        ring.append((t, pcm))
        while ring and ring[0][0] <= t - self._ring_s:
            ring.popleft()

    def preroll(self) -> bytes:
        """The audio the ring holds now (at most ``pad_ms`` + 50 ms)."""
        return b"".join(pcm for _, pcm in self._ring)

    def window(self, start: float, end: float) -> bytes:
        """The kept audio of the frames ending after ``start`` and by ``end`` (stream times)."""
        return b"".join(pcm for t, pcm in self._ring if start < t <= end)

    def begin(self, *, ready: bool, speaking: bool = False, since: float | None = None) -> bytes:
        """Start a turn with the last ``pad_ms`` (at most ``preroll_ms``) of audio as its pre-roll
        (``since``: the pre-roll before that stream time and everything kept after it).
        Returns audio to send now."""
        self._held.clear()
        self._turn.clear()
        self._turn_bytes = 0
        self.turn += 1
        self._active = True
        self._ready = ready
        self._speaking = speaking
        self._spoke = speaking
        self._preonset_sent = 0.0
        if self._ring:
            start = (self._ring[-1][0] if since is None else since) - self._preroll_s
            self._held.extend(frame for frame in self._ring if frame[0] > start)
        if not ready:
            return b""
        out = self._flush_all()
        if not speaking:
            self._preonset_sent = len(out) / self._fmt.bytes_per_second
        return out

    def ready(self) -> bytes:
        """The session is open: everything held so far goes up at once."""
        self._ready = True
        if not self._active:
            return b""
        out = self._flush_all()
        if not self._spoke:
            self._preonset_sent = len(out) / self._fmt.bytes_per_second
        return out

    def feed(self, pcm: bytes, t: float) -> bytes:
        """A microphone frame ending at ``t``. Returns what to send now."""
        if not self._active:
            return b""
        if not self._ready:
            if self._spoke and not self._speaking:
                return b""  # the utterance ended while we connect: what follows is silence, not the turn
            self._held.append((t, pcm))
            if not self._spoke:
                self._trim_to(t - self._pad_s)  # silence while connecting is not worth sending either
            return b""
        self._held.append((t, pcm))
        if self._speaking:
            return self._release_ending_by(t - self._hold_s)
        # before speech (or between utterances): keep only the padding
        self._trim_to(t - self._pad_s)
        return b""

    def speech_started(self, t: float) -> bytes:
        """Speech began at ``t``: drop held audio older than the pad before it."""
        if not self._active:
            return b""
        self._speaking = True
        self._spoke = True
        # the pad before onset, less what the pre-roll already carried (at connect time), but never
        # less than MIN_PAD_S so the first syllable is whole
        pad = max(MIN_PAD_S, self._pad_s - self._preonset_sent) if self._preonset_sent else self._pad_s
        self._trim_to(t - pad)
        return b""

    def speech_ended(self, t: float) -> bytes:
        """Speech ended at ``t`` (the last voiced frame). Sends up to ``t + tail`` and drops the rest."""
        if not self._active:
            return b""
        self._speaking = False
        cut = t + self._tail_s
        if not self._ready:
            # keep the audio for when the session is ready, but not the silence after the tail
            kept = [(end, pcm) for end, pcm in self._held if end - self._duration(pcm) < cut]
            self._held = deque(kept)
            return b""
        out = self._release_starting_before(cut)
        self._held.clear()
        return out

    def end(self) -> None:
        """The turn is over: nothing more is sent until the next ``begin``."""
        self._active = False
        self._speaking = False
        self._held.clear()

    def turn_audio(self) -> bytes:
        """What this turn has sent so far (at most ``turn_keep_s``, the newest kept)."""
        return b"".join(pcm for _, pcm in self._turn)

    def rewind(self) -> None:
        """The session this turn went to is gone: what it sent is held again, in front of what is still
        held, and goes up (with what follows) when the next session is ``ready``."""
        self._held.extendleft(reversed(self._turn))
        self._turn.clear()
        self._turn_bytes = 0
        self._ready = False

    def forget(self) -> None:
        """Drop the ring too (our own reply's echo is no pre-roll for the next turn)."""
        self._ring.clear()

    # ------------------------------------------------------------------ internals

    def _duration(self, pcm: bytes) -> float:
        return len(pcm) / self._fmt.bytes_per_second

    def _trim_to(self, start: float) -> None:
        """Drop held frames that end before ``start``."""
        while self._held and self._held[0][0] <= start:
            self._held.popleft()

    def _release_ending_by(self, limit: float) -> bytes:
        """Send held frames that end at or before ``limit`` (the delay line while speaking)."""
        out = bytearray()
        while self._held and self._held[0][0] <= limit:
            out += self._sent(self._held.popleft())
        self.sent_bytes += len(out)
        return bytes(out)

    def _release_starting_before(self, limit: float) -> bytes:
        """Send held frames that begin before ``limit`` (the tail after speech)."""
        out = bytearray()
        while self._held and self._held[0][0] - self._duration(self._held[0][1]) < limit:
            out += self._sent(self._held.popleft())
        self.sent_bytes += len(out)
        return bytes(out)

    def _flush_all(self) -> bytes:
        out = b"".join(self._sent(frame) for frame in self._held)
        self._held.clear()
        self.sent_bytes += len(out)
        return out

    def _sent(self, frame: tuple[float, bytes]) -> bytes:
        """``frame`` goes up now: keep a copy for the turn (bounded)."""
        self._turn.append(frame)
        self._turn_bytes += len(frame[1])
        while self._turn_bytes > self._keep_bytes and len(self._turn) > 1:
            self._turn_bytes -= len(self._turn.popleft()[1])
        return frame[1]
