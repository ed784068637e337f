"""How many threads torch may use: as many as there are idle cores when a command starts, at least one.

Why: torch's intra-op threads wait for each other at the end of every parallel region. When another process holds
a core, the thread scheduled there arrives late at each of those many small regions, and the whole call waits.
Measured on 2 cores with one kept busy by another process: one training epoch of the demo's potential took 46.5 s
with torch's default 2 threads and 16.4 s with 1 thread (idle: 15.2 s vs 18.2 s). ``benchmarks/threads_under_load.py``
measures this rule against fixed thread counts, idle and under load.

The rule: sample the machine's CPU time for a fraction of a second (Linux ``/proc/stat``; elsewhere the 1-minute
load average), count the cores nobody else is using, and use that many threads (at least 1). An explicit choice
wins: ``scisft --threads N`` or the ``OMP_NUM_THREADS`` variable. The choice is made when a command starts (the
demo: before each part), never in the middle of a training run, so a resumed run uses one thread count throughout
its epochs as long as the machine's state is the same.
"""

from __future__ import annotations

import os
import time

SAMPLE_S = 0.3
HEADROOM = 0.2  # an idle-core count of 1.8 or more counts as 2: short bursts of other work do not cost a thread


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _cpu_times() -> tuple[float, float] | None:
    """(busy, total) jiffies over all cores from /proc/stat, or None where there is no such file."""
    try:
        with open("/proc/stat") as handle:
            fields = [float(x) for x in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def idle_cores(sample_s: float = SAMPLE_S) -> float:
    """Cores not used by other processes, measured over ``sample_s`` seconds (this process is idle meanwhile)."""
    cores = available_cores()
    first = _cpu_times()
    if first is None:
        return max(cores - os.getloadavg()[0], 0.0) if hasattr(os, "getloadavg") else float(cores)
    time.sleep(sample_s)
    second = _cpu_times()
    machine = os.cpu_count() or cores
    busy = (second[0] - first[0]) / max(second[1] - first[1], 1e-9) * machine  # cores busy, whole machine
    return max(min(cores, machine - busy), 0.0)


def choose_threads(requested: int | None = None) -> tuple[int, str]:
    """The thread count to use and why (for the log): ``requested`` if given, else ``OMP_NUM_THREADS`` if set,
    else the idle cores now (at least 1)."""
    if requested:
        return requested, "asked for with --threads"
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env), "OMP_NUM_THREADS"
    idle = idle_cores()
    n = max(1, min(available_cores(), int(idle + HEADROOM)))
    return n, f"{idle:.1f} of {available_cores()} cores idle"


def apply_thread_rule(requested: int | None = None) -> str:
    """Set torch's intra-op threads by ``choose_threads``; returns a one-line account of the choice."""
    import torch

    n, why = choose_threads(requested)
    torch.set_num_threads(n)
    return f"using {n} thread{'s' * (n > 1)} ({why})"
