"""Benchmark of the dynamic tape (runtime.Tensor) against PyTorch eager and the plain primal.

    python examples/benchmarks/bench_tape.py

1. A 50-operation scalar function of 3 inputs (+ - * / sin cos exp log tanh sqrt ...): value and gradient
   per call, including making the three leaf tensors and reading their gradients.
2. An MLP, batch 64, 784-128-10, tanh, softmax cross-entropy: loss and gradients of all parameters.

Every figure is the median over repeats, all measured in this one run, float64 on the CPU, with the
machine's default threads; ratios are taken between medians of this run (see /work/shared/NOTES.md for
why). Each system is timed in its own block after a short pause (see median_time). PyTorch is optional:
without it its rows say so. Other processes on the machine make the figures noisy: rerun to compare.
"""
from __future__ import annotations

import math
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
import runtime as rt  # noqa: E402

try:
    import torch
    torch.set_grad_enabled(True)
except ImportError:         # the tape needs no PyTorch; the comparison does
    torch = None


# ---- 1. the scalar function ----------------------------------------------------------------------

def scalar_fn(x, y, z, m):
    """50 operations (counted in the comments); m supplies sin, cos, exp, log, tanh, sqrt."""
    a = x * y + z                       # 2
    b = m.sin(a) * x                    # 4
    c = m.exp(b * 0.1) + y              # 7
    d = m.log(c * c + 1.0)              # 10
    e = m.tanh(d - z) * a               # 13
    f = e * e + b / c                   # 16
    g = m.sin(f) + m.cos(d)             # 19
    h = g * x - y * z                   # 22
    i = m.exp(-(h * h))                 # 25
    j = i + a * b                       # 27
    k = m.tanh(j) * c                   # 29
    l_ = m.log(k * k + 2.0)             # 32
    n = l_ * e + g                      # 34
    o = m.sin(n) * m.cos(a)             # 37
    p = o + m.sqrt(h * h + 1.0)         # 41
    q = m.exp(p * 0.01) * k             # 44
    r = q - l_ + n                      # 46
    return m.tanh(r * r + x) * 2.0      # 50


SCALAR_OPS = 50
POINT = (0.3, 0.7, -0.4)


def tape_scalar(vx, vy, vz):
    x = rt.tensor(vx, requires_grad=True)
    y = rt.tensor(vy, requires_grad=True)
    z = rt.tensor(vz, requires_grad=True)
    out = scalar_fn(x, y, z, rt)
    out.backward()
    return out.item(), x.grad.item(), y.grad.item(), z.grad.item()


def torch_scalar(vx, vy, vz):
    x = torch.tensor(vx, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(vy, dtype=torch.float64, requires_grad=True)
    z = torch.tensor(vz, dtype=torch.float64, requires_grad=True)
    out = scalar_fn(x, y, z, torch)
    out.backward()
    return out.item(), x.grad.item(), y.grad.item(), z.grad.item()


def primal_scalar(vx, vy, vz):
    return scalar_fn(vx, vy, vz, math)


def count_recorded_ops():
    x, y, z = (rt.tensor(v, requires_grad=True) for v in POINT)
    seen, stack = set(), [scalar_fn(x, y, z, rt).grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and node not in seen and type(node).__name__ != "AccumulateGrad":
            seen.add(node)
            stack.extend(n for n, _ in node.next_functions)
    return len(seen)


# ---- 2. the MLP ----------------------------------------------------------------------------------

def mlp_data(seed=20240531):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(64, 784))
    labels = rng.integers(0, 10, size=64)
    params = [rng.normal(size=(784, 128)) * 0.05, np.zeros(128), rng.normal(size=(128, 10)) * 0.1, np.zeros(10)]
    return X, labels, params


def mlp_loss_numpy(X, labels, W1, b1, W2, b2):
    """Written in NumPy: runs on arrays (the primal) and, unchanged, on runtime Tensors (the tape)."""
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    m = np.max(logits, axis=1, keepdims=True)
    logp = logits - m - np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(labels)), labels])


def tape_mlp(X, labels, params):
    ps = [rt.Tensor(p, requires_grad=True) for p in params]
    loss = mlp_loss_numpy(X, labels, *ps)
    loss.backward()
    return loss.item(), [p.grad.numpy() for p in ps]


def torch_mlp(X, labels, params):
    ps = [torch.from_numpy(p).requires_grad_(True) for p in params]
    W1, b1, W2, b2 = ps
    h = torch.tanh(torch.from_numpy(X) @ W1 + b1)
    logits = h @ W2 + b2
    m = logits.amax(dim=1, keepdim=True)
    logp = logits - m - torch.log(torch.exp(logits - m).sum(dim=1, keepdim=True))
    loss = -logp[torch.arange(len(labels)), torch.from_numpy(labels)].mean()
    loss.backward()
    return loss.item(), [p.grad.numpy() for p in ps]


