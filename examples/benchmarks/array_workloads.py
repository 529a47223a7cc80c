"""The array workloads A1-A3 (NumPy, float64), their data, and a hand-written gradient for each: what
a careful person reaches with NumPy alone.

A1  MLP, batch 64, 784-128-10, tanh, softmax cross-entropy; gradient w.r.t. all four weights
A2  1,000,000 elements: sum(sin(x) * exp(-x**2) + log1p(x**2)); gradient w.r.t. x
A3  logistic regression 10000 x 100 with L2; gradient w.r.t. (w, b)

`scale` shrinks the sizes (tests run them tiny); 1.0 is the sizes above.
"""
from __future__ import annotations

import numpy as np


def mlp_loss(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    top = np.max(logits, axis=1, keepdims=True)
    shifted = logits - top
    log_norm = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum((shifted - log_norm) * Y) / X.shape[0]


def hand_mlp(W1, b1, W2, b2, X, Y):
    n = X.shape[0]
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    e = np.exp(shifted)
    s = np.sum(e, axis=1, keepdims=True)
    value = -np.sum((shifted - np.log(s)) * Y) / n
    # d/dlogits of -sum(log_softmax * Y) / n: (softmax * sum(Y) - Y) / n per row
    dlogits = (e / s * np.sum(Y, axis=1, keepdims=True) - Y) / n
    dh = dlogits @ W2.T
    dz = dh * (1.0 - h * h)
    return value, (X.T @ dz, dz.sum(axis=0), h.T @ dlogits, dlogits.sum(axis=0))


def elementwise(x):
    return np.sum(np.sin(x) * np.exp(-x ** 2) + np.log1p(x ** 2))


def hand_elementwise(x):
    s = np.sin(x)
    xx = x * x
    e = np.exp(-xx)
    value = np.sum(s * e + np.log1p(xx))
    return value, ((np.cos(x) - 2.0 * x * s) * e + 2.0 * x / (1.0 + xx),)


def logreg(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z) + 1e-3 * np.sum(w * w)


def hand_logreg(w, b, X, y):
    z = X @ w + b
    value = np.mean(np.logaddexp(0.0, z) - y * z) + 1e-3 * np.sum(w * w)
    dz = (0.5 * (1.0 + np.tanh(0.5 * z)) - y) / z.shape[0]  # sigmoid(z) without overflow
    return value, (X.T @ dz + 2e-3 * w, float(np.sum(dz)))


def workloads(scale=1.0):
    """{key: (title, fn, hand, args, wrt)}; the data is drawn from a fixed seed."""
    rng = np.random.default_rng(0)
    batch, hidden = max(2, int(64 * scale)), max(2, int(128 * scale))
    inputs = max(2, int(784 * scale))
    a1 = [rng.normal(0, 0.05, (inputs, hidden)), np.zeros(hidden), rng.normal(0, 0.1, (hidden, 10)),
          np.zeros(10), rng.normal(size=(batch, inputs)), np.eye(10)[rng.integers(0, 10, batch)]]
    n2 = max(4, int(1_000_000 * scale))
    a2 = [rng.normal(size=n2)]
    rows, cols = max(4, int(10_000 * scale)), max(2, int(100 * scale))
    X = rng.normal(size=(rows, cols))
    a3 = [rng.normal(size=cols) * 0.1, 0.1, X, (X @ rng.normal(size=cols) > 0).astype(float)]
    return {
        "a1": (f"A1 MLP {batch}x{inputs}-{hidden}-10", mlp_loss, hand_mlp, a1, (0, 1, 2, 3)),
        "a2": (f"A2 elementwise {n2:.0e}".replace("e+0", "e"), elementwise, hand_elementwise,
               a2, (0,)),
        "a3": (f"A3 logistic {rows}x{cols}", logreg, hand_logreg, a3, (0, 1)),
    }
