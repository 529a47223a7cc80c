"""A module whose globals shadow the builtins and module names generated code relies on.

`type`, `float`, `int`, `range`, `reversed`, `len`, `slice`, `abs`, `max`, `min` are the user's own
functions here, `np` and `math` are numbers (NumPy is `onp`, math is `m`). Generated code runs
against this module's globals, so every helper it needs must come from somewhere else.
"""
import math as m

import numpy as onp

import reliability_names as other

np = 0.5
math = 1.5


def type(u):  # noqa: A001
    return u * 3.0


def float(u):  # noqa: A001
    return u + 1.0


def int(u):  # noqa: A001
    return u * u


def range(u):  # noqa: A001
    return u - 1.0


def reversed(u):  # noqa: A001
    return -u


def len(u):  # noqa: A001
    return u * 0.5


def slice(u):  # noqa: A001
    return u * u * u


def abs(u):  # noqa: A001
    return u + 10.0


def max(u, v):  # noqa: A001
    return u * v


def min(u, v):  # noqa: A001
    return u - v


def scalar(x, y):
    """Calls every shadowing function and reads `np` and `math` as numbers."""
    a = type(x) + float(y) + int(x) * range(y)
    b = reversed(a) + len(x) + slice(y) + abs(x * y)
    c = max(a, b) + min(x, y) * np + math * m.sin(x)
    return c


def scalar_grad(x, y):
    a = 3.0 * x + y + 1.0 + x * x * (y - 1.0)
    da_dx, da_dy = 3.0 + 2.0 * x * (y - 1.0), 1.0 + x * x
    b = -a + 0.5 * x + y ** 3 + x * y + 10.0
    db_dx, db_dy = -da_dx + 0.5 + y, -da_dy + 3.0 * y * y + x
    # c = a * b + (x - y) * np + math * sin(x)
    gx = da_dx * b + a * db_dx + np + math * m.cos(x)
    gy = da_dy * b + a * db_dy - np
    return gx, gy


def scalar_while(x, n):
    """A while loop only (this module's `range` is the user's): the reverse loop needs `reversed`."""
    h = x
    k = 0
    while k < n:
        h = m.sin(h) * math + type(h) * np + abs(h) * 0.1
        k = k + 1
    return h


def array(x, w):
    """NumPy code (spelled `onp`) next to a global `np` that is a number."""
    z = onp.tanh(x @ w) * np + math
    t = z[1:, :] * type(1.0)
    return onp.sum(t * t) + onp.mean(x) * len(2.0)


def calls_loop_helper(x, y):
    """A helper from a module where `range` and `reversed` are the builtins: its `for` loop is
    inlined into code that runs against this module's globals (where they are the user's)."""
    return other.loop_globals(x, y) * type(x) + other.loop_locals(x, y, 3)


def calls_loop_helper_arrays(x, w):
    return other.array_loop(x, w, 3) * float(1.0)
