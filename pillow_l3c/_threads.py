"""Where the codec's work runs: tiles on a thread pool, torch held to one thread per tile.

Kept apart from ``_codec`` because it is about the process, not the format: how many
workers, which torch settings they need for files to decode the same everywhere, and
how the caller's settings come back afterwards. torch is imported only inside the
functions that use it, so that importing this module (the CLI does, for
``default_workers``) costs nothing.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_threads_lock = threading.Lock()
_threads_users = 0
_threads_saved = 1
_precision_saved = "highest"


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch ops with one intra-op thread, in full float32 precision, for the
    duration of a codec call.

    Tiles supply the parallelism, and a float kernel's result can depend on how many
    threads split it (a float model's 1x1 convolution differed in its 6th digit between
    1 and 2 threads), so a fixed count of one keeps files decodable whatever the worker
    count. One thread also keeps forking safe: a process whose OpenMP pool has run
    cannot fork a child that uses it (GNU OpenMP hangs; ``test_process_pools`` hung
    when a one-tile image was given two intra-op threads, though they were 1.4 times as
    fast). The caller's setting is restored when the last concurrent codec call ends.
    """
    import torch

    global _threads_users, _threads_saved, _precision_saved
    with _threads_lock:
        if _threads_users == 0:
            _threads_saved = torch.get_num_threads()
            torch.set_num_threads(1)
            # Full float32 precision: a caller's "medium" would let oneDNN round the
            # exact model's integer sums to bfloat16.
            _precision_saved = torch.get_float32_matmul_precision()
            torch.set_float32_matmul_precision("highest")
        _threads_users += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0:
                torch.set_num_threads(_threads_saved)
                torch.set_float32_matmul_precision(_precision_saved)


def in_worker(fn: Callable[[T], R]) -> Callable[[T], R]:
    """``fn`` for a pool thread: one torch thread (OpenMP keeps the count per thread),
    no autograd, and no TorchScript profiling (the profiling executor re-optimizes for
    every new shape, a cost that a one-off encode pays in full)."""

    def run(item: T) -> R:
        import torch

        torch.set_num_threads(1)
        with torch.inference_mode(), torch.jit.optimized_execution(False):
            return fn(item)

    return run


def default_workers(device: str | None = None) -> int:
    """One worker per core the process may use; two on a GPU, so that the CPU coder of
    one tile overlaps the network of the next."""
    if device and device.startswith("cuda"):
        return 2
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """fn over items on ``workers`` threads, results in order, at most 2 x workers in flight
    (so memory stays bounded by tiles, not by the image). One worker runs in the
    calling thread: a pool for a single tile costs more than small images take."""
    if workers <= 1:
        yield from map(fn, items)
        return
    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="l3c")
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
