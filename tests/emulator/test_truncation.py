"""The emulator's model of ``truncation: retention_ratio`` (what the token-growth bench relies on)."""

from __future__ import annotations

from realtime_emulator.conversation import Conversation

RATIO = {"type": "retention_ratio", "retention_ratio": 0.8, "token_limits": {"post_instructions": 100}}


def _grow(conv: Conversation, turns: int, truncation: object) -> list[int]:
    """Add a 40-token user text item per turn; the input tokens of each response after it."""
    sizes = []
    for n in range(turns):
        conv.create({"type": "message", "role": "user",
                     "content": [{"type": "input_text", "text": f"{n:02d}" + "x" * 158}]}, None, f"item_{n}")
        sizes.append(sum(s.text + s.audio for s in conv.context("head", None, truncation)[1:]))
    return sizes


def test_retention_ratio_keeps_the_input_under_the_limit_and_drops_the_oldest() -> None:
    conv = Conversation()
    sizes = _grow(conv, 10, RATIO)
    assert max(sizes) <= 100
    assert sizes[:2] == [40, 80] and sizes[2] <= 80  # the third turn went over: cut back to 80% of 100
    kept = [i.id for i in conv.items if i.id not in conv.dropped]
    assert kept[-1] == "item_9" and "item_0" not in kept


def test_auto_and_disabled_leave_the_whole_conversation() -> None:
    for truncation in ("auto", "disabled", None):
        assert _grow(Conversation(), 5, truncation) == [40, 80, 120, 160, 200]
