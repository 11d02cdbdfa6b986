"""Read ahead: fetch the next page while the current one is converted and written.

A cursor walk is sequential: page N+1's request needs page N's ``last_id``. But nothing needs
page N to be converted to Arrow and written to Parquet before page N+1 is requested, so a
background thread walks the cursor and hands decoded pages over one at a time. The API still
sees one request in flight per walk; the client's CPU work hides behind the network wait.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")
_END = object()


class ReadAhead(Generic[T]):
    """Iterate ``source`` in a background thread, keeping at most ``depth`` items waiting.

    Use as a context manager. Items come out in order; an exception raised by ``source`` is
    raised by the consumer once it reaches that point. Leaving the block early (an exception
    in the consumer, a cancelled day) stops the walk: no request starts after it, and the exit
    waits for the one in flight to end, so nothing runs on behind the caller's back.
    """

    def __init__(self, source: Iterator[T], *, depth: int = 1, name: str = "diga-read-ahead") -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self._source = source
        self._depth = depth
        self._ready: deque[T] = deque()
        self._changed = threading.Condition()
        self._finished = False
        self._closed = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._walk, name=name, daemon=True)

    def __enter__(self) -> ReadAhead[T]:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the walk and wait for its thread to end."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join()

    def __iter__(self) -> Iterator[T]:
        while True:
            with self._changed:
                while not self._ready and not self._finished:
                    self._changed.wait()
                if self._ready:
                    item = self._ready.popleft()
                    self._changed.notify_all()
                elif self._error is not None:
                    raise self._error
                else:
                    return
            yield item

    def _walk(self) -> None:
        source = iter(self._source)
        try:
            while True:
                # Room first, then the request: at most ``depth`` pages wait, and once the
                # consumer has left no request starts.
                with self._changed:
                    while len(self._ready) >= self._depth and not self._closed:
                        self._changed.wait()
                    if self._closed:
                        return
                item = next(source, _END)
                if item is _END:
                    return
                with self._changed:
                    self._ready.append(item)
                    self._changed.notify_all()
        except BaseException as exc:
            with self._changed:
                self._error = exc
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
            with self._changed:
                self._finished = True
                self._changed.notify_all()
