"""A started operation that ends later: what to show now, and the result when it comes.

``AddAccount`` replies at once with a prompt (an authorization URL, a device code) and
finishes minutes later; this is the in-process shape of that, used by the CLI directly
and by the D-Bus layer to send the ``Response`` signal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Generic, TypeVar

from sigilforge.errors import Cancelled, SigilforgeError, Timeout

__all__ = ["Pending"]

T = TypeVar("T")
U = TypeVar("U")


class Pending(Generic[T]):
    def __init__(
        self,
        prompt: Mapping[str, str] | None = None,
        *,
        on_cancel: Callable[[], object] | None = None,
    ) -> None:
        self.prompt: dict[str, str] = dict(prompt or {})
        self._future: Future[T] = Future()
        self._on_cancel = on_cancel
        self._lock = threading.Lock()

    @classmethod
    def completed(cls, value: T, prompt: Mapping[str, str] | None = None) -> Pending[T]:
        pending: Pending[T] = cls(prompt)
        pending.set_result(value)
        return pending

    # -- producer side ------------------------------------------------------------------

    def set_result(self, value: T) -> bool:
        with self._lock:
            if self._future.done():
                return False
            self._future.set_result(value)
            return True

    def set_exception(self, exc: BaseException) -> bool:
        with self._lock:
            if self._future.done():
                return False
            self._future.set_exception(exc)
            return True

    # -- consumer side ------------------------------------------------------------------

    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: float | None = None) -> T:
        """The value, or the operation's error; ``Timeout`` if ``timeout`` passes first
        (the operation goes on: call ``cancel`` to stop it)."""
        try:
            return self._future.result(timeout)
        except FutureTimeout:
            raise Timeout("still waiting for the operation to finish") from None

    def exception(self) -> BaseException | None:
        return self._future.exception(0) if self._future.done() else None

    def cancel(self) -> bool:
        """Stop the operation; its result becomes ``Cancelled``. False if it had ended."""
        if not self.set_exception(Cancelled("cancelled")):
            return False
        if self._on_cancel is not None:
            self._on_cancel()
        return True

    def add_done_callback(self, fn: Callable[[Pending[T]], None]) -> None:
        self._future.add_done_callback(lambda _f: fn(self))

    def then(self, fn: Callable[[T], U]) -> Pending[U]:
        """A Pending of ``fn(result)``, run in the thread that completes this one."""
        chained: Pending[U] = Pending(self.prompt, on_cancel=self.cancel)

        def forward(_f: Future[T]) -> None:
            exc = _f.exception()
            if exc is not None:
                chained.set_exception(exc)
                return
            try:
                chained.set_result(fn(_f.result()))
            except SigilforgeError as err:
                chained.set_exception(err)
            except Exception as err:  # surfaced as Failed by whoever reports it
                chained.set_exception(err)

        self._future.add_done_callback(forward)
        return chained
