"""The sequence guard: drops server events that refer to nothing, before the core sees them.

The decoder (``speaker.realtime.events``) makes sure each event is well formed; this makes sure it fits
the session so far. The legal order for one response (GA protocol)::

    response.created → response.output_item.added (a message, or a function_call with its call_id)
        → output_audio.delta … → output_audio.done / transcript.done
        → function_call_arguments.done (for a function_call item)
    → response.done (its output lists the same items)

Dropped, each with a reason: a delta, ``*.done`` or function call for an unknown response or an item
that response never announced; ``response.done`` before ``response.created`` or a second one; a second
``response.created``; deltas after their item's ``output_audio.done``; a second
``function_call_arguments.done`` for one item; a function call in ``response.done.output`` that was never
announced (it is removed from the event, the rest of the response stands); a truncation of an item no
response announced. Without this, a stray ``response.done`` is billed and an unannounced call runs a tool.

Sans-I/O and per connection: ``check(event)`` returns the event to deliver (possibly with its function
calls filtered) or None, and ``last_reason`` says why it was dropped. Memory is bounded: at most
``MAX_OPEN`` responses in flight and the last ``REMEMBER`` finished responses and items are kept.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from speaker.realtime.events import (
    AudioDelta,
    AudioDone,
    FunctionCall,
    ItemTruncated,
    Other,
    OutputItemAdded,
    ProtocolError,
    RealtimeEvent,
    ResponseCreated,
    ResponseDone,
    TranscriptDone,
    parse_server_event,
)

MAX_OPEN: Final = 16
"""Responses in flight at once (the service runs one, plus out-of-band ones): older are forgotten."""
REMEMBER: Final = 256
"""Finished responses and their items remembered (to drop duplicates and late events, and to accept a
truncation of an item that was played)."""
MAX_ITEMS: Final = 64
"""Output items one response may announce."""


@dataclass
class _Item:
    type: str
    call_id: str | None
    audio_done: bool = False
    call_done: bool = False


@dataclass
class _Response:
    items: dict[str, _Item] = field(default_factory=dict)


class SequenceGuard:
    """Per-connection state of the server's responses; see the module docstring."""

    def __init__(self) -> None:
        self._open: OrderedDict[str, _Response] = OrderedDict()
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._known_items: OrderedDict[str, None] = OrderedDict()
        self.last_reason: str | None = None
        """Why the last event handed to :meth:`check` was dropped or changed (None: passed as it was)."""

    def check(self, event: RealtimeEvent) -> RealtimeEvent | None:
        """The event to deliver (possibly changed), or None to drop it; ``last_reason`` says why."""
        self.last_reason = None
        match event:
            case ResponseCreated(response_id=rid):
                if rid in self._open or rid in self._finished:
                    return self._drop(f"a second response.created for {rid}")
                self._open[rid] = _Response()
                if len(self._open) > MAX_OPEN:
                    old, _ = self._open.popitem(last=False)
                    self._remember(self._finished, old)
                return event
            case OutputItemAdded(response_id=rid, item_id=item_id):
                response = self._open.get(rid)
                if response is None:
                    return self._drop(f"an output item for {self._what(rid)}")
                if item_id in response.items or item_id in self._known_items:
                    return self._drop(f"item {item_id} announced twice")
                if len(response.items) >= MAX_ITEMS:
                    return self._drop(f"more than {MAX_ITEMS} items in response {rid}")
                response.items[item_id] = _Item(event.item_type, event.call_id)
                self._remember(self._known_items, item_id)
                return event
            case AudioDelta(response_id=rid, item_id=item_id) | AudioDone(response_id=rid, item_id=item_id) \
                    | TranscriptDone(response_id=rid, item_id=item_id):
                item = self._item(rid, item_id, "message")
                if item is None:
                    return None
                if item.audio_done and not isinstance(event, TranscriptDone):
                    return self._drop(f"audio after output_audio.done of item {item_id}")
                if isinstance(event, AudioDone):
                    item.audio_done = True
                return event
            case FunctionCall(response_id=rid, item_id=item_id, call_id=call_id):
                item = self._item(rid, item_id, "function_call")
                if item is None:
                    return None
                if item.call_id != call_id:
                    return self._drop(f"call {call_id} does not match the announced {item.call_id}")
                if item.call_done:
                    return self._drop(f"function_call_arguments.done twice for item {item_id}")
                item.call_done = True
                return event
            case ResponseDone(response_id=rid):
                response = self._open.pop(rid, None)
                if response is None:
                    return self._drop(f"response.done for {self._what(rid)}")
                self._remember(self._finished, rid)
                calls = tuple(c for c in event.function_calls if self._announced(response, c))
                if len(calls) != len(event.function_calls):
                    self.last_reason = (f"{len(event.function_calls) - len(calls)} unannounced function "
                                        f"call(s) removed from response.done {rid}")
                    return dataclasses.replace(event, function_calls=calls)
                return event
            case ItemTruncated(item_id=item_id):
                if item_id not in self._known_items:
                    return self._drop(f"a truncation of unknown item {item_id}")
                return event
            case _:
                return event

    # ------------------------------------------------------------------ inside

    def _item(self, rid: str, item_id: str, kind: str) -> _Item | None:
        response = self._open.get(rid)
        if response is None:
            self._drop(f"an event for {self._what(rid)}")
            return None
        item = response.items.get(item_id)
        if item is None:
            self._drop(f"an event for item {item_id}, never announced in response {rid}")
            return None
        if item.type != kind:
            self._drop(f"a {kind} event for {item.type} item {item_id}")
            return None
        return item

    @staticmethod
    def _announced(response: _Response, call: FunctionCall) -> bool:
        item = response.items.get(call.item_id)
        return item is not None and item.type == "function_call" and item.call_id == call.call_id

    def _what(self, rid: str) -> str:
        return f"finished response {rid}" if rid in self._finished else f"unknown response {rid}"

    def _drop(self, reason: str) -> RealtimeEvent | None:
        self.last_reason = reason
        return None

    @staticmethod
    def _remember(store: OrderedDict[str, None], key: str) -> None:
        store[key] = None
        if len(store) > REMEMBER:
            store.popitem(last=False)


