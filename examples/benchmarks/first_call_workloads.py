"""Array functions whose first call is measured (decoration, then the version for the arguments'
shapes): an LSTM cell and a Sinkhorn loop, with their example arguments."""
from __future__ import annotations

import numpy as np


def lstm_cell(W, U, b, x, h, c):
    z = x @ W + h @ U + b
    n = h.shape[1]
    i = 1.0 / (1.0 + np.exp(-z[:, :n]))
    f = 1.0 / (1.0 + np.exp(-z[:, n:2 * n]))
    o = 1.0 / (1.0 + np.exp(-z[:, 2 * n:3 * n]))
    g = np.tanh(z[:, 3 * n:])
    c_next = f * c + i * g
    h_next = o * np.tanh(c_next)
    return np.sum(h_next * h_next) + np.sum(c_next)


def sinkhorn(logits, a, b, C, iters=20):
    """Entropic optimal transport: iterate the scalings u, v; the cost of the plan they give."""
    K = np.exp(-C / 0.1) * np.exp(logits)
    v = np.ones(b.shape[0])
    for _ in range(iters):
        u = a / (K @ v)
        v = b / (K.T @ u)
    P = u[:, None] * K * v[None, :]
    return np.sum(P * C)


def examples():
    """{name: (args, wrt)}: an LSTM cell, batch 8, 16 inputs, 32 units; Sinkhorn on 20 x 20."""
    rng = np.random.default_rng(0)
    n, d, batch, m = 32, 16, 8, 20
    lstm = ((rng.normal(0, 0.2, (d, 4 * n)), rng.normal(0, 0.2, (n, 4 * n)), np.zeros(4 * n),
             rng.normal(size=(batch, d)), rng.normal(size=(batch, n)), rng.normal(size=(batch, n))),
            (0, 1, 2))
    sink = ((rng.normal(0, 0.1, (m, m)), np.full(m, 1.0 / m), np.full(m, 1.0 / m),
             rng.uniform(size=(m, m))), (0,))
    return {"lstm_cell": lstm, "sinkhorn": sink}
