"""Programs that use NumPy's aliasing: views, aliases, in-place updates (test_aliasing.py).

Each is exact under the compiler, or refused at the user's line; the expected values are plain
NumPy run on copies, the expected gradients central differences.
"""
import math

import numpy as np

I = np.array([-1, 0, 3, 0])
REPEATS = np.array([2, -2])


# ---- 1. an in-place update through a view reaches the base ----------------------------------------

def slice_view_imul(x):
    y = x * 1.0
    r = y[0:1]
    r *= 3.0
    return np.sum(y * y)


def transpose_view_imul(x):
    y = x * 1.0
    r = y.T
    r *= 3.0
    return np.sum(y * y * x)


def reversed_view_iadd(x, s):
    y = x * 1.0
    r = y[::-1]
    r += s * np.arange(len(x))
    return np.sum(y * y)


def full_slice_view_isub(x, c):
    y = x * 2.0
    r = y[:]
    r -= c
    return np.sum(np.sin(y))


def reshape_view_imul(x):
    y = x * 1.0
    r = y.reshape(-1)
    r *= np.arange(4.0)
    return np.sum(y * y)


def ravel_like_view(x):
    y = np.sin(x)
    r = np.reshape(y, (4,))
    r[1] = 5.0
    return np.sum(y * x)


def transposed_reshape_copies(x):
    """y.T.reshape(-1) is a copy in NumPy: the write leaves y alone."""
    y = x * 1.0
    r = y.T.reshape(-1)
    r *= 3.0
    return np.sum(y * y) + np.sum(r)


def int_index_of_vector_copies(x):
    """y[0] of a vector is a NumPy scalar, not a view: r *= 3 does not touch y."""
    y = x * 1.0
    r = y[0]
    r *= 3.0
    return np.sum(y * y) + r


def int_index_of_matrix_is_view(x):
    """y[0] of a matrix is a row view: r *= 3 triples y's first row."""
    y = x * 1.0
    r = y[0]
    r *= 3.0
    return np.sum(y * y) + np.sum(r)


def chained_view(x):
    y = x * 1.0
    r = y[1:][::-1]
    r[0] = 7.0 * x[0]
    return np.sum(y * y)


def view_sees_base_update(x):
    """r is a view of y taken before y is updated in place: it sees the update."""
    y = x * 1.0
    r = y[1:]
    y *= 2.0
    return np.sum(r * x[1:])


def two_views_one_base(x):
    y = np.cos(x)
    a = y[:2]
    b = y[1:]
    a *= 3.0
    return np.sum(b * b) + np.sum(y)


def row_loop_updates_rows(x):
    y = x * 1.0
    for row in y:
        row *= 2.0
    return np.sum(y * x)


def view_written_in_loop(x):
    y = x * 1.0
    for i in range(3):
        r = y[i:i + 1]
        r *= 1.5
    return np.sum(y * y)


def index_write_through_view(x, v):
    y = x * 1.0
    r = y[1:]
    r[0] = v
    return np.sum(y * y)


def view_in_branch(x):
    y = x * 1.0
    r = y[0:2]
    if np.sum(x) > 0.0:
        r *= 2.0
    else:
        r += 1.0
    return np.sum(y * y)


# ---- 2. in-place on an argument (or an alias or view of one) is refused ---------------------------

def imul_argument(x):
    x *= 2.0
    return np.sum(x * x)


def iadd_alias_of_argument(x):
    y = x
    y += 1.0
    return np.sum(y * y)


def iadd_view_of_argument(x):
    r = x[0:1]
    r += 1.0
    return np.sum(x * x)


def imul_scalar_argument(x):
    """A float argument updated with *=: rebinding, as Python does; accepted."""
    x *= 2.0
    return x * x


def helper_scales(a):
    a *= 2.0
    return a


def helper_writes_argument(x):
    y = helper_scales(x)
    return np.sum(y * y)


# ---- 3. an in-place update through an alias ------------------------------------------------------

def isub_alias(c, W):
    y = c * 1.0
    z = y
    z -= c
    return np.sum(W * y)


def alias_rebound_then_written(x, s):
    a = x * 2.0
    b = a
    a = x + 0.0
    a[0] = s
    return np.sum(a) + np.sum(b)


def alias_of_scalar(x):
    y = x * 1.0
    z = y
    z += 1.0
    return y * z


# ---- 4. repeated indices in augmented assignment --------------------------------------------------

def iadd_repeated_index(a):
    y = a * 1.0
    y[I] += a
    return np.sum(y * y)


def iadd_repeated_self(a):
    y = a * 1.0
    y[[1, 0, 1]] += y[:3]
    return np.sum(y * y)


def idiv_repeated(a, s):
    y = a * 1.0
    y[REPEATS] /= s
    return np.sum(y * y * a)


def imul_repeated(a, s):
    y = a * 1.0
    y[REPEATS] *= s
    return np.sum(y * y * a)


# ---- 5. two lists stacked ------------------------------------------------------------------------

def two_lists(a):
    p = []
    for i in range(2):
        p.append(a[0] * 2.0)
    q = []
    for i in range(3):
        q.append(np.sum(a))
    return np.sum(np.stack(p)) + np.sum(np.stack(q))


def rows_of_stacked_list(a):
    p = []
    for i in range(3):
        p.append(a[i] * 2.0)
    s = np.stack(p)
    q = []
    for row in s:
        q.append(np.sum(row * row))
    return np.sum(np.stack(q))


# ---- 6. a def inside a loop body, called with arrays ---------------------------------------------

def def_in_loop(x):
    total = 0.0
    for i in range(2):
        def sq(t):
            return t * t
        total = total + np.sum(sq(x))
    return total


def loop_returns_carried(x):
    for i in range(3):
        x = math.tanh(x)
    return x
