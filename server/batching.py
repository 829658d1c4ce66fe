"""Micro-batching: concurrent requests share one model call.

Each request submits its model input and awaits its own answer (a row of
probabilities, a Prediction: whatever the batched function returns per input).
A single worker task takes the first waiting input, gathers more for at most
`max_wait` seconds (or until `max_size`), runs one batched call, and answers
everyone. While a call runs, new requests queue up, so batches grow with the load
by themselves.

The call runs in a thread, so a slow model (Keras, a 224x224 network) never stalls
the event loop; or, with `inline=True`, on the event loop itself, for models that
answer a whole batch in a few milliseconds: there the thread hand-off, and the waits
for the GIL it brings, cost more than the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


@dataclass(frozen=True)
class BatchResult(Generic[T]):
    value: T  # this input's row of the batched call's answer
    batch_size: int
    queue_ms: float
    inference_ms: float


class MicroBatcher(Generic[T]):
    """`fn` maps a stacked (N, ...) batch to a sequence of N answers, one per input."""

    def __init__(
        self,
        fn: Callable[[np.ndarray], Sequence[T]],
        max_size: int = 64,
        max_wait_s: float = 0.002,
        on_batch: Callable[[int, float], None] | None = None,
        inline: bool = False,
    ):
        self._fn = fn
        self._inline = inline
        self._max_size = max_size
        self._max_wait = max_wait_s
        self._on_batch = on_batch
        self._queue: asyncio.Queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batcher")
        self._task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, x: np.ndarray) -> BatchResult[T]:
        """Queue one model input; return its answer once its batch has run."""
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((x, future, time.perf_counter()))
        return await future

    async def _gather(self) -> list:
        batch = [await self._queue.get()]
        deadline = time.perf_counter() + self._max_wait
        while len(batch) < self._max_size:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._gather()
            live = [item for item in batch if not item[1].done()]  # skip cancelled clients
            if not live:
                continue
            try:
                x = np.stack([item[0] for item in live])
                start = time.perf_counter()
                if self._inline:
                    answers = self._fn(x)
                else:
                    answers = await loop.run_in_executor(self._executor, self._fn, x)
                ms = (time.perf_counter() - start) * 1e3
                results = [
                    BatchResult(a, len(live), (start - queued) * 1e3, ms)
                    for (_, _, queued), a in zip(live, answers, strict=True)
                ]
                if self._on_batch:
                    self._on_batch(len(live), ms / 1e3)
            except Exception as exc:  # answer everyone with the error, keep serving
                for _, future, _ in live:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future, _), result in zip(live, results, strict=True):
                if not future.done():
                    future.set_result(result)
