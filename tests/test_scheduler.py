"""The engine's fair queue: owners served round-robin, a bounded number of workers, errors passed on."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from bot.scheduler import FairScheduler, RoundRobin


def test_round_robin_takes_one_item_per_owner_in_turn() -> None:
    queue: RoundRobin[str] = RoundRobin()
    for number in range(1000):
        queue.push("flooder", f"f{number}")
    queue.push("bob", "b0")
    queue.push("carol", "c0")
    queue.push("bob", "b1")
    taken = [queue.pop() for _ in range(7)]
    assert taken == [
        ("flooder", "f0"),
        ("bob", "b0"),
        ("carol", "c0"),
        ("flooder", "f1"),
        ("bob", "b1"),
        ("flooder", "f2"),
        ("flooder", "f3"),
    ]
    assert queue.waiting("flooder") == 996 and queue.waiting("bob") == 0 and len(queue) == 996


def test_round_robin_gives_a_returning_owner_the_last_turn_of_the_round() -> None:
    queue: RoundRobin[str] = RoundRobin()
    queue.push("alice", "a0")
    queue.push("bob", "b0")
    assert queue.pop() == ("alice", "a0")
    queue.push("alice", "a1")
    queue.push("carol", "c0")
    assert [queue.pop() for _ in range(3)] == [("bob", "b0"), ("alice", "a1"), ("carol", "c0")]
    assert not queue and len(queue) == 0


def recorder(order: list[str], gate: threading.Event) -> Callable[[str], Callable[[], str]]:
    """Jobs that wait for the gate, then note their label: with one worker the notes are the run order."""

    def job(label: str) -> Callable[[], str]:
        def run() -> str:
            assert gate.wait(10), "the test never opened the gate"
            order.append(label)
            return label

        return run

    return job


def test_a_single_question_waits_for_one_job_of_each_other_owner_not_for_the_whole_flood() -> None:
    order: list[str] = []
    gate = threading.Event()
    job = recorder(order, gate)

    async def scenario() -> list[str]:
        scheduler = FairScheduler(workers=1, thread_name_prefix="test-fair")
        try:
            flood = [scheduler.submit("flooder", job(f"f{number}")) for number in range(200)]
            others = [scheduler.submit("bob", job("b0")), scheduler.submit("carol", job("c0"))]
            assert scheduler.running == 1 and scheduler.waiting("flooder") == 199
            gate.set()
            return list(await asyncio.gather(*flood, *others))
        finally:
            scheduler.close()

    results = asyncio.run(scenario())
    # f0 was running before the others came; the flooder's next turn comes after one each of Bob and Carol.
    assert order[:5] == ["f0", "f1", "b0", "c0", "f2"]
    assert results == [f"f{number}" for number in range(200)] + ["b0", "c0"]
    assert len(order) == 202


def test_no_more_jobs_run_at_once_than_workers() -> None:
    lock = threading.Lock()
    running, most = 0, 0
    gate = threading.Event()

    def job() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        gate.wait(10)
        with lock:
            running -= 1

    async def scenario() -> None:
        scheduler = FairScheduler(workers=3, thread_name_prefix="test-bounded")
        try:
            pending = [scheduler.submit(owner, job) for owner in ("a", "b", "c", "d", "e") for _ in range(4)]
            assert scheduler.running == 3
            gate.set()
            await asyncio.gather(*pending)
            assert scheduler.running == 0
        finally:
            scheduler.close()

    asyncio.run(scenario())
    assert most == 3


def test_a_failing_job_raises_for_its_caller_only_and_a_cancelled_one_never_runs() -> None:
    ran: list[str] = []
    gate = threading.Event()

    def fail() -> None:
        gate.wait(10)
        raise RuntimeError("engine failure")

    def note(label: str) -> Callable[[], str]:
        def run() -> str:
            ran.append(label)
            return label

        return run

    async def scenario() -> None:
        scheduler = FairScheduler(workers=1, thread_name_prefix="test-errors")
        try:
            failing = scheduler.submit("alice", fail)
            dropped = scheduler.submit("bob", note("dropped"))
            kept = scheduler.submit("carol", note("kept"))
            dropped.cancel()
            gate.set()
            with pytest.raises(RuntimeError, match="engine failure"):
                await failing
            assert await kept == "kept"
        finally:
            scheduler.close()

    asyncio.run(scenario())
    assert ran == ["kept"]
