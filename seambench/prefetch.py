"""Decode the next batch of images while the current one is embedded.

Decoding (PIL, numpy) releases the GIL, so one helper thread overlaps it with the forward pass.
At most two decoded batches exist at a time: the one being embedded and the one being read.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterator, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def batches(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def prefetched(chunks: Sequence[Sequence[T]], load: Callable[[Sequence[T]], R]) -> Iterator[tuple[Sequence[T], R]]:
    """Yield ``(chunk, load(chunk))`` in order, loading chunk i+1 in a thread while i is consumed."""
    if not chunks:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="seambench-decode") as pool:
        pending: Future[R] = pool.submit(load, chunks[0])
        for i, chunk in enumerate(chunks):
            loaded = pending.result()
            if i + 1 < len(chunks):
                pending = pool.submit(load, chunks[i + 1])
            yield chunk, loaded
            del loaded  # the consumer is done with it before the next one is handed over
