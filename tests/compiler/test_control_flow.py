"""Control flow in the static compiler, gradient-checked against central differences.

Points are chosen away from branch switches (a difference quotient across a switch would measure the
jump, not the derivative); several points per function take different paths."""
import math

import numpy as np

import pytest

from compiler import GradError, check_grad, grad, value_and_grad
from runtime.gradcheck import compare, numerical_grad

import control_funcs as cf

CASES = [
    ("if_else_then", cf.if_else, (0.7, 0.3)),
    ("if_else_else", cf.if_else, (0.2, 0.3)),
    ("elif_first", cf.elif_chain, (-1.7,)),
    ("elif_second", cf.elif_chain, (0.1,)),
    ("elif_third", cf.elif_chain, (1.3,)),
    ("elif_else", cf.elif_chain, (3.1,)),
    ("one_branch_assigns_taken", cf.assigned_in_one_branch, (0.6, 1.4)),
    ("one_branch_assigns_not_taken", cf.assigned_in_one_branch, (-0.6, 1.4)),
    ("condition_on_active_value_pos", cf.condition_on_differentiated_value, (1.7,)),
    ("condition_on_active_value_neg", cf.condition_on_differentiated_value, (0.4,)),
    ("ifexp_then", cf.conditional_expression, (0.5, 0.2)),
    ("ifexp_else", cf.conditional_expression, (0.1, 0.2)),
    ("and_true", cf.short_circuit, (0.8,)),
    ("and_false_short_circuit", cf.short_circuit, (-0.8,)),
    ("for_constant_bounds", cf.for_constant_bounds, (0.9,)),
    ("for_argument_bounds", cf.for_argument_bounds, (0.9, 9)),
    ("recurrence", cf.recurrence, (0.5, 0.3)),
    ("nested_loops", cf.nested_loops, (0.3, 0.7)),
    ("swap_in_loop", cf.swap_in_loop, (0.4, 0.9)),
    ("break_taken", cf.loop_with_break, (0.7,)),
    ("break_not_taken", cf.loop_with_break, (0.01,)),
    ("continue", cf.loop_with_continue, (0.4,)),
    ("early_return_first", cf.early_return, (1.5, 0.3)),
    ("early_return_second", cf.early_return, (0.9, 0.3)),
    ("early_return_fallthrough", cf.early_return, (0.2, 0.3)),
    ("return_inside_loop", cf.return_inside_loop, (1.3,)),
    ("return_after_loop", cf.return_inside_loop, (0.9,)),
    ("while_newton", cf.newton_sqrt, (2.0,)),
    ("while_data_dependent", cf.while_data_dependent, (2.0,)),
    ("while_true_break", cf.while_with_break, (0.7,)),
    ("enumerate_zip", cf.enumerate_and_zip, (0.7,)),
    ("list_append_sum_len", cf.list_accumulation, (0.7,)),
    ("zero_trip_loop", cf.zero_trip_loop, (0.7,)),
    ("inlined_helper_with_return_in_loop", cf.calls_helper_in_loop, (1.2,)),
    ("numpy_scalar_in_loop", cf.loop_variable_in_numpy, (0.3,)),
]


@pytest.mark.parametrize("name,fn,args", CASES, ids=[c[0] for c in CASES])
def test_gradient_matches_central_differences(name, fn, args):
    floats = [i for i, a in enumerate(args) if isinstance(a, float)]
    value, grads = value_and_grad(fn, wrt=tuple(floats))(*args)
    assert value == pytest.approx(fn(*args), rel=1e-12, abs=1e-12)
    for i, g in zip(floats, grads):
        numeric = numerical_grad(fn, args, i)
        _, _, ok = compare(g, numeric)
        assert ok, (name, i, g, numeric)
    assert check_grad(fn, *args, wrt=tuple(floats)).passed


def test_newton_sqrt_derivative_is_the_analytic_one():
    for a in (0.5, 2.0, 9.0, 123.0):
        assert grad(cf.newton_sqrt)(a) == pytest.approx(0.5 / math.sqrt(a), rel=1e-9)


def test_recurrence_matches_a_hand_derived_backward_loop():
    w, b, n = 0.8, 0.1, 30
    hs = [0.0]
    for _ in range(n):
        hs.append(math.tanh(w * hs[-1] + b))
    dh, dw, db = 0.0, 0.0, 0.0
    for k in range(n, 0, -1):
        dh += 2.0 * hs[k]
        dpre = dh * (1.0 - hs[k] ** 2)
        dw += dpre * hs[k - 1]
        db += dpre
        dh = dpre * w
    got = grad(cf.recurrence, wrt=(0, 1))(w, b, n)
    assert got == pytest.approx((dw, db), rel=1e-12)


def test_loop_variable_read_after_the_loop_keeps_its_last_value():
    assert value_and_grad(reads_loop_variable_after)(0.7, 3) == pytest.approx((0.7 * 8 * 2, 16.0))
    assert check_grad(reads_loop_variable_after, 0.7, 4).passed


def test_zero_trip_loop_gradient_is_that_of_the_code_around_it():
    assert grad(cf.zero_trip_loop)(0.7, 0) == pytest.approx(1.4)
    assert grad(cf.zero_trip_loop)(0.7, 3) == pytest.approx(2 * 64 * 0.7)


def test_generated_reverse_loop_is_readable():
    source = value_and_grad(cf.recurrence, wrt=(0, 1)).source
    assert "for i in range(n):" in source
    assert "in reversed(tape):" in source
    assert "# gradient of line" in source
    compile(source, "<check>", "exec")


