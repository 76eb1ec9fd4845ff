"""Budgets the core enforces (``cost.daily_usd``, ``cost.monthly_usd``, ``cost.session_usd``).

The spend per local day and month is the app's to keep (it is persisted, and only the core's own
``ResponseBilled``/``TranscriptionBilled`` add to it); the app posts it as ``BudgetChanged`` at start,
after every billed figure and when the local date changes. The core reads no clock or file for it.

- The day's or month's budget spent: a wake word opens no session; the speaker says so locally (the
  ``budget_day`` phrase, shipped with the daemon) and reports ``BudgetRefused``. The state stays idle,
  so timers, stop, volume and mute keep working. A say/ask request is refused the same way (no phrase:
  nobody asked aloud).
- A conversation reaching ``session_usd`` (or the day's/month's budget while it runs) finishes the
  reply it is giving, closes, and says goodbye locally (the ``budget_session`` phrase).
"""

from __future__ import annotations

from dataclasses import dataclass

from speaker.core import outputs as O
from speaker.core.base import CoreBase, McpApprovals, Step
from speaker.core.config import CoreConfig
from speaker.core.events import Announce, BudgetChanged, CoreEvent, SetMuted, StartConversation, Stop
from speaker.core.state import Phase

REFUSED = "budget_day"
"""The phrase a wake word gets while the day's or month's budget is spent."""
GOODBYE = "budget_session"
"""The phrase after the last reply of a conversation that reached its budget."""


@dataclass
class Budget:
    """The limits and what the app last said was spent."""

    daily_usd: float | None = None
    monthly_usd: float | None = None
    session_usd: float | None = None
    day_usd: float = 0.0
    month_usd: float = 0.0
    day: str = ""
    month: str = ""
    wrapping: int | None = None
    """The session that is wrapping up (closes after its reply, then the goodbye)."""

    @classmethod
    def of(cls, cfg: CoreConfig) -> Budget:
        return cls(cfg.daily_usd, cfg.monthly_usd, cfg.session_usd)

    def update(self, ev: BudgetChanged) -> None:
        self.day_usd, self.month_usd, self.day, self.month = ev.day_usd, ev.month_usd, ev.day, ev.month

    def spent(self) -> tuple[str, float, float, str] | None:
        """(scope, spent, limit, period) of a day or month budget that is used up, else None."""
        if self.daily_usd is not None and self.day_usd >= self.daily_usd:
            return "day", self.day_usd, self.daily_usd, self.day
        if self.monthly_usd is not None and self.month_usd >= self.monthly_usd:
            return "month", self.month_usd, self.monthly_usd, self.month
        return None

    def reached(self, session_cost: float) -> tuple[str, float] | None:
        """(scope, limit) when a conversation that has cost ``session_cost`` must wrap up."""
        if self.session_usd is not None and session_cost >= self.session_usd:
            return "session", self.session_usd
        spent = self.spent()
        return (spent[0], spent[2]) if spent is not None else None


class BudgetHandling(CoreBase):
    """The core's budget decisions (see the module docstring)."""

    def __init__(self, cfg: CoreConfig, *, mcp: McpApprovals | None = None) -> None:
        super().__init__(cfg, mcp=mcp)
        self._budget = Budget.of(cfg)

    def _budget_intercepts(self, event: CoreEvent, now: float, out: list[Step]) -> bool:
        """Before dispatch: take the budget news; refuse a say/ask that would open a paid session."""
        match event:
            case BudgetChanged():
                self._budget.update(event)
                return True
            case Announce() | StartConversation() if not self.muted and self._budget.spent() is not None:
                what = "announce" if isinstance(event, Announce) else "start"
                self._refuse_over_budget(what, now, out)
                if isinstance(event, StartConversation) and event.ask_id is not None:
                    out.append(O.Answer(event.ask_id, None))
                return True
        return False

    def _refuse_over_budget(self, what: str, now: float, out: list[Step]) -> bool:
        """True (and the refusal said and reported) when no session may open now."""
        spent = self._budget.spent()
        if spent is None:
            return False
        scope, usd, limit, period = spent
        out.append(O.BudgetRefused(scope, round(usd, 6), limit, period, what))
        out.append(O.Note(f"the {scope}'s budget of ${limit:.2f} is used up (${usd:.4f} spent): "
                          f"no {what} session opened"))
        if what == "conversation":
            self._sound(REFUSED, now, out)
        return True

    def _budget_after(self, event: CoreEvent, now: float, out: list[Step]) -> None:
        """After dispatch: start wrapping up a conversation over budget; the goodbye once it closed."""
        budget = self._budget
        stats = self._stats
        if stats is not None and self._session_open and self._purpose == "conversation" \
                and budget.wrapping != self._session:
            reached = budget.reached(stats.cost)
            if reached is not None:
                budget.wrapping = self._session
                out.append(O.BudgetWrapUp(reached[0], round(stats.cost, 6), reached[1]))
                out.append(O.Note(f"{reached[0]} budget of ${reached[1]:.2f} reached (this conversation: "
                                  f"${stats.cost:.4f}): closing after the current reply"))
                if self.phase in (Phase.FOLLOW_UP, Phase.OPEN) and not self._uplink.active:
                    self._close(f"{reached[0]} budget reached", now, out)
                else:
                    self._end_after_reply = True  # the reply being given is heard to its end
        if budget.wrapping is not None and (budget.wrapping != self._session or self.phase is Phase.IDLE):
            if budget.wrapping == self._session and not isinstance(event, Stop | SetMuted):
                self._sound(GOODBYE, now, out)  # a stop or mute wants silence
            budget.wrapping = None
