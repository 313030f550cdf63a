"""Group commit: writes that arrive together are made together, each caller answered with
its own result once its batch is made."""

from __future__ import annotations

import threading

import pytest

from helpline.group_commit import GroupCommit
from tests.processes import wait_until


class Writes:
    """A write that records each batch, and can be held inside its next batch."""

    def __init__(self, fail_on: set[str] | None = None) -> None:
        self.batches: list[list[str]] = []
        self.threads: list[threading.Thread] = []
        self.fail_on = fail_on or set()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def hold(self) -> None:
        self.release.clear()

    def __call__(self, items: list[str]) -> list[str]:
        self.batches.append(items)
        self.threads.append(threading.current_thread())
        self.entered.set()
        self.release.wait(10)
        if self.fail_on & set(items):
            raise ValueError(f"cannot write {sorted(self.fail_on & set(items))}")
        return [item.upper() for item in items]


class Callers:
    """Each item committed from a thread of its own; each one's result or error."""

    def __init__(self, commit: GroupCommit[str, str], items: list[str]) -> None:
        self.outcomes: dict[str, object] = {}
        self.threads = [threading.Thread(target=self._call, args=(commit, i)) for i in items]
        for thread in self.threads:
            thread.start()

    def _call(self, commit: GroupCommit[str, str], item: str) -> None:
        try:
            self.outcomes[item] = commit(item)
        except ValueError as exc:
            self.outcomes[item] = exc

    def answered(self) -> dict[str, object]:
        for thread in self.threads:
            thread.join(10)
        return self.outcomes


def waiting(commit: GroupCommit[str, str]) -> int:
    return len(commit._line)


def start_held_batch(writes: Writes, commit: GroupCommit[str, str]) -> threading.Thread:
    """A first caller whose batch is held inside the write until `writes.release` is set."""
    writes.hold()
    first = threading.Thread(target=commit, args=("first",))
    first.start()
    assert writes.entered.wait(10)
    return first


def test_a_lone_caller_writes_at_once_on_its_own_thread() -> None:
    writes = Writes()
    commit = GroupCommit(writes)
    assert commit("hello") == "HELLO"
    assert writes.batches == [["hello"]]
    assert writes.threads == [threading.current_thread()]


def test_callers_arriving_during_a_write_are_written_together_next() -> None:
    writes = Writes()
    commit = GroupCommit(writes)
    first = start_held_batch(writes, commit)
    later = [f"text {n}" for n in range(5)]
    callers = Callers(commit, later)
    wait_until(lambda: waiting(commit) == 6, 10, "the writes queued")
    writes.release.set()
    first.join(10)
    outcomes = callers.answered()
    assert writes.batches[0] == ["first"]
    assert sorted(writes.batches[1]) == later  # one batch for all who waited
    assert len(writes.batches) == 2
    assert outcomes == {item: item.upper() for item in later}  # each its own result


def test_a_batch_holds_at_most_max_batch_writes() -> None:
    writes = Writes()
    commit = GroupCommit(writes, max_batch=2)
    first = start_held_batch(writes, commit)
    callers = Callers(commit, ["a", "b", "c", "d", "e"])
    wait_until(lambda: waiting(commit) == 6, 10, "the writes queued")
    writes.release.set()
    first.join(10)
    assert sorted(callers.answered()) == ["a", "b", "c", "d", "e"]
    assert [len(batch) for batch in writes.batches] == [1, 2, 2, 1]


def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_is_made() -> None:
    writes = Writes(fail_on={"bad"})
    commit = GroupCommit(writes)
    writes.hold()
    failing = Callers(commit, ["bad"])
    assert writes.entered.wait(10)
    following = Callers(commit, ["good"])
    wait_until(lambda: waiting(commit) == 2, 10, "the writes queued")
    writes.release.set()
    assert isinstance(failing.answered()["bad"], ValueError)
    assert following.answered() == {"good": "GOOD"}
    assert waiting(commit) == 0


def test_a_write_answering_for_fewer_items_than_its_batch_fails_them() -> None:
    commit: GroupCommit[str, str] = GroupCommit(lambda items: [])
    with pytest.raises(RuntimeError, match="0 results for a batch of 1"):
        commit("lost")


def test_an_error_that_may_be_one_items_fails_that_caller_alone() -> None:
    """When the batch fails with an error that may be one item's (bad data), each write is
    made again on its own: the others succeed, only the bad one's caller hears of it."""
    writes = Writes(fail_on={"bad"})
    commit = GroupCommit(writes, each_alone=lambda error: isinstance(error, ValueError))
    first = start_held_batch(writes, commit)
    callers = Callers(commit, ["good", "bad", "also good"])
    wait_until(lambda: waiting(commit) == 4, 10, "the writes queued")
    writes.release.set()
    first.join(10)
    outcomes = callers.answered()
    assert outcomes["good"] == "GOOD" and outcomes["also good"] == "ALSO GOOD"
    assert isinstance(outcomes["bad"], ValueError)
    assert sorted(writes.batches[1]) == ["also good", "bad", "good"]  # tried together first
    assert sorted(map(tuple, writes.batches[2:])) == [("also good",), ("bad",), ("good",)]
