"""A fair queue in front of the engine: owners (users) are served round-robin by a few worker threads.

One user's flood of questions delays only that user: another user's question waits for at most one job of
each other waiting owner (plus the jobs already running), however many the flooder has queued. The library is
thread-safe for readers, so the workers ask it in parallel; their number is bounded because each ask is CPU
work on a model, and more threads than cores only make every answer slower.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["FairScheduler", "RoundRobin"]

T = TypeVar("T")


class RoundRobin(Generic[T]):
    """Items queued per owner, taken one owner at a time in turn (first come, first served within an owner)."""

    def __init__(self) -> None:
        # Owners with something waiting, in the order they get their next turn.
        self._turns: OrderedDict[Hashable, deque[T]] = OrderedDict()

    def push(self, owner: Hashable, item: T) -> None:
        """Queue ``item`` behind ``owner``'s others; a new owner gets the last turn of the current round."""
        self._turns.setdefault(owner, deque()).append(item)

    def pop(self) -> tuple[Hashable, T]:
        """The next owner's oldest item; that owner goes to the back of the turns if it has more waiting."""
        owner, items = next(iter(self._turns.items()))
        item = items.popleft()
        if items:
            self._turns.move_to_end(owner)
        else:
            del self._turns[owner]
        return owner, item

    def waiting(self, owner: Hashable) -> int:
        """How many of ``owner``'s items are queued."""
        items = self._turns.get(owner)
        return len(items) if items is not None else 0

    def __len__(self) -> int:
        return sum(len(items) for items in self._turns.values())

    def __bool__(self) -> bool:
        return bool(self._turns)


@dataclass
class _Job:
    function: Callable[[], Any]
    result: asyncio.Future[Any]


class FairScheduler:
    """Runs blocking calls in ``workers`` threads of its own, taking owners round-robin when more wait.

    ``submit`` is called on the event loop and returns an asyncio future; cancelling it before its turn
    drops the job. ``close`` lets the threads go once the bot stops.
    """

    def __init__(self, *, workers: int, thread_name_prefix: str = "quotebot-engine") -> None:
        self._workers = workers
        self._queue: RoundRobin[_Job] = RoundRobin()
        self._running = 0
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=thread_name_prefix)

    def submit(self, owner: Hashable, function: Callable[[], T]) -> asyncio.Future[T]:
        """Queue ``function`` for ``owner``; the future gets its result, or its exception, once it has run."""
        loop = asyncio.get_running_loop()
        result: asyncio.Future[T] = loop.create_future()
        self._queue.push(owner, _Job(function, result))
        self._dispatch(loop)
        return result

    def waiting(self, owner: Hashable) -> int:
        """How many of ``owner``'s jobs wait for a worker (not counting those running)."""
        return self._queue.waiting(owner)

    @property
    def running(self) -> int:
        """How many jobs the workers are running now."""
        return self._running

    def close(self) -> None:
        """Let the worker threads go; a job already running finishes, queued ones are dropped."""
        while self._queue:
            _, job = self._queue.pop()
            job.result.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        # Never more jobs in the pool than threads: the waiting ones stay here, where the turns are fair.
        while self._running < self._workers and self._queue:
            _, job = self._queue.pop()
            if job.result.cancelled():
                continue
            self._running += 1
            work = self._pool.submit(job.function)
            work.add_done_callback(functools.partial(self._report, loop, job))

    def _report(self, loop: asyncio.AbstractEventLoop, job: _Job, work: Future[Any]) -> None:
        """In the worker thread: hand the outcome to the event loop (gone already if the bot was stopped)."""
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._finished, loop, job, work)

    def _finished(self, loop: asyncio.AbstractEventLoop, job: _Job, work: Future[Any]) -> None:
        self._running -= 1
        if not job.result.cancelled():
            if work.cancelled():
                job.result.cancel()
            elif (error := work.exception()) is not None:
                job.result.set_exception(error)
            else:
                job.result.set_result(work.result())
        self._dispatch(loop)
