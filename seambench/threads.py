"""How many threads torch may use: one per CPU this process may run on, or ``$SEAMBENCH_TORCH_THREADS``.

torch's own default counts the machine's cores, not the CPUs a container or ``taskset`` allows, and
more compute threads than CPUs makes every forward pass slower (threads wait on each other).
"""

from __future__ import annotations

import os

from seambench.errors import SeambenchError

ENV = "SEAMBENCH_TORCH_THREADS"
_configured: int | None = None


def available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def torch_threads() -> int:
    """The thread count to use: the override when set, else the CPUs available to this process."""
    text = os.environ.get(ENV, "").strip()
    if not text:
        return available_cpus()
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise SeambenchError(f"${ENV}={text!r}: give a whole number of threads, at least 1")
    return n


def configure_torch() -> int:
    """Set torch's intra-op thread count once per process (again only if the override changed)."""
    global _configured
    import torch

    n = torch_threads()
    if n != _configured:
        torch.set_num_threads(n)
        _configured = n
    return n
