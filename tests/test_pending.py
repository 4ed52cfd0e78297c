"""``Pending``: an operation that shows a prompt now and ends later (``AddAccount``'s
shape in-process). What its users rely on: the first ending wins, a wait that runs out
is a named ``Timeout`` that leaves the operation going, ``cancel`` stops it once, and
``then`` carries the prompt, the result, every error and a cancel along."""

from __future__ import annotations

import threading

import pytest

from sigilforge.errors import Cancelled, NoSuchAccount, Timeout
from sigilforge.pending import Pending

PROMPT = {"authorize_url": "http://127.0.0.1:1/authorize"}


def _finish_from_another_thread(pending: Pending[str], value: str) -> threading.Thread:
    thread = threading.Thread(target=pending.set_result, args=(value,), name="finisher")
    thread.start()
    return thread


def test_the_prompt_is_there_before_the_result() -> None:
    pending: Pending[str] = Pending(PROMPT)
    assert pending.prompt == PROMPT
    assert not pending.done()
    assert pending.exception() is None


def test_a_result_set_in_another_thread_reaches_the_waiter() -> None:
    pending: Pending[str] = Pending()
    thread = _finish_from_another_thread(pending, "account")
    assert pending.result(timeout=10) == "account"
    thread.join(10)
    assert pending.done()


def test_the_first_ending_wins() -> None:
    pending: Pending[str] = Pending()
    assert pending.set_result("first")
    assert not pending.set_result("second")
    assert not pending.set_exception(NoSuchAccount())
    assert not pending.cancel()
    assert pending.result(0) == "first"


def test_the_operations_error_is_raised_to_the_waiter() -> None:
    pending: Pending[str] = Pending()
    error = NoSuchAccount("no such account: corp/alice")
    pending.set_exception(error)
    with pytest.raises(NoSuchAccount) as info:
        pending.result(0)
    assert info.value is error
    assert pending.exception() is error


def test_a_wait_that_runs_out_is_a_timeout_and_the_operation_goes_on() -> None:
    pending: Pending[str] = Pending()
    with pytest.raises(Timeout):
        pending.result(timeout=0.05)
    assert not pending.done()
    pending.set_result("late")
    assert pending.result(0) == "late"


def test_cancel_ends_it_as_cancelled_and_stops_the_work_once() -> None:
    stopped: list[str] = []
    pending: Pending[str] = Pending(PROMPT, on_cancel=lambda: stopped.append("stop"))
    assert pending.cancel()
    assert not pending.cancel()
    with pytest.raises(Cancelled):
        pending.result(0)
    assert stopped == ["stop"]
    assert not pending.set_result("too late"), "a flow finishing after a cancel is dropped"


def test_cancel_after_the_end_changes_nothing() -> None:
    stopped: list[str] = []
    pending: Pending[str] = Pending(on_cancel=lambda: stopped.append("stop"))
    pending.set_result("done")
    assert not pending.cancel()
    assert stopped == []
    assert pending.result(0) == "done"


def test_completed_is_done_at_once() -> None:
    pending = Pending.completed("key account", PROMPT)
    assert pending.done()
    assert pending.prompt == PROMPT
    assert pending.result(0) == "key account"


def test_done_callbacks_run_on_the_ending_and_at_once_when_already_done() -> None:
    seen: list[str] = []
    pending: Pending[str] = Pending()
    pending.add_done_callback(lambda p: seen.append(p.result(0)))
    assert seen == []
    pending.set_result("value")
    pending.add_done_callback(lambda p: seen.append("late " + p.result(0)))
    assert seen == ["value", "late value"]


def test_then_maps_the_result_and_keeps_the_prompt() -> None:
    pending: Pending[str] = Pending(PROMPT)
    chained = pending.then(str.upper)
    assert chained.prompt == PROMPT
    assert not chained.done()
    _finish_from_another_thread(pending, "alice").join(10)
    assert chained.result(timeout=10) == "ALICE"


def test_then_runs_in_the_thread_that_ends_the_operation() -> None:
    ran_in: list[str] = []

    def note_thread(value: str) -> str:
        ran_in.append(threading.current_thread().name)
        return value

    pending: Pending[str] = Pending()
    chained = pending.then(note_thread)
    _finish_from_another_thread(pending, "x").join(10)
    assert chained.result(timeout=10) == "x"
    assert ran_in == ["finisher"]


def test_then_passes_the_operations_error_on_unchanged() -> None:
    pending: Pending[str] = Pending()
    chained = pending.then(str.upper)
    error = NoSuchAccount()
    pending.set_exception(error)
    with pytest.raises(NoSuchAccount) as info:
        chained.result(0)
    assert info.value is error


def test_an_error_in_the_mapping_ends_the_chain_with_it() -> None:
    def boom(_value: str) -> str:
        raise ValueError("mapping failed")

    pending: Pending[str] = Pending()
    chained = pending.then(boom)
    pending.set_result("x")
    with pytest.raises(ValueError, match="mapping failed"):
        chained.result(0)


def test_cancelling_the_chain_cancels_the_operation() -> None:
    stopped: list[str] = []
    pending: Pending[str] = Pending(on_cancel=lambda: stopped.append("stop"))
    chained = pending.then(str.upper)
    assert chained.cancel()
    assert stopped == ["stop"]
    for either in (pending, chained):
        with pytest.raises(Cancelled):
            either.result(0)
