"""Timing for the benchmarks: systems measured in the same rounds, interleaved, so a change in machine
load between two measurements touches all of them alike; medians over the rounds.

Where two libraries' thread pools could slow each other when calls alternate (array code), a peer is
timed in a block of its own against an anchor (the primal) and put on the common scale through its
ratio to that anchor (`against`)."""
from __future__ import annotations

import statistics
import time


class Plan:
    """How long to measure: rounds of interleaved samples, each about `target` seconds long."""

    def __init__(self, rounds, target, settle):
        self.rounds, self.target, self.settle = rounds, target, settle


FULL = Plan(rounds=21, target=0.03, settle=0.3)
QUICK = Plan(rounds=7, target=0.01, settle=0.1)
SMOKE = Plan(rounds=1, target=0.0, settle=0.0)  # one call each: for tests of the command itself


def interleaved(systems, plan=FULL):
    """{name: seconds per call (median over rounds)} for {name: zero-argument callable}."""
    numbers = {}
    for name, fn in systems.items():
        fn()  # warm up
        start = time.perf_counter()
        fn()
        once = max(time.perf_counter() - start, 1e-7)
        numbers[name] = max(1, int(plan.target / once))
    samples = {name: [] for name in systems}
    for _ in range(plan.rounds):
        for name, fn in systems.items():
            n = numbers[name]
            start = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - start) / n)
    return {name: statistics.median(s) for name, s in samples.items()}


def against(anchor, peer, plan=FULL):
    """peer's time / anchor's time, the two timed alone together after a pause (idle thread pools)."""
    time.sleep(plan.settle)
    times = interleaved({"anchor": anchor, "peer": peer}, plan)
    return times["peer"] / times["anchor"]
