"""Opening a connection with retries: retryable failures back off and try again, fatal ones raise at once.

A bad key, an unknown model or the beta shape (close 4000) gets exactly one attempt: looping on them only
hammers the endpoint and hides the real problem from the user.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from speaker.backoff import Backoff
from speaker.config.schema import RealtimeSettings
from speaker.errors import RealtimeError
from speaker.realtime.client import RealtimeConnection

log = logging.getLogger(__name__)


async def open_with_retry(settings: RealtimeSettings, api_key: str, *, attempts: int = 3,
                          backoff: Backoff | None = None, session: dict[str, Any] | None = None,
                          sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                          **options: Any) -> RealtimeConnection:
    """Open a :class:`RealtimeConnection`, trying up to ``attempts`` times.

    Only failures with ``retryable`` set are retried, after ``backoff.next_delay()`` seconds (a fresh
    :class:`Backoff` by default). A fatal failure, or the last retryable one, is raised unchanged; check
    ``exc.retryable`` / ``speaker.realtime.classify.kind_of(exc)``. ``options`` go to
    :meth:`RealtimeConnection.open`.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    delays = backoff if backoff is not None else Backoff()
    for attempt in range(1, attempts + 1):
        try:
            conn = await RealtimeConnection.open(settings, api_key, session=session, **options)
        except RealtimeError as exc:
            if not exc.retryable or attempt == attempts:
                raise
            delay = delays.next_delay()
            log.warning("realtime: %s (attempt %d of %d); retrying in %.1f s", exc, attempt, attempts, delay)
            await sleep(delay)
        else:
            delays.reset()
            return conn
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
