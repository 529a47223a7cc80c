"""Central finite differences, shared by both designs (the compiler's `check_grad`, the tape's tests and
its public `runtime.autograd.gradcheck`).

NumPy only, so that the reference never depends on the code it checks. The step for each entry is
scaled to its magnitude, h = cbrt(machine eps) * max(1, |x|) (about 6e-6 for float64), which balances
truncation error (O(h^2)) against rounding error (O(eps/h)) for a central difference. `numerical_jacobian`
also takes a fixed step, as PyTorch's gradcheck does (eps=1e-6).
"""
from __future__ import annotations

import numpy as np

EPS_SCALE = float(np.finfo(np.float64).eps) ** (1.0 / 3.0)

# Default tolerances of `compare`: an entry passes when |analytic - numeric| <= ATOL + RTOL * |numeric|.
# A central difference with the step above is accurate to about 1e-10 relative on smooth float64
# functions of moderate curvature; these bounds leave room for curvature without hiding a wrong rule.
ATOL = 1e-6
RTOL = 1e-5


def step(x):
    """The central-difference step for a value (scalar) or for each entry (array)."""
    return EPS_SCALE * np.maximum(1.0, np.abs(x))


def numerical_grad(f, args, index, seed=None):
    """d(seed . f(*args)) / d args[index] by central differences.

    `f` returns a scalar or an array; `seed` weights a non-scalar output (default: ones, i.e. the sum).
    Returns a float for a scalar argument and an array of the argument's shape otherwise.
    """
    args = list(args)
    x0 = args[index]

    def scalar_out(value):
        value = np.asarray(value, dtype=np.float64)
        if seed is None:
            return float(np.sum(value))
        return float(np.sum(value * np.asarray(seed, dtype=np.float64)))

    if np.ndim(x0) == 0 and not isinstance(x0, np.ndarray):
        x = float(x0)
        h = float(step(x))
        args[index] = x + h
        up = scalar_out(f(*args))
        args[index] = x - h
        down = scalar_out(f(*args))
        return (up - down) / (2.0 * h)

    base = np.array(x0, dtype=np.float64)
    out = np.zeros_like(base)
    flat = base.reshape(-1)
    grad_flat = out.reshape(-1)
    for i in range(flat.size):
        probe = flat.copy()
        h = float(step(flat[i]))
        probe[i] = flat[i] + h
        args[index] = probe.reshape(base.shape)
        up = scalar_out(f(*args))
        probe[i] = flat[i] - h
        args[index] = probe.reshape(base.shape)
        down = scalar_out(f(*args))
        grad_flat[i] = (up - down) / (2.0 * h)
    return out


def numerical_jacobian(f, x, eps=None):
    """The Jacobians of f at x by central differences: a list, one (out.size, x.size) array per output.

    `f` takes an array shaped like x (a new one each call, of x's dtype) and returns a sequence of
    values (arrays or numbers). `eps`: the step; None scales it to each entry as `step` does.
    """
    x = np.asarray(x)
    flat = x.reshape(-1)
    columns = None
    for k in range(flat.size):
        h = float(step(flat[k])) if eps is None else eps
        probe = flat.copy()
        probe[k] = flat[k] + h
        up = f(probe.reshape(x.shape))
        probe = flat.copy()
        probe[k] = flat[k] - h
        down = f(probe.reshape(x.shape))
        if columns is None:
            columns = [[] for _ in up]
        for cols, u, d in zip(columns, up, down):
            diff = np.asarray(u, dtype=np.float64) - np.asarray(d, dtype=np.float64)
            cols.append(diff.reshape(-1) / (2.0 * h))
    if columns is None:     # x has no entries: ask f once for the outputs' sizes
        return [np.zeros((np.size(o), 0)) for o in f(x.copy())]
    return [np.stack(cols, axis=1) for cols in columns]


def compare(analytic, numeric, atol=ATOL, rtol=RTOL):
    """(max absolute error, max relative error, passed) between two gradients of the same shape."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        return float("inf"), float("inf"), False
    diff = np.abs(a - n)
    both_nan = np.isnan(a) & np.isnan(n)
    diff = np.where(both_nan, 0.0, diff)
    abs_err = float(np.max(diff)) if diff.size else 0.0
    scale = np.maximum(np.abs(n), 1e-300)
    rel_err = float(np.max(diff / scale)) if diff.size else 0.0
    passed = bool(np.all(diff <= atol + rtol * np.abs(n)))
    return abs_err, rel_err, passed
