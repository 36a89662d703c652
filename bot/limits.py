"""Per-user limits on questions: how many may wait for an answer at once, and how many a minute.

The bot asks ``QuestionLimits.admit(owner)`` before it queues a question and calls ``release(owner)`` once the
answer is sent. A refused question is dropped, not queued; its ``Refusal`` says whether this is the first of a
run of refusals, the only one the user is told about, so a flood of questions gets one polite line back rather
than a flood of replies (and Telegram's limit of about one message a second per chat is not spent on them).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

__all__ = ["WINDOW", "QuestionLimits", "Refusal"]

# The per-minute limit counts the questions admitted in the last WINDOW seconds (a sliding window).
WINDOW = 60.0


@dataclass(frozen=True)
class Refusal:
    """Why a question was not queued: ``text`` is the one line for the user, ``notify`` whether to send it."""

    text: str
    notify: bool


@dataclass
class _Owner:
    in_flight: int = 0
    admitted: deque[float] = field(default_factory=deque)
    # Told about the current run of refusals; cleared when a question is admitted again.
    told: bool = False


class QuestionLimits:
    """Questions in flight and per minute, per owner (a user id, or a chat id when there is no user)."""

    def __init__(self, *, in_flight: int, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._in_flight = in_flight
        self._per_minute = per_minute
        self._clock = clock
        self._owners: dict[Hashable, _Owner] = {}
        self._sweep_at = 1024

    def admit(self, owner: Hashable, *, counted: bool = True) -> Refusal | None:
        """None, and one more in flight for ``owner``, when the question may be queued; else why not.

        ``counted=False`` is for work that is not a new question (a button's deeper ask): it is held to the
        in-flight limit but not counted in the minute's questions, and its refusal is always worth showing.
        """
        now = self._clock()
        state = self._owners.setdefault(owner, _Owner())
        while state.admitted and now - state.admitted[0] >= WINDOW:
            state.admitted.popleft()
        text = None
        if state.in_flight >= self._in_flight:
            plural = "question" if self._in_flight == 1 else "questions"
            text = (
                f"You already have {self._in_flight} {plural} waiting for an answer; "
                "please wait for those answers before asking more."
            )
        elif counted and len(state.admitted) >= self._per_minute:
            wait = max(1, math.ceil(state.admitted[0] + WINDOW - now))
            plural = "question" if self._per_minute == 1 else "questions"
            text = (
                f"You have asked {self._per_minute} {plural} in the last minute; "
                f"please wait {wait} s before asking again."
            )
        if text is not None:
            if not counted:
                return Refusal(text, notify=True)
            notify = not state.told
            state.told = True
            return Refusal(text, notify=notify)
        state.in_flight += 1
        if counted:
            state.admitted.append(now)
            state.told = False
        self._forget_idle(now)
        return None

    def release(self, owner: Hashable) -> None:
        """One question of ``owner`` admitted earlier is answered (or failed): it is no longer in flight."""
        state = self._owners[owner]
        assert state.in_flight > 0, "released more questions than were admitted"
        state.in_flight -= 1

    def in_flight(self, owner: Hashable) -> int:
        """How many of ``owner``'s questions are admitted and not yet released."""
        state = self._owners.get(owner)
        return state.in_flight if state is not None else 0

    def _forget_idle(self, now: float) -> None:
        """Drop owners with nothing in flight and nothing in the window, so a public bot's memory stays small."""
        if len(self._owners) < self._sweep_at:
            return
        for owner in [
            owner
            for owner, state in self._owners.items()
            if state.in_flight == 0 and (not state.admitted or now - state.admitted[-1] >= WINDOW)
        ]:
            del self._owners[owner]
        self._sweep_at = max(1024, 2 * len(self._owners))
