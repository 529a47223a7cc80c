"""Minimal programs for the bugs the differential fuzzer found (tests: test_fuzz_regressions.py).

Each function is a fuzzer-generated program, shrunk by hand or with fuzz_reduce.py, written out in
this real file because the compiler reads source. The test that uses it says what the compiler,
the tape and central differences give.
"""
import math

import numpy as np

# ---- compiler: an array whose adjoint is zero on the path taken -----------------------------------


def zero_adjoint_branch_not_taken(x, w, s):
    """w only reaches the result in the branch that does not run."""
    if s > 5.0:
        return np.sum(w)
    return np.sum(x)


def zero_adjoint_value_not_returned(x, s):
    """a = x * 2.0 reaches the result only in the branch that does not run."""
    a = x * 2.0
    if s > 0.5:
        return np.sum(a)
    return 1.5


def zero_adjoint_loop_early_return(x, s):
    a = x * 1.0
    for j in range(3):
        a = a * s
        if s < 0.0:
            return s
    return np.sum(a)


def zero_adjoint_closure(x, s):
    def inner():
        if s > 0.5:
            return x
        return s
    return np.sum(inner() * inner())


def zero_adjoint_index_assignment(y, s):
    a = y + y
    a[1, 2] = s
    if s > 0.5:
        return np.sum(a)
    return 1.5


def zero_adjoint_loop_overwrite(w):
    """`a` is carried by the loop but each iteration overwrites it: the adjoint flowing into the
    previous iteration's `a` is zero."""
    for i in range(2):
        a = w * 2.0
    return np.sum(a)


# ---- compiler: np.where with a constant condition ----------------------------------------------


def where_constant_condition(x, s):
    """np.where(False, x, s) is s broadcast to x's shape: sum = 3 * s."""
    return np.sum(np.where(0.5 < 0.25, x, s))


# ---- compiler: builtin abs of a NumPy scalar ----------------------------------------------------


def abs_of_numpy_scalar(x):
    return abs(np.sin(x))


# ---- compiler: absorb_negations does not reach inside regions ------------------------------------


def double_negation_read_in_branch(y):
    a = -(-y)
    if y > 0.0:
        a = a * 2.0
    return a


def negated_sum_adjoint_read_in_branch(x, y):
    t = 0.25 - (0.5 if x > 0.7 else x)
    z = -(t + y)
    return z * z


# ---- compiler: a long branch of math.f(...) calls is refused as "changed source" -------------------


def long_branch_of_attribute_calls(x):
    if x > 2.0:
        x = math.sin(x) + math.sin(x) + math.sin(x) + math.sin(x) + math.sin(x) + math.sin(x) + math.sin(x) + math.sin(x) + math.sin(x) + math.sin(x)  # noqa: E501
    return x


# ---- compiler: a closure reads a stale value after an early return --------------------------------


def closure_after_early_return(x):
    def inner(t):
        return x * t
    if x <= 0.5:
        return x
    x = 0.5
    return inner(1.0)


# ---- compiler: value_and_grad returns a stale loop-carried value ---------------------------------


def loop_returns_carried_value(x):
    """The reverse loop `for x_1 in reversed(tape)` rebinds x_1, the forward result."""
    for i in range(2):
        x = math.tanh(x)
    return x


# ---- compiler: a rebound name keeps its old alias -------------------------------------------------


def write_after_rebinding_an_aliased_name(x, s):
    """`b = a` makes b an alias of the first array; `a = x + 0.0` rebinds a to a new one."""
    a = x * 2.0
    b = a  # noqa: F841
    a = x + 0.0
    a[0] = s
    return np.sum(a)


# ---- compiler gaps: refusals of supported constructs ---------------------------------------------


def def_after_early_return(x):
    if x > 1.0:
        return x
    def inner(t):  # noqa: E306
        return t * t
    return inner(x)


def list_after_early_return(x):
    if x > 1.0:
        return x
    acc = []
    for i in range(3):
        acc.append(x * i)
    return sum(acc)


def list_in_loop_after_continue(x):
    total = 0.0
    for i in range(2):
        if x > 1.0:
            continue
        acc = []
        acc.append(x * x)
        total = total + sum(acc)
    return total


# ---- tape: a[i] *= v ------------------------------------------------------------------------------


def index_imul(y, s):
    """d/ds sum(a) with a[0] scaled by s is sum(y[0])."""
    a = y * 1.0
    a[0] *= s
    return np.sum(a)
