"""Where the codec's work runs: tiles on a thread pool, torch held to one thread per tile.

Kept apart from ``_codec`` because it is about the process, not the format: how many
workers, which torch settings they need for files to decode the same everywhere, and
how the caller's settings come back afterwards. torch is imported only inside the
functions that use it, so that importing this module (the CLI does, for
``default_workers``) costs nothing.

A codec call is given ``workers`` threads; tiles take them first. A worker that has
no tile left lends itself to the tiles still running (``spare_threads``, ``run_all``):
a one-tile image, or the large last tile of an uneven grid, then runs each network
pass in row bands on two threads (pillow_l3c/tile_coders/polyphase_rows.py). Every thread
still runs torch with one intra-op thread, so no OpenMP pool ever starts and a fork
after a decode stays safe.
"""

from __future__ import annotations

import itertools
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


class _Budget:
    """The threads of one codec call: how many are coding (a tile or a lent band),
    and the helper threads that lent work runs on (started on first use)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.busy = 0
        self.lock = threading.Lock()
        self.helpers: ThreadPoolExecutor | None = None

    def start(self) -> None:
        """A tile starts (it always may: lent threads come back within a pass)."""
        with self.lock:
            self.busy += 1

    def borrow(self, most: int) -> int:
        """Up to ``most`` idle threads, counted busy until ``give_back``."""
        with self.lock:
            got = max(0, min(most, self.total - self.busy))
            self.busy += got
            if got and self.helpers is None:
                self.helpers = ThreadPoolExecutor(self.total - 1, thread_name_prefix="l3c-band")
            return got

    def give_back(self, count: int) -> None:
        with self.lock:
            self.busy -= count

    def close(self) -> None:
        if self.helpers is not None:
            self.helpers.shutdown(wait=True)


_local = threading.local()


def _budgeted(fn: Callable[[T], R], budget: _Budget) -> Callable[[T], R]:
    """``fn`` counted busy on ``budget`` while it runs, and able to borrow from it."""

    def run(item: T) -> R:
        saved = getattr(_local, "budget", None)
        _local.budget = budget
        budget.start()
        try:
            return fn(item)
        finally:
            budget.give_back(1)
            _local.budget = saved

    return run


@contextmanager
def spare_threads(most: int = 1) -> Iterator[int]:
    """How many threads (at most ``most``) of this codec call are idle and lent to the
    calling tile for one step; 0 outside a codec call's tile or when all are coding.

    Lending is decided per step (one network pass), so a worker that finds a new tile
    to code gets its thread back within a pass rather than at the end of a tile."""
    budget: _Budget | None = getattr(_local, "budget", None)
    got = budget.borrow(most) if budget is not None else 0
    try:
        yield got
    finally:
        if got:
            assert budget is not None
            budget.give_back(got)


def run_all(tasks: list[Callable[[], R]], lent: int) -> list[R]:
    """Each task's result, in order: the first ``lent`` on the helper threads of this
    codec call (``lent`` as ``spare_threads`` gave it), the rest in this thread.

    The helpers run torch as a worker does (``in_worker``): one intra-op thread, no
    autograd, no TorchScript profiling."""
    budget: _Budget | None = getattr(_local, "budget", None)
    if not lent or budget is None or budget.helpers is None:
        return [task() for task in tasks]
    step = in_worker(lambda task: task())
    futures = [budget.helpers.submit(step, task) for task in tasks[:lent]]
    mine = [task() for task in tasks[lent:]]
    return [f.result() for f in futures] + mine


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """fn over items on ``workers`` threads, results in order, at most 2 x workers in flight
    (so memory stays bounded by tiles, not by the image). A single item runs in the
    calling thread (a pool for one tile costs more than small images take); either way
    the threads that no item keeps busy are lent to those that run (``spare_threads``)."""
    if workers <= 1:
        yield from map(fn, items)
        return
    budget = _Budget(workers)
    work = _budgeted(fn, budget)
    it = iter(items)
    head = list(itertools.islice(it, 2))
    try:
        if len(head) < 2:
            yield from map(work, head)
            return
        yield from _pooled(work, itertools.chain(head, it), workers)
    finally:
        budget.close()


def _pooled(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
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
