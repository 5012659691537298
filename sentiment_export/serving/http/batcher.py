"""Adaptive micro-batching: concurrent requests are queued and scored together on worker threads.

How a batch is formed (one collector task on the event loop):

1. Wait until a request is queued and one of ``concurrency`` worker threads
   is free. While every worker is busy, requests simply accumulate, so under
   load batches grow by themselves, with no added delay.
2. With a free worker, wait for more texts only while another request is
   known to be on its way (its handler is reading or parsing the body, see
   :meth:`MicroBatcher.expecting`) and for at most ``max_delay_s`` since the
   oldest queued request arrived. Nothing is waited for when nothing is
   coming, so a lone request is scored at once.
3. Take whole requests, oldest first, up to ``max_batch_size`` texts (a
   request larger than that is scored alone, never split), score all their
   texts in one call on a worker thread (onnxruntime releases the GIL), and
   hand each request exactly its own slice of the scores, in its own order.

``max_batch_size=1`` turns batching off: one request per inference.

The queue is bounded (``queue_limit`` requests waiting); past it a request is
refused at once with :class:`Overloaded` rather than queued behind a backlog
it would time out in. A request not scored within its deadline gets
:class:`DeadlineExceeded` and is dropped from the queue; a request that was
queued is always answered, with its scores or an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .errors import DeadlineExceeded, NotReady, Overloaded

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 1
"""Seconds a refused client is told to wait (``Retry-After``): about one queue's worth of work at the limits."""


@dataclass
class _Pending:
    texts: Sequence[str]
    future: asyncio.Future
    enqueued: float = field(default=0.0)


def _ignore(_: int) -> None:
    return None


class MicroBatcher:
    """Queue of scoring requests for one model, scored in batches by ``score`` on worker threads.

    ``score`` maps a list of texts to a float32 array of their scores, one per
    text, in order (:meth:`SentimentModel.predict_proba`). ``on_batch`` is
    called with each batch's text count and ``on_queue`` with the queue depth
    whenever it changes (for metrics). Create it, :meth:`start` it on the
    running event loop, and :meth:`close` it after the last request.
    """

    def __init__(
        self,
        score: Callable[[list[str]], np.ndarray],
        *,
        max_batch_size: int,
        max_delay_s: float,
        queue_limit: int,
        concurrency: int,
        on_batch: Callable[[int], None] = _ignore,
        on_queue: Callable[[int], None] = _ignore,
    ) -> None:
        self._score = score
        self.max_batch_size = max_batch_size
        self.max_delay_s = max_delay_s
        self.queue_limit = queue_limit
        self._on_batch = on_batch
        self._on_queue = on_queue
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="score")
        self._concurrency = concurrency
        self._queue: deque[_Pending] = deque()
        self._queued_texts = 0
        self._expected = 0
        self._wake: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self._collector: asyncio.Task | None = None
        self._closed = False

    def start(self) -> None:
        """Start the collector on the running event loop."""
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(self._concurrency)
        self._collector = asyncio.get_running_loop().create_task(self._collect(), name="batch-collector")

    async def close(self) -> None:
        """Refuse new requests, let queued and running batches finish, then stop the threads."""
        self._closed = True
        if self._slots is not None:
            while self._queue:
                await asyncio.sleep(0.01)
            for _ in range(self._concurrency):  # every running batch has handed back its slot
                await self._slots.acquire()
        if self._collector is not None:
            self._collector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._collector
        self._pool.shutdown(wait=True)

    @property
    def queue_depth(self) -> int:
        """Requests waiting for a batch (not counting those being scored)."""
        return len(self._queue)

    @contextlib.contextmanager
    def expecting(self) -> Iterator[None]:
        """Mark a request as on its way (its body is being read) so a forming batch may wait for it."""
        self._expected += 1
        try:
            yield
        finally:
            self._expected -= 1
            self._signal()

    async def submit(self, texts: Sequence[str], *, timeout_s: float) -> np.ndarray:
        """Scores of ``texts`` in order, scored in some batch within ``timeout_s`` seconds.

        Raises :class:`Overloaded` when ``queue_limit`` requests already wait,
        :class:`NotReady` once the batcher is closing, and
        :class:`DeadlineExceeded` when no batch scored it in time.
        """
        if self._closed or self._wake is None:
            raise NotReady("the server is shutting down and accepts no new requests; retry on another replica")
        if len(self._queue) >= self.queue_limit:
            raise Overloaded(
                f"the batch queue is full ({self.queue_limit} requests waiting, --queue-limit); "
                f"retry after {RETRY_AFTER_S} s",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        loop = asyncio.get_running_loop()
        item = _Pending(texts, loop.create_future(), loop.time())
        self._queue.append(item)
        self._queued_texts += len(texts)
        self._on_queue(len(self._queue))
        self._signal()
        timer = loop.call_later(timeout_s, self._expire, item, timeout_s)  # cheaper than wait_for's task
        try:
            return await item.future
        finally:
            timer.cancel()

    def _expire(self, item: _Pending, timeout_s: float) -> None:
        """Deadline of a request: answer it with DeadlineExceeded and drop it from the queue if still there."""
        if item.future.done():
            return
        item.future.set_exception(DeadlineExceeded(f"not scored within {timeout_s:g} s"))
        if item in self._queue:
            self._queue.remove(item)
            self._queued_texts -= len(item.texts)
            self._on_queue(len(self._queue))

    def _signal(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _wait(self, timeout: float | None = None) -> bool:
        """Sleep until something changes (or ``timeout`` passes); True when woken."""
        assert self._wake is not None
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def _collect(self) -> None:
        assert self._slots is not None
        loop = asyncio.get_running_loop()
        while True:
            while not self._queue:
                await self._wait()
            await self._slots.acquire()
            if self._queue:
                until = self._queue[0].enqueued + self.max_delay_s
                while self._queued_texts < self.max_batch_size and self._expected > 0:
                    remaining = until - loop.time()
                    if remaining <= 0 or not await self._wait(remaining):
                        break
            batch = self._take()
            if not batch:
                self._slots.release()
                continue
            texts = [text for item in batch for text in item.texts]
            self._on_batch(len(texts))
            scored = loop.run_in_executor(self._pool, self._score, texts)
            scored.add_done_callback(lambda done, batch=batch: self._deliver(batch, done))

    def _take(self) -> list[_Pending]:
        batch: list[_Pending] = []
        size = 0
        while self._queue:
            item = self._queue[0]
            if batch and size + len(item.texts) > self.max_batch_size:
                break
            self._queue.popleft()
            self._queued_texts -= len(item.texts)
            if not item.future.done():  # a request past its deadline is already answered
                batch.append(item)
                size += len(item.texts)
        self._on_queue(len(self._queue))
        return batch

    def _deliver(self, batch: list[_Pending], done: asyncio.Future) -> None:
        assert self._slots is not None
        self._slots.release()
        self._signal()
        error = done.exception()
        if error is not None:
            logger.error("scoring a batch of %d requests failed", len(batch), exc_info=error)
        start = 0
        for item in batch:
            end = start + len(item.texts)
            if not item.future.done():
                if error is not None:
                    item.future.set_exception(error)
                else:
                    item.future.set_result(done.result()[start:end])
            start = end
