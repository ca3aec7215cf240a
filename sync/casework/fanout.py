"""Ordered work on several cores: tasks dealt round-robin to this process and forked children, their results
handed back in task order. One Python process computes on one core; `plan --json` over a million claims is
CPU-bound, and its output must come out in claim order, the same bytes as from one process.

A child gets its tasks by fork (no pickling, no second start-up) and sends each result through its own pipe as it
is done; a pipe holds little, so a child is at most a task ahead of the parent reading it, and memory stays that of
one task per process. Results are bytes: the parent writes a child's as they come, without decoding them.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TypeVar

Task = TypeVar("Task")


def usable_cpus() -> int:
    """The cores this process may run on (its affinity mask: a container or `taskset` may allow fewer)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _serve(tasks: Sequence[Task], work: Callable[[Task], bytes], start: int, step: int, pipe: Connection,
           forked: Callable[[], None]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops the children
    forked()
    for task in tasks[start::step]:
        pipe.send_bytes(work(task))
    pipe.close()


def in_order(tasks: Sequence[Task], work: Callable[[Task], bytes], *, processes: int,
             forked: Callable[[], None] = lambda: None) -> Iterator[bytes]:
    """`map(work, tasks)`, task i done by process i % `processes` (this one is process 0); `forked` runs first
    in each child (drop connections inherited from the parent, say). Flush buffered output before: a child flushes
    what it inherited when it ends. A failed child raises RuntimeError here, with its traceback on stderr."""
    processes = max(1, min(processes, len(tasks)))
    if processes == 1:
        yield from map(work, tasks)
        return
    context = multiprocessing.get_context("fork")
    children: list[tuple[BaseProcess, Connection]] = []
    try:
        for start in range(1, processes):
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=_serve, args=(tasks, work, start, processes, sender, forked),
                                      name=f"mahnwerk-worker-{start}", daemon=True)
            process.start()
            sender.close()  # the child's end: EOF here once the child is gone
            children.append((process, receiver))
        for index, task in enumerate(tasks):
            if index % processes == 0:
                yield work(task)
                continue
            child, receiver = children[index % processes - 1]
            try:
                yield receiver.recv_bytes()
            except EOFError:
                child.join()
                raise RuntimeError(f"worker process {child.name} ended early (exit code {child.exitcode})") from None
    except BaseException:
        for child, _ in children:
            child.terminate()  # a reader that stopped early (an error, a closed stdout): the rest is not wanted
        raise
    finally:
        for child, receiver in children:
            receiver.close()
            child.join()
