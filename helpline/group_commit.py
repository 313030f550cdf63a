"""Group commit: the writes of callers that arrive together are made together, in one
transaction and one round trip, and each caller returns once its own write is made.

A caller that finds nobody ahead of it leads: it takes every write waiting (its own first,
up to `max_batch`), makes them, hands each caller its result, and passes the lead to the
first caller left waiting. The others sleep until one of those two things wakes them. So a
lone caller writes at once on its own thread, with no handoff and no wait for company, and
under load the writes that arrive while one batch is being made form the next batch: the
batches grow with the load, and no caller waits for a timer.

No Flask and no database here: `write` is whatever makes a batch's writes durable.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Turn(Generic[T, R]):
    """One caller's write: its item, then its result or the batch's error."""

    __slots__ = ("item", "woken", "done", "result", "error")

    def __init__(self, item: T) -> None:
        self.item = item
        # Held until its batch is done or it leads the next one, then let go once: a bare
        # lock, which wakes its waiter for a fraction of what an Event costs (an Event is a
        # condition, a lock and a waiter's lock of its own each time).
        self.woken = threading.Lock()
        self.woken.acquire()
        self.done = False
        self.result: R | None = None
        self.error: BaseException | None = None

    def outcome(self) -> R:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # set with done, before any read


class GroupCommit(Generic[T, R]):
    """`commit(item)` makes `item`'s write, batched with those of concurrent callers.

    `write(items)` makes a batch's writes and returns one result per item, in their order;
    when it raises, every caller of that batch gets its exception, unless `each_alone(error)`
    says the error may be one item's (bad data, not a database that is down): then each of
    the batch's writes is made again on its own, and only a failing one's caller hears of it.
    """

    def __init__(
        self,
        write: Callable[[list[T]], Sequence[R]],
        max_batch: int = 64,
        each_alone: Callable[[BaseException], bool] = lambda _error: False,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._each_alone = each_alone
        self._lock = threading.Lock()
        self._line: deque[_Turn[T, R]] = deque()  # its head leads the batch being made

    def __call__(self, item: T) -> R:
        turn: _Turn[T, R] = _Turn(item)
        with self._lock:
            self._line.append(turn)
            leads = len(self._line) == 1
        if not leads:
            turn.woken.acquire()
            if turn.done:
                return turn.outcome()
        self._lead()
        return turn.outcome()

    def _lead(self) -> None:
        """Make the batch at the head of the line (this caller's own turn first)."""
        with self._lock:
            batch = list(islice(self._line, self._max_batch))
        try:
            self._make(batch)
        except BaseException as exc:  # the batch failed: each of its callers hears of it
            if len(batch) > 1 and isinstance(exc, Exception) and self._each_alone(exc):
                for turn in batch:
                    self._make_alone(turn)
            else:
                for turn in batch:
                    turn.error = exc
        finally:
            with self._lock:
                for _ in batch:
                    self._line.popleft()
                following = self._line[0] if self._line else None
            for turn in batch:
                turn.done = True
                turn.woken.release()
            if following is not None:
                following.woken.release()  # not done: it leads the next batch

    def _make(self, batch: list[_Turn[T, R]]) -> None:
        results = self._write([turn.item for turn in batch])
        if len(results) != len(batch):
            raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
        for turn, result in zip(batch, results, strict=True):
            turn.result = result

    def _make_alone(self, turn: _Turn[T, R]) -> None:
        try:
            self._make([turn])
        except BaseException as exc:  # its caller's to hear of
            turn.error = exc
