"""How many CPUs this process may run on: the one count that thread and worker defaults start from."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """The CPUs in this process's affinity mask (a container's or ``taskset``'s limit), else the machine's; >= 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
