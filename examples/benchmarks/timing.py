"""Timing for the benchmarks: every system measured in the same rounds, interleaved, so a change in
machine load between two measurements touches all of them alike; medians over the rounds."""
from __future__ import annotations

import statistics
import time


def interleaved(systems, rounds=15, target=0.02):
    """{name: seconds per call (median over rounds)} for {name: zero-argument callable}."""
    numbers = {}
    for name, fn in systems.items():
        fn()  # warm up (and compile)
        start = time.perf_counter()
        fn()
        once = max(time.perf_counter() - start, 1e-7)
        numbers[name] = max(1, int(target / once))
    samples = {name: [] for name in systems}
    for _ in range(rounds):
        for name, fn in systems.items():
            n = numbers[name]
            start = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - start) / n)
    return {name: statistics.median(s) for name, s in samples.items()}
