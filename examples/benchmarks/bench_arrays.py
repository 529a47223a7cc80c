"""Array workloads: gradient time / primal time, and against peers, measured in one run.

    python examples/benchmarks/bench_arrays.py          (pip install -e ".[bench]" for the peers)

A1  MLP, batch 64, 784-128-10, tanh, softmax cross-entropy; gradient w.r.t. all four weights
A2  1,000,000 elements: sum(sin(x) * exp(-x**2) + log1p(x**2)); gradient w.r.t. x
A3  logistic regression 10000 x 100 with L2; gradient w.r.t. (w, b)
A4  Gaussian-process negative log marginal likelihood, 500 points, squared-exponential kernel, with
    np.linalg.cholesky, solve and slogdet; gradient w.r.t. the three log hyperparameters
A5  a self-attention layer written with np.einsum (batch 8, 64 tokens, width 32); gradient w.r.t.
    the three projection matrices

Each figure is the median of repeated timings in this run (float64, CPU); the primal and ours are
timed in the same interleaved rounds, each peer in a block of its own against the primal (their
thread pools and NumPy's slow each other when calls alternate), and its time is put on the same
scale through its ratio to the primal. Peers that are not installed are skipped and named. Peak memory of A2's gradient is tracemalloc's peak, against the
primal's peak.
"""
from __future__ import annotations

import math
import os
import sys
import time
import tracemalloc
import types

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from compiler import value_and_grad  # noqa: E402
from timing import interleaved  # noqa: E402