def test_loop_tape_keeps_only_what_the_adjoint_reads():
    source = grad(cf.recurrence, wrt=(0, 1)).source
    pushes = [line.strip() for line in source.splitlines() if ".append(" in line]
    assert pushes == ["tape.append(h)"], pushes  # one float per iteration, not the whole state


def test_break_loop_runs_the_reverse_pass_for_the_iterations_that_ran():
    # s grows by x*i until it passes 3.0; the gradient must only see the iterations that ran
    x = 0.7
    g = grad(cf.loop_with_break)(x)
    numeric = numerical_grad(cf.loop_with_break, (x,), 0)
    assert g == pytest.approx(numeric, rel=1e-7)


def loop_over_list(x):  # (a list or tuple is unrolled now; an iterator is not)
    total = 0.0
    for v in reversed(range(3)):
        total += v * x
    return total


def loop_else(x):
    for i in range(3):
        x = x * 2.0
    else:
        x = x + 1.0
    return x


def reads_loop_variable_after(x, n=3):
    for i in range(n):
        x = x * 2.0
    return x * i


def assigns_loop_variable(x):
    for i in range(3):
        i = 2
        x = x * i
    return x


def not_every_path_returns(x):
    if x > 0.0:
        return x


def recursive(x, n=3):
    if n == 0:
        return x
    return recursive(x * 2.0, n - 1)


@pytest.mark.parametrize("fn,needle", [
    (loop_over_list, "range("),
    (loop_else, "for ... else"),
    (assigns_loop_variable, "its own variable"),
    (not_every_path_returns, "every path"),
], ids=["loop_over_list", "for_else", "assigns_loop_variable", "missing_return"])
def test_unsupported_control_flow_is_a_clear_error(fn, needle):
    with pytest.raises(GradError) as info:
        grad(fn)
    message = str(info.value)
    assert needle in message
    assert "test_control_flow.py" in message and "^" in message


@pytest.mark.parametrize("fn", [cf.rows_of_array, cf.rows_with_break])
def test_loop_over_array_rows_matches_central_differences(fn):
    rng = np.random.default_rng(7)
    X, w = rng.normal(size=(6, 3)), rng.normal(size=3)
    value, (gX, gw) = value_and_grad(fn, wrt=(0, 1))(X, w)
    assert value == pytest.approx(fn(X, w), rel=1e-12)
    assert compare(gX, numerical_grad(fn, (X, w), 0))[2]
    assert compare(gw, numerical_grad(fn, (X, w), 1))[2]
    assert gX.shape == X.shape and gw.shape == w.shape


def test_reverse_loop_accumulates_into_one_buffer():
    rng = np.random.default_rng(8)
    X, w = rng.normal(size=(6, 3)), rng.normal(size=3)
    source = grad(cf.rows_of_array, wrt=(0, 1)).source_for(X, w)
    assert "dX = np.zeros_like(X)" in source and "dX[k] += " in source
    assert "zeros_like(X)" not in source.split("reversed(tape)")[1]  # no new array per iteration


def test_list_built_in_a_loop_then_stacked():
    x = np.array([0.3, -0.8, 1.1])
    g = grad(cf.stacked_list)(x)
    assert compare(g, numerical_grad(cf.stacked_list, (x,), 0))[2]
    assert "np.stack(" in grad(cf.stacked_list).source_for(x)


def test_list_of_scalars_stacked_along_axis_1():
    g = grad(cf.stacked_scalars_axis1, wrt=(0, 1))(0.7, -0.4)
    for i in range(2):
        assert g[i] == pytest.approx(numerical_grad(cf.stacked_scalars_axis1, (0.7, -0.4), i), rel=1e-7)


# --- lists built with append(): one list, whichever name holds it ---------------------------------

def list_alias_append(x):
    ys = []
    zs = ys
    zs.append(x)
    ys.append(x * x)
    return sum(zs) + len(ys)


def list_alias_in_loop(x):
    ys = []
    zs = ys
    for i in range(3):
        ys.append(x * i)
    return sum(zs)


def _mean_of(values):
    return sum(values) / len(values)


def list_read_by_helper(x):
    ys = []
    ys.append(x)
    ys.append(x * x)
    return _mean_of(ys)


def _append_to(values, v):
    values.append(v)
    return 0.0


def list_appended_by_helper(x):
    ys = []
    t = _append_to(ys, x)
    return sum(ys) + t


def list_appended_by_nested_def(x):
    ys = []

    def add(v):
        ys.append(v)
        return 0.0

    t = add(x)
    return sum(ys) + t + x


@pytest.mark.parametrize("fn", [list_alias_append, list_alias_in_loop, list_read_by_helper])
def test_a_list_is_one_list_whichever_name_holds_it(fn):
    value, g = value_and_grad(fn)(0.7)
    assert value == pytest.approx(fn(0.7), rel=1e-12)
    assert g == pytest.approx(numerical_grad(fn, (0.7,), 0), rel=1e-6)


@pytest.mark.parametrize("fn", [list_appended_by_helper, list_appended_by_nested_def])
def test_appending_to_another_functions_list_is_refused(fn):
    # the append would have to reach the caller's list: refused, never silently dropped
    with pytest.raises(GradError, match=r"supported on a list started as `\w+ = \[\]` in this function"):
        grad(fn)
