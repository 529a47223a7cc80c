"""One NumPy function, differentiated by both designs: a static graph compiled once (`compiler`)
and a dynamic tape recorded at every call (`runtime`).

    python examples/static_vs_tape.py

Everything below is shown by running it, not asserted: equal gradients, the cost of the first call
and of repeated calls, and what each design can and cannot do.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import runtime as rt  # noqa: E402
from compiler import GradError, grad  # noqa: E402
from compiler.compare import compare  # noqa: E402


def loss(W, b, X, y):
    """A small logistic-regression loss written in plain NumPy."""
    z = X @ W + b
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.01 * np.sum(W * W)


def damped(x, tol):
    """Data-dependent control flow: how many steps run depends on x."""
    steps = 0
    while abs(x) > tol:
        x = np.sin(x) * 0.9
        steps += 1
    return x * x + steps


def depth(x, n):
    """Recursion: fine for a tape, which only sees the operations that ran."""
    if n == 0:
        return x
    return np.sin(depth(x, n - 1))


def cube(x):
    return x * x * x


def main():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = (rng.random(200) > 0.5).astype(float)
    W, b = rng.normal(size=5) * 0.1, 0.0

    print("1. The same NumPy function through both designs\n")
    compare(loss, (W, b, X, y), wrt=(0, 1))

    print("\n2. Data-dependent control flow: both follow the path the data takes\n")
    compare(damped, (2.5, 1e-3), wrt=(0,))

    print("\n3. Recursion: the tape records whatever runs; the compiler needs a static graph\n")
    try:
        grad(depth)(0.5, 3)
    except GradError as exc:
        print("   compiler:", str(exc).splitlines()[-1])
    x = rt.tensor(0.5, requires_grad=True)
    depth(x, 3).backward()
    print(f"   tape:     d/dx sin(sin(sin(x))) at 0.5 = {x.grad.item():.6f}")

    print("\n4. Higher derivatives: the tape can record its own backward pass (create_graph)\n")
    x = rt.tensor(2.0, requires_grad=True)
    (g,) = rt.autograd.grad(cube(x), x, create_graph=True)
    (h,) = rt.autograd.grad(g, x)
    print(f"   tape:     d/dx x^3 = {g.item()}, d2/dx2 x^3 = {h.item()} at x = 2")
    try:
        grad(grad(cube))(2.0)
    except GradError as exc:
        print("   compiler:", str(exc).splitlines()[-1])

    print("\n5. What the compiler gives that a tape cannot: the gradient as source you can read\n")
    print(grad(cube).source)


if __name__ == "__main__":
    main()
