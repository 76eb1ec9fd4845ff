"""What an announcement is allowed and what it shows (issue 15): the core's decisions about a spoken
announcement, kept apart from the dispatch so the handlers call them with one-line edits.

- An announcement needs no microphone: the microphone mute does not silence it unless the user says so
  (``CoreConfig.announce_when_muted`` false). A conversation (``StartConversation``, an ask) does need
  the microphone, so a muted speaker still refuses it.
- While an announcement is in progress (connecting, waiting for the audio, playing it) the speaker shows
  ``announcing``, not ``listening`` then ``thinking``: nobody is being listened to."""

from __future__ import annotations

from speaker.core.events import Announce, StartConversation
from speaker.core.state import ACTIVE, VISIBLE, Phase, State

ANNOUNCE = "announce"
"""The purpose of an announcement's session."""


def shown(phase: Phase, purpose: str, muted: bool) -> State:
    """The visible state from the phase and the purpose of the session in progress."""
    if purpose == ANNOUNCE and phase in ACTIVE:
        return State.ANNOUNCING  # an announcement plays even while the microphone is muted
    return State.MUTED if muted else VISIBLE[phase]


def refused_when_muted(request: Announce | StartConversation, announce_when_muted: bool) -> bool:
    """A muted speaker refuses conversations (they need the microphone); announcements only when the
    user chose ``announce_when_muted: false``."""
    return not (isinstance(request, Announce) and announce_when_muted)


def keeps_playing_when_muted(purpose: str, announce_when_muted: bool) -> bool:
    """Muting during an announcement lets it finish (it uses no microphone)."""
    return purpose == ANNOUNCE and announce_when_muted
