"""Loop workload: a 100-iteration scalar recurrence, value and gradient, ratios measured in one run.

    python examples/benchmarks/bench_loop.py

    h = tanh(w * h + b); total += h * h      (100 iterations, gradient w.r.t. w and b)

Reports medians of repeated timings in one run: the plain loop, our `value_and_grad`, a
hand-written backward loop, peers when installed (jax.jit of value_and_grad, PyTorch eager); then
the memory a 1,000,000-iteration loop keeps for its reverse pass (tracemalloc peak, bytes per
iteration), against the primal's.
"""
from __future__ import annotations

import math
import os
import sys
import tracemalloc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from compiler import value_and_grad  # noqa: E402
from timing import interleaved  # noqa: E402


def recurrence(w, b, n=100):
    h = 0.0
    total = 0.0
    for i in range(n):
        h = math.tanh(w * h + b)
        total += h * h
    return total


def hand_written(w, b, n=100):
    hs = []
    h = 0.0
    total = 0.0
    for _ in range(n):
        hs.append(h)
        h = math.tanh(w * h + b)
        total += h * h
    dh = 0.0
    dw = db = 0.0
    for k in range(n - 1, -1, -1):
        h_prev = hs[k]
        h_new = math.tanh(w * h_prev + b) if k == n - 1 else hs[k + 1]
        dh_new = dh + 2.0 * h_new
        dpre = dh_new * (1.0 - h_new * h_new)
        dw += dpre * h_prev
        db += dpre
        dh = dpre * w
    return total, (dw, db)


def main():
    args = (0.8, 0.1)
    vg = value_and_grad(recurrence, wrt=(0, 1))
    v1, g1 = vg(*args)
    v2, g2 = hand_written(*args)
    assert abs(v1 - v2) < 1e-9 and all(abs(p - q) < 1e-9 for p, q in zip(g1, g2)), (g1, g2)
    systems = {"plain Python primal": lambda: recurrence(*args),
               "sourcead value_and_grad": lambda: vg(*args),
               "hand-written backward loop": lambda: hand_written(*args)}
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        def rec_jax(w, b):
            h = 0.0
            total = 0.0
            for _ in range(100):
                h = jnp.tanh(w * h + b)
                total += h * h
            return total

        jvg = jax.jit(jax.value_and_grad(rec_jax, argnums=(0, 1)))
        systems["jax.jit(value_and_grad)"] = lambda: jvg(*args)[0].block_until_ready()
    except ImportError:
        print("(jax not installed: skipped; pip install -e .[bench])")
    try:
        import torch

        def rec_torch(w, b):
            wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
            bt = torch.tensor(b, dtype=torch.float64, requires_grad=True)
            h = torch.zeros((), dtype=torch.float64)
            total = torch.zeros((), dtype=torch.float64)
            for _ in range(100):
                h = torch.tanh(wt * h + bt)
                total = total + h * h
            total.backward()
            return total.item(), (wt.grad.item(), bt.grad.item())

        systems["PyTorch eager"] = lambda: rec_torch(*args)
    except ImportError:
        print("(torch not installed: skipped; pip install -e .[bench])")
    rows = list(interleaved(systems).items())
    primal = rows[0][1]

    print("\nRecurrence, 100 iterations, value and gradient w.r.t. (w, b); all systems timed in the "
          "same interleaved rounds, medians")
    print(f"{'':32} {'µs/call':>10} {'x primal':>10}")
    ours = rows[1][1]
    for name, t in rows:
        print(f"{name:32} {t * 1e6:10.1f} {t / primal:10.2f}")
    for name, t in rows[2:]:
        print(f"{'sourcead speed-up over ' + name:48} {t / ours:8.1f}x")

    n = 1_000_000
    tracemalloc.start()
    recurrence(*args, n)
    _, primal_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    vg(*args, n)
    _, grad_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"\n1,000,000 iterations: primal peak {primal_peak / 1e6:.2f} MB, gradient peak "
          f"{grad_peak / 1e6:.1f} MB = {grad_peak / n:.0f} bytes per iteration kept for the reverse pass")


if __name__ == "__main__":
    main()