class DropLog:
    """Counts dropped or repaired server events by category and logs them at warning, at most once per
    ``interval_s`` per category and event type (with how many were not logged since): a server sending
    garbage in every frame must not flood the journal."""

    def __init__(self, logger: logging.Logger, *, interval_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._log = logger
        self._interval_s = interval_s
        self._clock = clock
        self.counts: Counter[str] = Counter()
        """Events per category since this log was made: ``malformed``, ``out_of_order``, ``repaired``."""
        self._last: dict[str, float] = {}
        self._quiet: Counter[str] = Counter()

    def note(self, category: str, message: str, *, about: str = "") -> None:
        """Count one event of ``category``; ``about`` (its type) keeps different problems apart in the log."""
        self.counts[category] += 1
        TOTALS[category] += 1
        now = self._clock()
        key = f"{category}:{about}"
        last = self._last.get(key)
        if last is not None and now - last < self._interval_s:
            self._quiet[key] += 1
            return
        if len(self._last) > 256:  # the types come from the server: keep the table bounded
            self._last.clear()
            self._quiet.clear()
        self._last[key] = now
        quiet, self._quiet[key] = self._quiet[key], 0
        more = f" ({quiet} more since the last such line)" if quiet else ""
        self._log.warning("realtime: %s server event: %s%s", category.replace("_", " "), message, more)


TOTALS: Counter[str] = Counter()
"""Dropped or repaired server events in this process, by category (for ``speaker bench`` and checks)."""


class Intake:
    """One connection's way in: a WebSocket frame → decoded, checked event, or None. Total: whatever the
    frame holds, this returns (drops are counted in ``log`` and logged, rate-limited)."""

    def __init__(self, logger: logging.Logger, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.guard = SequenceGuard()
        self.log = DropLog(logger, clock=clock)
        self._logger = logger

    def take(self, raw: str | bytes) -> RealtimeEvent | None:
        if isinstance(raw, bytes):
            self.log.note("malformed", f"a binary frame of {len(raw)} bytes")
            return None
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, a 5000-digit number, deep nesting
            self.log.note("malformed", f"not JSON ({len(raw)} characters): {type(exc).__name__}")
            return None
        fixes: list[str] = []
        try:
            event = parse_server_event(data, fixes)
        except ProtocolError as exc:
            kind = data.get("type") if isinstance(data, dict) else None
            self.log.note("malformed", str(exc)[:300], about=kind[:64] if isinstance(kind, str) else "")
            return None
        if fixes:
            self.log.note("repaired", f"{type(event).__name__}: {'; '.join(fixes)[:300]}",
                          about=type(event).__name__)
        if isinstance(event, Other):
            self._logger.debug("realtime < %s (ignored)", event.type)
            return None
        checked = self.guard.check(event)
        if self.guard.last_reason is not None:
            self.log.note("out_of_order", self.guard.last_reason, about=type(event).__name__)
        if checked is None or isinstance(checked, OutputItemAdded):
            return None  # output items only feed the guard
        if not isinstance(checked, AudioDelta):
            self._logger.debug("realtime < %s", type(checked).__name__)
        return checked
