"""The functions whose generated source is kept in golden/ (test_golden.py).

They live in their own module so that editing a test file never moves their line numbers (the
generated code's comments name the user's lines). Changing this file means regenerating the goldens:
SOURCEAD_REGOLD=1 python -m pytest tests/compiler/test_golden.py
"""
import math


def seed(x, y, z):
    q = x + y
    return q * z


def log_square(x):
    return math.log(x ** 2) + 1


def fork(x, y):
    a = x * y
    b = a * a
    return b + math.sin(a)


def max_router(x, y, z, w):
    return 2 * (x * y + max(z, w))


# --- control flow and arrays: loops (with their tape), an early return, a branch, and an MLP whose
# version specialised to its shapes goes through storage planning (in-place updates, frees).
# (NumPy is imported here, not at the top, so that the functions above keep their line numbers.)

import numpy as np  # noqa: E402

def loop(x, y):
    h = x
    for i in range(3):
        h = math.sin(h * y) + h
    return h


def loop_early_return(x, n):
    acc = x
    for i in range(n):
        acc = acc * x + 1.0
        if acc > 10.0:
            return acc
    return acc * 0.5


def branch(x, y):
    if x > y:
        z = x * y
    else:
        z = math.exp(y)
    return z * x


def mlp(x, w1, b1, w2):
    h = np.tanh(x @ w1 + b1)
    out = h @ w2
    return np.mean(out * out)
