"""The generated gradient on data larger than memory: least squares over 3e8 rows on Dask.

    python examples/benchmarks/dask_scale.py [--rows 3e8] [--chunk 500000] [--workers 2]

The data (rows x 10 float64, 24 GB at 3e8 rows, and its targets) is generated lazily, chunk by
chunk, by dask.array.random on a dask.distributed LocalCluster of worker processes; it never exists
whole. Measured, from one run each (not asserted; not part of run.py or CI):
- the primal: the loss alone, computed on the cluster;
- the gradient: `value_and_grad(loss)` on the Dask arrays (lazy, no compute), then one
  dask.compute of the loss and the gradient together (the forward pass shared);
- the peak memory of the whole process tree (this process, the scheduler in it, the workers and
  their nannies): the sum of their resident sizes, sampled every 0.1 s with psutil.
The gradient is checked against the closed form 2/n X^T (Xw - y), computed by Dask too.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

import dask  # noqa: E402
import dask.array as da  # noqa: E402
import psutil  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

from compiler import value_and_grad  # noqa: E402


def loss(w, X, y):
    r = X @ w - y
    return np.mean(r * r)


class PeakMemory:
    """The largest sum of resident sizes of this process and all its descendants, sampled every
    `every` seconds on a thread."""

    def __init__(self, every=0.1):
        self.every, self.peak, self._stop = every, 0, threading.Event()
        self.me = psutil.Process(os.getpid())

    def sample(self):
        total = 0
        for p in [self.me] + self.me.children(recursive=True):
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass  # a process that just ended
        return total

    def run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.sample())
            self._stop.wait(self.every)

    def __enter__(self):
        self.peak = self.sample()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=3e8)
    parser.add_argument("--cols", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=500_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rows, cols = int(args.rows), args.cols

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client, \
            PeakMemory() as memory:
        rng = da.random.default_rng(0)
        X = rng.standard_normal((rows, cols), chunks=(args.chunk, cols))
        w_true = np.arange(1.0, cols + 1)
        y = X @ w_true + 0.1 * rng.standard_normal(rows, chunks=args.chunk)
        w = np.zeros(cols)
        print(f"{rows:.3g} rows x {cols} float64 = {rows * cols * 8 / 1e9:.1f} GB of data, "
              f"{X.numblocks[0]} chunks of {args.chunk} rows; {args.workers} worker processes "
              f"x 1 thread; baseline memory {memory.sample() / 1e9:.2f} GB")

        start = time.perf_counter()
        primal = loss(w, X, y).compute()
        t_primal = time.perf_counter() - start
        print(f"primal (the loss alone):      {t_primal:8.1f} s   loss {primal:.6g}")

        f = value_and_grad(loss, cache=False)
        start = time.perf_counter()
        value, dw = f(w, X, y)       # builds the lazy version: no compute
        t_build = time.perf_counter() - start
        start = time.perf_counter()
        value, dw = dask.compute(value, dw)
        t_grad = time.perf_counter() - start
        print(f"value_and_grad, built in {t_build:.2f} s; computed in "
              f"{t_grad:8.1f} s = {t_grad / t_primal:.2f}x the primal")

        expected = (2 / rows) * (X.T @ (X @ w - y))
        start = time.perf_counter()
        expected = expected.compute()
        t_hand = time.perf_counter() - start
        error = np.max(np.abs(dw - expected)) / np.max(np.abs(expected))
        print(f"closed form 2/n X^T(Xw - y) alone: {t_hand:.1f} s; relative difference "
              f"{error:.2e}; loss equal: {np.isclose(value, primal, rtol=1e-9)}")
        client.close()
    print(f"peak memory of the process tree (client, scheduler, workers, nannies): "
          f"{memory.peak / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
