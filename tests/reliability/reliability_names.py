"""Functions whose names collide with what generated gradient code uses.

Generated code binds helpers (`np`, `math` functions, `type`, `float`, `int`, `range`, `reversed`,
`len`, `slice`, `respecialize`, `record`, `sum_grad`, `unbroadcast`...), names its factory
`make_<f>_grad`, keeps loop tapes in `tape`, and names adjoints `d<name>`. Every function here uses
those spellings for its own parameters, locals or module globals; each comes with its analytic
gradient so a test can tell a shadowed helper from a correct one.
"""
import math as _m
import numpy as onp

# --- module globals that shadow builtins and helper names (this module only) ---------------------

tape = 1.5            # a number named like the loop tape
reversed = 0.25       # noqa: A001  a number named like the builtin the reverse loop calls
record = 2.0          # the instrumented run's helper
sum_grad = 0.75       # array helpers
unbroadcast = 1.25
len = 3.0             # noqa: A001
slice = 0.5           # noqa: A001
make_f_grad = 4.0     # the factory's name
respecialize = 0.125


def abs(u):  # noqa: A001  a user function named like the builtin `abs` (not a router)
    return u * u + 1.0


def max(u, v):  # noqa: A001  a user `max` that adds, not picks
    return u + 2.0 * v


def math_like(u):
    return _m.sin(u)


# --- scalar code ---------------------------------------------------------------------------------

def scalar_params(np, math, _d, grad, self, type, float, int):
    """Parameters named like modules, the adjoint prefix and the guard's builtins."""
    a = np * math + _d
    b = a * grad - self
    c = b * type + float * int
    return c * c + _m.sin(np)


def scalar_params_grad(np, math, _d, grad, self, type, float, int):
    a = np * math + _d
    b = a * grad - self
    c = b * type + float * int
    dc = 2.0 * c
    db = dc * type
    da = db * grad
    return (da * math + _m.cos(np), da * np, da, db * a, -db, dc * b, dc * int, dc * float)


def scalar_locals(x, y):
    """Locals named like every helper and generated name."""
    np = x * y
    math = np + _m.exp(x)
    _d = math * 2.0
    dx = _d - y
    tape = dx * dx
    record = tape + x
    respecialize = record * y
    make_f_grad = respecialize + 1.0
    make_scalar_locals_grad = make_f_grad * x
    sum_grad = make_scalar_locals_grad - np
    unbroadcast = sum_grad * 0.5
    range = unbroadcast + y  # noqa: A001
    reversed = range * range  # noqa: A001
    len = reversed - x  # noqa: A001
    slice = len * 3.0  # noqa: A001
    type = slice + _m.cos(y)  # noqa: A001
    float = type * x  # noqa: A001
    int = float + y  # noqa: A001
    self = int * int
    grad = self + np
    return grad


def scalar_globals(x, y):
    """Module globals named like helpers (numbers) and builtins (the user's own functions)."""
    a = x * tape + y * reversed
    b = a * record + sum_grad * x - unbroadcast * y
    c = b * len + slice * x + make_f_grad * y + respecialize * x * y
    d = abs(c) + max(x, y)
    return d + math_like(x)


def scalar_globals_grad(x, y):
    a = x * tape + y * reversed
    b = a * record + sum_grad * x - unbroadcast * y
    c = b * len + slice * x + make_f_grad * y + respecialize * x * y
    dc = 2.0 * c
    db = dc * len
    da = db * record
    gx = da * tape + db * sum_grad + dc * slice + dc * respecialize * y + 1.0 + _m.cos(x)
    gy = da * reversed - db * unbroadcast + dc * make_f_grad + dc * respecialize * x + 2.0
    return gx, gy


# --- loops: the tape, `reversed`, `range` and `len` --------------------------------------------

def loop_locals(x, tape, n):
    """A parameter `tape`, locals `reversed`, `record`, `len`, `i`, in a loop with a tape."""
    reversed = x * 2.0  # noqa: A001
    acc = x
    len = tape + 1.0  # noqa: A001
    for i in range(n):
        record = _m.sin(acc) * tape
        acc = acc * record + reversed * len
    return acc


def loop_globals(x, y):
    """Module globals `tape`, `reversed`, `len`, `slice` read in a loop body (the loop uses the
    real `range`, `reversed` and a tape of its own)."""
    h = x
    for i in range(4):
        h = _m.tanh(h * tape + y * reversed) + len * 0.01 * h * slice
    return h


def while_locals(x, range, reversed):  # noqa: A002
    """Parameters named `range` and `reversed` and a while loop (tape replayed backwards)."""
    tape = x
    k = 0
    while k < 3:
        tape = tape * range + reversed * _m.cos(tape)
        k = k + 1
    return tape


# --- NumPy array code: `np`, `sum_grad`, `unbroadcast`, `slice` ---------------------------------

def array_params(np, sum_grad, unbroadcast, slice):  # noqa: A002
    """Arrays named `np` (the user's NumPy is `onp`), `sum_grad`, `unbroadcast` and `slice`."""
    a = np * sum_grad + unbroadcast          # (3,) * (3,) + (2, 3): broadcasting
    b = onp.sum(a, axis=0) * slice           # slice: a float
    c = onp.tanh(b[1:]) + onp.max(np)
    return onp.sum(c * c) + onp.mean(a)


def array_locals(x, w):
    """Locals named like the array helpers, the recorder, the dispatcher, the tape and the
    guard's builtins."""
    np = x @ w
    sum_grad = onp.tanh(np)
    unbroadcast = sum_grad - onp.mean(sum_grad, axis=0)
    slice = unbroadcast[:, 1:]  # noqa: A001
    len = onp.sum(slice * slice, axis=1)  # noqa: A001
    type = onp.exp(-len)  # noqa: A001
    float = type * 2.0  # noqa: A001
    record = float + onp.mean(np)           # the instrumented run's helper
    respecialize = record * 0.5             # the array entry point's dispatcher
    tape = onp.sum(respecialize) + onp.sum(x * x)
    return tape


def array_globals(x, y):
    """Module globals `tape`, `reversed`, `sum_grad`, `unbroadcast`, `slice` in array code."""
    z = x * tape + y * reversed
    return onp.sum(onp.sin(z) * sum_grad) + unbroadcast * onp.sum(x * y) + slice * onp.sum(z[1:] ** 2)


def array_loop(x, w, n):
    """A loop over arrays with a local `tape`, `reversed` and `range`-bounded body."""
    tape = x
    reversed = w * 0.5  # noqa: A001
    for i in range(n):
        tape = onp.tanh(tape * reversed + w)
    return onp.sum(tape * tape)


def array_fancy_index(x, slice, idx):  # noqa: A002
    """Index arrays with a slice beside them: the gradient scatters through a helper that builds
    the index with the builtin `slice`, while the user's `slice` is a number."""
    y = x[idx, 1:] * slice
    return onp.sum(y * y)
