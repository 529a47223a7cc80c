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


# ---- issue 9, found by the array fuzzer at 5bf03e1 (fixed in addd5ba, fb27704) --------------------


def issue9_view_imul(y, s):
    """r is a view of a's first row: r *= 3.0 triples that row of a."""
    a = y * 1.0
    r = a[0:1]
    r *= 3.0
    return np.sum(a * s)


def issue9_alias_isub(y, c):
    """z is a: z -= c changes a."""
    a = y * 1.0
    z = a
    z -= c
    return np.sum(a * a)


def issue9_transpose_view_setitem(y, v):
    """r = a.T: r[0] = v writes a's first column."""
    a = y * 1.0
    r = a.T
    r[0] = v
    return np.sum(a * a)


def issue9_reshape_view_iadd(y):
    """r = a.reshape(-1) is a view of a (a is contiguous): r += 1.0 changes a."""
    a = y * 1.0
    r = a.reshape(-1)
    r += 1.0
    return np.sum(a * a)


def issue9_transpose_reshape_copy_iadd(y):
    """a.T.reshape(-1) copies: r += 1.0 leaves a alone."""
    a = y * 1.0
    r = a.T.reshape(-1)
    r += 1.0
    return np.sum(a * a) + np.sum(r * a.T.reshape(-1))


def issue9_argument_imul(x):
    x *= 2.0
    return np.sum(x)


def issue9_argument_setitem(x, s):
    x[0] = s
    return np.sum(x * x)


def issue9_argument_alias_iadd(x):
    z = x
    z += 1.0
    return np.sum(x * x)


def issue9_argument_view_imul(y, s):
    r = y[0]
    r *= s
    return np.sum(y * y)


def issue9_aug_assign_repeated_indices(x, v):
    """a[[1, 0, 1]] += v adds v to a[1] once (NumPy buffers the read): d/dv = 2 a[0] + 2 a[1]."""
    a = x * 1.0
    a[[1, 0, 1]] += v
    return np.sum(a * a)


def issue9_two_stacked_lists(x, y):
    l1 = []
    l2 = []
    for i in range(3):
        l1.append(x * i)
        l2.append(y[0] * x)
    return np.sum(np.stack(l1) * np.stack(l2))


def issue9_def_in_loop_called_with_arrays(x, y):
    t = 0.0
    for i in range(2):
        b = x * i
        def g(u):  # noqa: E306
            return u + b
        t = t + np.sum(g(y))
    return t


# ---- found by the array fuzzer at 49c5332 / 367f579, open --------------------------------------


def alias_write_in_loop(x):
    """z is a: each z *= 0.5 halves a, so the result is sum(x * x) / 4."""
    a = x * x
    z = a
    for j in range(2):
        z *= 0.5
    return np.sum(a)


def view_write_in_loop(x):
    """r is a view of a[1:]: each r *= 2.0 doubles a[1:]."""
    a = x * x
    r = a[1:]
    for j in range(2):
        r *= 2.0
    return np.sum(a)


def shape_depends_on_branch(x, y, s):
    """a is x (3,) or y (2, 3) depending on s, so a[0] * s is a number or a row."""
    a = x * 1.0
    if s > 0.5:
        a = y * 1.0
    return np.sum(a[0] * s)


def list_append_after_inplace(w, s):
    a = w * 1.0
    acc = []
    for j in range(2):
        a *= s
        acc.append(np.sum(a))
        a = np.sin(w)
    return sum(acc)


def def_called_in_loop_with_early_return(y, s):
    a = y * 1.0
    def inner1(t):  # noqa: E306
        return np.sum(t)
    for j in range(2):
        b = inner1(y)  # noqa: F841
        a[0] *= s
        if s > 0.1:
            return np.sum(a)
        a = a  # noqa: PLW0127
    return s


def def_in_loop_after_continue(x, s):
    t = 0.0
    for k in range(2):
        if k < 1:
            continue
        def inner(u):  # noqa: E306
            return u * s
        t = t + np.sum(inner(x))
    return t


def write_into_fancy_index_copy(x, s):
    """x[np.array([2, 1, 0])] is a new array: writing into it leaves x alone."""
    b = x[np.array([2, 1, 0])]
    b[0] = s
    return np.sum(b * b)