def primal_mlp(X, labels, params):
    return float(mlp_loss_numpy(X, labels, *params))


def handwritten_mlp(X, labels, params):
    """Forward and backward by hand in NumPy: the floor a tape can aim at."""
    W1, b1, W2, b2 = params
    n = len(labels)
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    loss = -np.mean(z[np.arange(n), labels] - np.log(s[:, 0]))
    dlogits = e / s
    dlogits[np.arange(n), labels] -= 1.0
    dlogits /= n
    dh = dlogits @ W2.T
    da = dh * (1.0 - h * h)
    return loss, [X.T @ da, da.sum(axis=0), h.T @ dlogits, dlogits.sum(axis=0)]


# ---- timing --------------------------------------------------------------------------------------

def median_time(fn, args, number, repeat, settle=0.3):
    """Median seconds per call over `repeat` runs of `number` calls, measured as one block after a pause.

    The pause lets the previous block's BLAS/OpenMP worker threads go idle: NumPy's and PyTorch's thread
    pools spin for a while after work and, on a 2-core machine, halve each other's speed otherwise.
    """
    time.sleep(settle)
    fn(*args)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn(*args)
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def main():
    print("Dynamic tape benchmark (float64, CPU; medians of repeats, all from this run)")
    print(f"Python {sys.version.split()[0]}, NumPy {np.__version__}, "
          + (f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else
             "PyTorch not installed: its rows are skipped"))

    # 1. scalar
    recorded = count_recorded_ops()
    expected = primal_scalar(*POINT)
    got = tape_scalar(*POINT)
    assert math.isclose(got[0], expected, rel_tol=1e-12), (got, expected)
    if torch is not None:
        ref = torch_scalar(*POINT)
        assert np.allclose(got, ref, rtol=1e-12, atol=0), (got, ref)
    rows = [("plain primal (math.*)", median_time(primal_scalar, POINT, 20000, 7))]
    rows.append(("runtime.Tensor tape", median_time(tape_scalar, POINT, 1500, 7)))
    if torch is not None:
        rows.append(("PyTorch eager", median_time(torch_scalar, POINT, 500, 7)))
    primal = rows[0][1]
    tape = rows[1][1]
    print(f"\n1. Scalar function: {SCALAR_OPS} operations on 3 inputs ({recorded} recorded by the tape), "
          f"value + gradient per call")
    print(f"   {'system':<24}{'us/call':>10}{'us/op':>9}{'x primal':>10}{'x tape':>9}")
    for name, t in rows:
        print(f"   {name:<24}{t * 1e6:>10.1f}{t * 1e6 / SCALAR_OPS:>9.2f}{t / primal:>10.1f}{t / tape:>9.2f}")
    if torch is None:
        print("   PyTorch eager            (skipped: torch is not installed)")
    else:
        print("   gradients agree with PyTorch to 1e-12")

    # 2. MLP
    X, labels, params = mlp_data()
    loss, grads = tape_mlp(X, labels, params)
    hand_loss, hand_grads = handwritten_mlp(X, labels, params)
    assert np.isclose(loss, hand_loss) and all(np.allclose(a, b) for a, b in zip(grads, hand_grads))
    rows = [("NumPy primal (loss only)", median_time(primal_mlp, (X, labels, params), 40, 7)),
            ("NumPy hand-written grad", median_time(handwritten_mlp, (X, labels, params), 40, 7)),
            ("runtime.Tensor tape", median_time(tape_mlp, (X, labels, params), 40, 7))]
    if torch is not None:
        t_loss, t_grads = torch_mlp(X, labels, params)
        assert np.isclose(loss, t_loss) and all(np.allclose(a, b) for a, b in zip(grads, t_grads))
        rows.append(("PyTorch eager", median_time(torch_mlp, (X, labels, params), 40, 7)))
    primal = rows[0][1]
    tape = rows[2][1]
    print("\n2. MLP 64x784-128-10, tanh, softmax cross-entropy: loss + all gradients per call")
    print(f"   {'system':<26}{'ms/call':>9}{'x primal':>10}{'x tape':>9}")
    for name, t in rows:
        print(f"   {name:<26}{t * 1e3:>9.3f}{t / primal:>10.2f}{t / tape:>9.2f}")
    if torch is None:
        print("   PyTorch eager              (skipped: torch is not installed)")
    else:
        print("   gradients agree with the hand-written ones and with PyTorch")


if __name__ == "__main__":
    main()
