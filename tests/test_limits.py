"""Per-user question limits: in flight and per minute, one polite line per run of refusals."""

from __future__ import annotations

from bot.limits import WINDOW, QuestionLimits


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


IN_FLIGHT_LINE = "You already have 2 questions waiting for an answer; please wait for those answers before asking more."


def test_past_the_in_flight_limit_questions_are_refused_and_only_the_first_refusal_is_told() -> None:
    limits = QuestionLimits(in_flight=2, per_minute=100, clock=Clock())
    assert limits.admit("alice") is None and limits.admit("alice") is None
    refusals = [limits.admit("alice") for _ in range(5)]
    assert [(refusal.text, refusal.notify) for refusal in refusals if refusal is not None] == [
        (IN_FLIGHT_LINE, True)
    ] + [(IN_FLIGHT_LINE, False)] * 4
    assert limits.admit("bob") is None and limits.in_flight("alice") == 2 and limits.in_flight("bob") == 1
    limits.release("alice")
    assert limits.admit("alice") is None
    # Admitted again: the next run of refusals is told once more.
    again = limits.admit("alice")
    assert again is not None and again.notify


def test_past_the_per_minute_limit_the_line_says_how_long_to_wait() -> None:
    clock = Clock()
    limits = QuestionLimits(in_flight=100, per_minute=3, clock=clock)
    for offset in (0.0, 10.0, 20.0):
        clock.now = 1000.0 + offset
        assert limits.admit("alice") is None
        limits.release("alice")
    clock.now = 1000.0 + 25.5
    refused = limits.admit("alice")
    assert refused is not None and refused.notify
    assert refused.text == "You have asked 3 questions in the last minute; please wait 35 s before asking again."
    clock.now = 1000.0 + 40.0
    quiet = limits.admit("alice")
    assert quiet is not None and not quiet.notify and "please wait 20 s" in quiet.text
    clock.now = 1000.0 + WINDOW
    assert limits.admit("alice") is None
    assert limits.admit("bob") is None


def test_button_work_is_held_to_the_in_flight_limit_but_is_not_a_question_of_the_minute() -> None:
    limits = QuestionLimits(in_flight=1, per_minute=1, clock=Clock())
    assert limits.admit("alice") is None
    busy = limits.admit("alice", counted=False)
    assert busy is not None and busy.notify and busy.text.startswith("You already have 1 question waiting")
    limits.release("alice")
    for _ in range(3):
        assert limits.admit("alice", counted=False) is None
        limits.release("alice")
    refused = limits.admit("alice")
    assert refused is not None and refused.text.startswith("You have asked 1 question in the last minute")


def test_a_minute_later_thousands_of_earlier_askers_may_ask_again() -> None:
    clock = Clock()
    limits = QuestionLimits(in_flight=1, per_minute=1, clock=clock)
    for user in range(2000):
        assert limits.admit(user) is None
        limits.release(user)
    assert limits.admit(7) is not None
    clock.now += WINDOW
    assert limits.admit("late") is None
    # Idle askers are swept from memory past a thousand; none may be held to a limit they no longer owe.
    assert all(limits.admit(user) is None for user in range(2000))