def full_of_a_value(x, s):
    """np.full((2, 3), s) * x: d/ds = 2 * sum(x)."""
    return np.sum(np.full((2, 3), s) * x)


def base_rebound_after_write_through_view(y, s):
    """r is a view of the first a; `a = a * 2.0` makes a new a, r still sees the old one."""
    a = y * 1.0
    r = a[0]
    r *= s
    a = a * 2.0
    return np.sum(a * a) + np.sum(r * r)


def list_after_def_in_loop(x, s):
    for i in range(2):
        def inner(t):  # noqa: E306
            return t
    acc = []
    for j in range(2):
        acc.append(x * s)
    return np.sum(np.stack(acc))


def loop_variable_reused_with_alias_write(x, s):
    a = x * 1.0
    for i in range(2):
        a = a * s
    r = a
    for i in range(2):
        r[1] = s * i
    return np.sum(a * a)


def slice_of_a_result_in_a_sum(x):
    """d/dx = cos(x) * (1 - 2 * sin(x) * [0, 1, 1])."""
    y = np.sin(x)
    return np.sum(y - np.sum(y[1:] ** 2))


def arithmetic_copy_taken_for_alias(x, s):
    """b = x * 1.0 is a new array, whatever a is."""
    if s > 0.5:
        a = x
    else:
        a = x * 2.0
    b = x * 1.0
    b[0] = s
    return np.sum(a * b)


# ---- compiler: loops over containers (the fuzzer's comprehension/lambda/container forms) ----------


def return_in_loop_over_container(x, s):
    """The first of x, s above 0.5, doubled: 2 * s at x = 0.3, s = 0.7."""
    for v in [x, s]:
        if v > 0.5:
            return v * 2.0
    return s


def continue_in_range_loop_inside_container_loop(x, s):
    """The `continue` is the range loop's: t = x * (0 + 1 + 2) + s * (0 + 1) at x = 0.3, s = 0.7."""
    t = 0.0
    for v in [x, s]:
        for j in range(3):
            if v * j > 1.0:
                continue
            t = t + v * j
    return t


def dict_after_def_in_loop(x, s):
    for i in range(2):
        def inner(t):  # noqa: E306
            return t
    d = {"a": x * s, "b": s}
    return d["a"] + d["b"]


def list_read_in_loop_with_early_return(x, s):
    """The return never runs at s = 0.7: the value is s, d/dx 0, d/ds 1."""
    ls = [x, x * 2.0]
    for i in range(2):
        if s > 5.0:
            return np.sum(ls[1])
    return s


def continue_in_range_loop_reading_list(x, s):
    """ls[j] makes the range loop one over the list (README: range(len(layers)) reading
    layers[i] is unrolled): t = x + 2 x + s summed, d/dx 3, d/ds 3."""
    ls = [x, x * 2.0, s]
    t = 0.0
    for j in range(3):
        t = t + ls[j]
        if j > 1:
            continue
    return np.sum(t)


def copy_of_dict_leaf_written(p, s):
    """b = y * 1.0 is a new array: row 0 of b becomes s, p["y"] is untouched."""
    y = p["y"]
    b = y * 1.0
    b[0] = s
    return np.sum(b * b)


def _apply(fn, v):
    return fn(v) + v


def lambda_called_through_a_helper_in_a_loop(x, y):
    """(found by the long fuzz run, present since containers landed): a lambda reading `x`,
    called through a module-level helper inside a loop that reassigns x, read the x of its
    definition instead of the current one."""
    lam1 = lambda l1: (l1 * ((lambda l2: (l2 * x))(x)))  # noqa: E731
    n1 = 0
    while n1 < 1:
        n1 += 1
        x = x + math.sin(math.cos(x))
        x = _apply(lam1, x)
    return x


def view_kept_through_a_branch_then_base_written(x, y, w, s):
    """(found by the long fuzz run's forward check): r, a view of a, is handed on by the branch
    the aliasing analysis makes; the storage plan let a tangent product overwrite a's buffer in
    place while r was still read (jvp's value itself was wrong)."""
    a = y * 1.0
    r = a.reshape(-1)
    a += 0.5
    return (0.5 + np.sum(a * a)) + np.sum(r * r)