def mlp_loss(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    top = np.max(logits, axis=1, keepdims=True)
    shifted = logits - top
    log_norm = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum((shifted - log_norm) * Y) / X.shape[0]


def elementwise(x):
    return np.sum(np.sin(x) * np.exp(-x ** 2) + np.log1p(x ** 2))


def logreg(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z) + 1e-3 * np.sum(w * w)


def gp_nll(log_ell, log_sf, log_sn, X, y):
    sq = np.sum(X * X, axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (X @ X.T)
    K = np.exp(2.0 * log_sf) * np.exp(-0.5 * d2 / np.exp(2.0 * log_ell)) \
        + np.exp(2.0 * log_sn) * np.eye(len(y))
    L = np.linalg.cholesky(K)
    z = np.linalg.solve(L, y)
    sign, logdet = np.linalg.slogdet(K)
    return 0.5 * (z @ z) + 0.5 * logdet + 0.5 * len(y) * np.log(2.0 * np.pi)


def attention(Wq, Wk, Wv, X):
    Q = X @ Wq
    K = X @ Wk
    V = X @ Wv
    s = np.einsum("bqd,bkd->bqk", Q, K) / np.sqrt(Q.shape[-1])
    s = s - np.max(s, axis=-1, keepdims=True)
    p = np.exp(s)
    p = p / np.sum(p, axis=-1, keepdims=True)
    out = np.einsum("bqk,bkd->bqd", p, V)
    return np.sum(out * out)


def workloads():
    rng = np.random.default_rng(0)
    a1 = ([rng.normal(0, 0.05, (784, 128)), np.zeros(128), rng.normal(0, 0.1, (128, 10)),
           np.zeros(10), rng.normal(size=(64, 784)), np.eye(10)[rng.integers(0, 10, 64)]], (0, 1, 2, 3))
    a2 = ([rng.normal(size=1_000_000)], (0,))
    X = rng.normal(size=(10_000, 100))
    a3 = ([rng.normal(size=100) * 0.1, 0.1, X, (X @ rng.normal(size=100) > 0).astype(float)], (0, 1))
    Xg = rng.uniform(-3.0, 3.0, size=(500, 2))
    yg = np.sin(Xg[:, 0]) * np.cos(Xg[:, 1]) + 0.1 * rng.normal(size=500)
    a4 = ([0.0, 0.0, np.log(0.1), Xg, yg], (0, 1, 2))
    a5 = ([rng.normal(0, 0.2, (32, 32)), rng.normal(0, 0.2, (32, 32)), rng.normal(0, 0.2, (32, 32)),
           rng.normal(size=(8, 64, 32))], (0, 1, 2))
    return {"A1 MLP": (mlp_loss, *a1), "A2 elementwise 1e6": (elementwise, *a2),
            "A3 logistic 10000x100": (logreg, *a3), "A4 GP 500 (linalg)": (gp_nll, *a4),
            "A5 attention (einsum)": (attention, *a5)}


def torch_version(name):
    import torch
    # PyTorch's own thread pool and NumPy's OpenBLAS threads spin against each other on a small
    # machine (A1 measured 30 ms instead of under 1 ms); one PyTorch thread measures PyTorch itself.
    torch.set_num_threads(1)

    def run(fn_args, wrt):
        ts = [torch.tensor(a, dtype=torch.float64, requires_grad=(i in wrt)) if
              isinstance(a, np.ndarray) or i in wrt else a for i, a in enumerate(fn_args)]
        if name.startswith("A1"):
            W1, b1, W2, b2, X, Y = ts
            h = torch.tanh(X @ W1 + b1)
            logits = h @ W2 + b2
            top = torch.amax(logits, dim=1, keepdim=True)
            shifted = logits - top
            log_norm = torch.log(torch.sum(torch.exp(shifted), dim=1, keepdim=True))
            out = -torch.sum((shifted - log_norm) * Y) / X.shape[0]
        elif name.startswith("A2"):
            (x,) = ts
            out = torch.sum(torch.sin(x) * torch.exp(-x ** 2) + torch.log1p(x ** 2))
        elif name.startswith("A4"):
            log_ell, log_sf, log_sn, X, y = [t if isinstance(t, torch.Tensor) else
                                             torch.tensor(t, dtype=torch.float64) for t in ts]
            sq = torch.sum(X * X, dim=1)
            d2 = sq[:, None] + sq[None, :] - 2.0 * (X @ X.T)
            K = torch.exp(2.0 * log_sf) * torch.exp(-0.5 * d2 / torch.exp(2.0 * log_ell)) \
                + torch.exp(2.0 * log_sn) * torch.eye(len(y), dtype=torch.float64)
            L = torch.linalg.cholesky(K)
            z = torch.linalg.solve(L, y)
            sign, logdet = torch.linalg.slogdet(K)
            out = 0.5 * (z @ z) + 0.5 * logdet + 0.5 * len(y) * math.log(2.0 * math.pi)
        elif name.startswith("A5"):
            Wq, Wk, Wv, X = ts
            Q, K, V = X @ Wq, X @ Wk, X @ Wv
            s = torch.einsum("bqd,bkd->bqk", Q, K) / math.sqrt(Q.shape[-1])
            s = s - torch.amax(s, dim=-1, keepdim=True)
            p = torch.exp(s)
            p = p / torch.sum(p, dim=-1, keepdim=True)
            o = torch.einsum("bqk,bkd->bqd", p, V)
            out = torch.sum(o * o)
        else:
            w, b, X, y = ts
            z = X @ w + b
            out = torch.mean(torch.logaddexp(torch.zeros((), dtype=torch.float64), z) - y * z) \
                + 1e-3 * torch.sum(w * w)
        out.backward()
        return out.item(), [ts[i].grad for i in wrt]
    return run


def jax_version(name, fn):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    if name.startswith("A1"):
        def f(W1, b1, W2, b2, X, Y):
            h = jnp.tanh(X @ W1 + b1)
            logits = h @ W2 + b2
            top = jnp.max(logits, axis=1, keepdims=True)
            shifted = logits - top
            log_norm = jnp.log(jnp.sum(jnp.exp(shifted), axis=1, keepdims=True))
            return -jnp.sum((shifted - log_norm) * Y) / X.shape[0]
    elif name.startswith("A2"):
        def f(x):
            return jnp.sum(jnp.sin(x) * jnp.exp(-x ** 2) + jnp.log1p(x ** 2))
    elif name.startswith("A4") or name.startswith("A5"):
        f = types.FunctionType(fn.__code__, {**fn.__globals__, "np": jnp}, fn.__name__)
    else:
        def f(w, b, X, y):
            z = X @ w + b
            return jnp.mean(jnp.logaddexp(0.0, z) - y * z) + 1e-3 * jnp.sum(w * w)
    return jax, f


def _torch_runner(name, fn, args, wrt):
    run = torch_version(name)
    return lambda: run(args, wrt)


def _jax_runner(name, fn, args, wrt):
    jax, jf = jax_version(name, fn)
    jvg = jax.jit(jax.value_and_grad(jf, argnums=wrt))
    jvg(*args)[0].block_until_ready()
    return lambda: jvg(*args)[0].block_until_ready()


def _autograd_runner(name, fn, args, wrt):
    import autograd
    import autograd.numpy as anp
    ag_fn = types.FunctionType(fn.__code__, {**fn.__globals__, "np": anp}, fn.__name__)
    agvg = autograd.value_and_grad(ag_fn, argnum=wrt)  # the same source on autograd's NumPy
    return lambda: agvg(*args)


def main():
    rows = []
    a2_memory = None
    for name, (fn, args, wrt) in workloads().items():
        vg = value_and_grad(fn, wrt=wrt)
        vg(*args)
        primal = lambda: fn(*args)  # noqa: E731
        # Primal and ours first, before any peer has started a thread pool; then each peer in a
        # block of its own against the primal (NumPy's and PyTorch's or XLA's thread pools slow
        # each other when calls alternate), after a pause; its time is put on the primal's scale.
        row = {"name": name, "torch": None, "jax": None, "autograd": None}
        row.update(interleaved({"primal": primal, "ours": lambda: vg(*args)}, rounds=9,
                               target=0.05))
        for peer, make in (("torch", _torch_runner), ("jax", _jax_runner),
                           ("autograd", _autograd_runner)):
            try:
                run = make(name, fn, args, wrt)
            except ImportError:
                continue
            time.sleep(0.5)
            block = interleaved({"primal": primal, peer: run}, rounds=9, target=0.05)
            row[peer] = block[peer] / block["primal"] * row["primal"]
        rows.append(row)
        if name.startswith("A2"):
            tracemalloc.start()
            fn(*args)
            _, p_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            vg(*args)
            _, g_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            a2_memory = (p_peak, g_peak)

    print("\nArray workloads, float64, ms per value+gradient call: every system timed in the same "
          "interleaved rounds, medians")
    header = f"{'workload':24} {'primal':>8} {'sourcead':>9} {'x primal':>9}"
    peers = [p for p in ("torch", "jax", "autograd") if any(r[p] is not None for r in rows)]
    for p in peers:
        header += f" {p:>9} {p + ' x':>10}"
    print(header)
    for r in rows:
        line = f"{r['name']:24} {r['primal'] * 1e3:8.3f} {r['ours'] * 1e3:9.3f} {r['ours'] / r['primal']:9.2f}"
        for p in peers:
            t = r[p]
            line += f" {t * 1e3:9.3f} {t / r['primal']:10.2f}" if t else f" {'-':>9} {'-':>10}"
        print(line)
    for p in ("torch", "jax", "autograd"):
        if p not in peers:
            print(f"({p} not installed: skipped; pip install -e .[bench])")
    for r in rows:
        speedups = ", ".join(f"{r[p] / r['ours']:.1f}x vs {p}" for p in peers if r[p])
        print(f"{r['name']}: sourcead is {speedups}")
    if a2_memory:
        p_peak, g_peak = a2_memory
        print(f"\nA2 peak memory: primal {p_peak / 1e6:.0f} MB, gradient {g_peak / 1e6:.0f} MB "
              f"({g_peak / p_peak:.1f}x)")


if __name__ == "__main__":
    main()
