"""Train a small MLP on scikit-learn's bundled digits with plain gradient descent and `@grad`.

    pip install -e ".[examples]" && python examples/mlp.py

The loss is ordinary NumPy: a tanh hidden layer, softmax cross-entropy through log-sum-exp with the
max trick. `value_and_grad` compiles its gradient once; each step is one call of generated code.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from compiler import value_and_grad  # noqa: E402


def loss(W1, b1, W2, b2, X, Y):
    """Mean softmax cross-entropy of a one-hidden-layer tanh network; Y is one-hot."""
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    top = np.max(logits, axis=1, keepdims=True)
    shifted = logits - top
    log_norm = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    log_probs = shifted - log_norm
    return -np.sum(log_probs * Y) / X.shape[0]


def predict(W1, b1, W2, b2, X):
    return np.argmax(np.tanh(X @ W1 + b1) @ W2 + b2, axis=1)


def load_digits():
    try:
        from sklearn.datasets import load_digits as sk_digits
    except ImportError:
        raise SystemExit("this example needs scikit-learn's bundled digits: "
                         "pip install -e \".[examples]\"") from None
    digits = sk_digits()
    X = digits.data / 16.0
    y = digits.target
    return X, y


def main(epochs=30, hidden=64, lr=0.5, batch=64, seed=0):
    X, y = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    X, y = X[order], y[order]
    split = int(0.8 * len(X))
    Xtr, ytr, Xte, yte = X[:split], y[:split], X[split:], y[split:]
    Ytr = np.eye(10)[ytr]
    params = [rng.normal(0, 1 / np.sqrt(64), (64, hidden)), np.zeros(hidden),
              rng.normal(0, 1 / np.sqrt(hidden), (hidden, 10)), np.zeros(10)]
    step = value_and_grad(loss, wrt=(0, 1, 2, 3))
    start = time.perf_counter()
    for epoch in range(epochs):
        perm = rng.permutation(len(Xtr))
        total = 0.0
        for i in range(0, len(Xtr), batch):
            idx = perm[i:i + batch]
            value, grads = step(*params, Xtr[idx], Ytr[idx])
            params = [p - lr * g for p, g in zip(params, grads)]
            total += value * len(idx)
        if epoch % 5 == 0 or epoch == epochs - 1:
            acc = np.mean(predict(*params, Xte) == yte)
            print(f"epoch {epoch:3d}  train loss {total / len(Xtr):.4f}  test accuracy {acc:.3f}")
    print(f"trained in {time.perf_counter() - start:.2f} s")
    return float(np.mean(predict(*params, Xte) == yte))


if __name__ == "__main__":
    main()
