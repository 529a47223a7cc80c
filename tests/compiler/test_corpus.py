"""The function corpus (corpus_funcs.py) through one generic checker, and the API's promises.

The checker compares each function's compiled gradient with central differences twice: through
`check_grad` (the compiler's own report) and directly through `runtime.gradcheck.numerical_grad`
(independent of `check_grad`'s plumbing); and the value from `value_and_grad` with the plain call.
"""
import inspect
import linecache
import math

import numpy as np
import pytest

import corpus_funcs as C
import corpus_user_sin
from compiler import GradError, check_grad, grad, value_and_grad
from runtime.gradcheck import numerical_grad

RTOL = 1e-6
ATOL = 1e-8

TWO_POS = [(0.7, 1.3), (1.9, 0.45)]
ONE = [(0.7,), (-1.2,)]

# (function, points). Points avoid kinks, domain edges and integer ratios (for % and //).
CORPUS = [
    (C.assign_chain, [(0.7, 1.3), (-1.9, 0.45)]),
    (C.augmented_assignments, TWO_POS),
    (C.tuple_unpacking, [(0.7, -1.3), (1.9, 0.45)]),
    (C.swap_by_unpacking, TWO_POS),
    (C.reassign_parameter, [(0.7, 1.3), (-1.9, 0.45)]),
    (C.int_and_float_constants, [(0.7, -1.3), (1.9, 0.45)]),
    (C.module_level_constants, ONE),
    (C.module_tuple_constant, TWO_POS),
    (C.default_argument, ONE),
    (C.keyword_arguments_at_call, [(0.7, -1.3), (1.9, 0.45)]),
    (C.calls_user_functions, [(0.7, -1.3), (1.9, 0.45)]),
    (C.unpacks_returned_tuple, [(0.7, -1.3), (1.9, 0.45)]),
    (C.nested_def, [(0.7, -1.3), (1.9, 0.45)]),
    (C.nested_def_with_default_from_enclosing, [(0.7, -1.3), (1.9, 0.45)]),
    (C.nested_two_levels, ONE),
    (C.closure_over_enclosing, ONE),
    (C.from_math_import_sin, ONE),
    (C.import_math_as_m, TWO_POS),
    (C.import_numpy_as_onp, [(0.7, -1.3), (1.9, 0.45)]),
    (corpus_user_sin.uses_user_sin, ONE),
    (C.math_pi_and_e, ONE),
    (C.fork_value_used_twice, [(0.7, -1.3), (1.9, 0.45)]),
    (C.diamond, ONE),
    (C.unused_input, [(0.7, -1.3), (1.9, 0.45)]),
    (C.constant_result, ONE),
    (C.numpy_and_math_mixed, [(0.7, -1.3), (1.9, 0.45)]),
    (C.with_docstring_and_pass, ONE),
    (C.annotated_assignment, ONE),
    (C.builtin_sum_max_min, [(0.7, -1.3), (1.9, 0.45), (-0.3, 2.5)]),
    (C.unary_plus_and_minus, [(0.7, -1.3), (1.9, 0.45)]),
    (C.float_conversion, ONE),
    (C.power_chain, TWO_POS),
    (C.long_expression, TWO_POS),
    (C.deep_inline_chain, ONE),
    (C.uses_same_helper_with_different_args, [(0.7, -1.3), (1.9, 0.45)]),
    (C.mod_and_floordiv, [(5.3, 2.1), (-5.3, 2.1), (5.3, -2.1)]),
    # control flow: points keep every test at least ~0.1 away from its boundary
    (C.if_else_branches, [(0.7, 1.3), (1.9, 0.45), (-1.6, 0.8)]),
    (C.if_elif_else, [(-1.6,), (0.7,), (1.9,)]),
    (C.if_without_else, [(0.7, 1.3), (1.9, 0.45)]),
    (C.conditional_expression, [(0.7, 1.3), (1.9, 0.45)]),
    (C.and_or_values, [(0.7, 1.3), (-1.6, 0.8)]),
    (C.early_return, [(0.7, 1.3), (1.9, 0.45)]),
    (C.for_range_loop, [(0.7, 1.3), (-1.6, 0.8)]),
    (C.for_range_loop_with_bounds, [(0.7,), (1.9,)]),
    (C.while_loop, [(0.7,), (1.9,), (-1.6,)]),
    (C.loop_with_break, [(0.7, 1.3), (1.9, 0.45)]),
    (C.loop_with_continue, [(0.7,), (-1.6,)]),
    (C.return_inside_loop, [(0.7,), (1.9,), (-1.6,)]),
    (C.nested_loops, [(0.7, 1.3), (1.9, 0.45)]),
    (C.branch_in_loop_reading_old_value, [(0.7, 1.3), (1.9, 0.45)]),
    (C.two_carried_values, [(0.7, 1.3), (1.9, 0.45)]),
    (C.break_out_of_while_true, [(0.7,), (1.9,)]),
]

# Loops with a branch inside: the reverse loop once wrote the new adjoint of a carried value over the
# old one before the branch had finished reading it (fixed in emit.coalesce_carried).
CORPUS += [
    (C.loop_with_branch_on_carried, [(1.5, 2.0), (1.2, 0.9)]),
    (C.while_with_branch, [(0.7,)]),
    (C.loop_branch_on_index, [(0.7,)]),
    (C.swap_inside_branch_inside_loop, [(0.7, 1.3)]),
]
# Cases the compiler currently gets wrong (strict xfail: they must start passing when it is fixed).
CORPUS_KNOWN_BUGS = []

POINTS = [pytest.param(fn, p, id=f"{fn.__name__}-{i}") for fn, pts in CORPUS for i, p in enumerate(pts)]
POINTS += [pytest.param(fn, p, id=f"{fn.__name__}-{i}", marks=pytest.mark.xfail(strict=True, reason=why))
           for fn, pts, why in CORPUS_KNOWN_BUGS for i, p in enumerate(pts)]


_compiled_cache = {}


def _compiled(fn, n):
    """grad and value_and_grad of `fn` wrt its first n parameters (the rest keep their defaults)."""
    if (fn, n) not in _compiled_cache:
        wrt = tuple(range(n))
        _compiled_cache[fn, n] = (grad(fn, wrt=wrt), value_and_grad(fn, wrt=wrt))
    return _compiled_cache[fn, n]


def check_against_central_differences(fn, point):
    """The generic checker: every gradient vs numerical_grad, and the value vs the plain call."""
    g_fn, vg_fn = _compiled(fn, len(point))
    grads = g_fn(*point)
    value, grads2 = vg_fn(*point)
    assert value == fn(*point)
    assert grads2 == grads
    assert len(grads) == len(point)
    for i, gi in enumerate(grads):
        assert np.ndim(gi) == 0 and np.isfinite(gi)
        numeric = numerical_grad(fn, point, i)
        assert float(gi) == pytest.approx(numeric, rel=RTOL, abs=ATOL), f"d/d arg {i} at {point}"


@pytest.mark.parametrize("fn, point", POINTS)
def test_corpus_matches_central_differences(fn, point):
    check_against_central_differences(fn, point)


@pytest.mark.parametrize("fn, point", POINTS)
def test_corpus_passes_check_grad(fn, point):
    report = check_grad(fn, *point)
    assert report.passed, str(report)
    # check_grad checks every float argument, defaults included
    names = list(inspect.signature(fn).parameters)
    assert [row[0] for row in report.rows][:len(point)] == names[:len(point)]


def test_corpus_names_are_unique():
    names = [fn.__name__ for fn, _ in CORPUS] + [fn.__name__ for fn, _, _ in CORPUS_KNOWN_BUGS]
    assert len(names) == len(set(names))


def test_every_public_corpus_function_is_in_the_corpus():
    listed = {fn for fn, _ in CORPUS} | {fn for fn, _, _ in CORPUS_KNOWN_BUGS}
    public = {f for n, f in vars(C).items() if inspect.isfunction(f) and f.__module__ == "corpus_funcs"
              and not n.startswith("_")}
    special = {C.keyword_only_parameter, C.calls_bad_helper, C.calls_helper_without_rule,
               C.loop_with_int_trip_count}  # tested on their own below / in test_errors.py
    assert public - special <= listed, sorted(f.__name__ for f in public - special - listed)


# --- corpus cases with hand-derived gradients (a numerical match alone could hide a shared slip) ----

def test_user_function_named_sin_is_inlined_not_mapped_to_math_sin():
    for x in (0.7, -1.2):
        # d/dx [(x^3 - 2x) + math.sin(x)]
        assert grad(corpus_user_sin.uses_user_sin)(x) == pytest.approx(3 * x * x - 2 + math.cos(x), rel=1e-14)


def test_long_expression_has_at_least_50_operations():
    assert len(grad(C.long_expression).graph.eqns) >= 50


def test_swap_by_unpacking_swaps():
    # a, b = y, x; return y - 2x
    assert grad(C.swap_by_unpacking, wrt=(0, 1))(0.7, 1.3) == (-2.0, 1.0)


def test_mod_plus_floordiv_identity_has_gradient_1_0():
    # x % y + (x // y) * y == x for all y != 0: d/dx = 1, d/dy = 0.
    gx, gy = grad(C.mod_and_floordiv, wrt=(0, 1))(5.3, 2.1)
    assert gx == pytest.approx(1.0, rel=1e-15)
    assert gy == pytest.approx(0.0, abs=1e-15)


def test_math_pi_and_e_are_the_constants():
    assert grad(C.math_pi_and_e)(0.7) == pytest.approx(2 * math.pi * 0.7 + math.e, rel=1e-15)


def test_keyword_arguments_at_call_site_bind_by_name():
    # _weighted(a, b=2, c=.5) = a b + c b^2; called as _weighted(c=x, a=y) + _weighted(x, c=y)
    # = 2y + 4x + 2x + 4y  ->  d/dx = 6, d/dy = 6
    assert grad(C.keyword_arguments_at_call, wrt=(0, 1))(0.7, -1.3) == pytest.approx((6.0, 6.0), rel=1e-15)


def test_nested_default_is_evaluated_in_enclosing_scope():
    # inner(x) + inner(y, v=x) = x * 2y + y * x = 3xy
    x, y = 0.7, -1.3
    assert grad(C.nested_def_with_default_from_enclosing, wrt=(0, 1))(x, y) == pytest.approx(
        (3 * y, 3 * x), rel=1e-15)


# --- keyword-only parameters (the positional numerical_grad needs an adapter) ----------------------

@pytest.mark.parametrize("x, y", [(0.7, -1.3), (1.9, 0.45)])
def test_keyword_only_parameter_matches_central_differences(x, y):
    def positional(a, b):
        return C.keyword_only_parameter(a, y=b)

    gx, gy = grad(C.keyword_only_parameter, wrt=("x", "y"))(x, y=y)
    assert gx == pytest.approx(numerical_grad(positional, (x, y), 0), rel=RTOL, abs=ATOL)
    assert gy == pytest.approx(numerical_grad(positional, (x, y), 1), rel=RTOL, abs=ATOL)
    assert (gx, gy) == pytest.approx((y, x + 2 * y), rel=1e-15)


def test_keyword_only_parameter_default_is_used():
    assert grad(C.keyword_only_parameter, wrt=("x", "y"))(0.7) == pytest.approx((2.0, 0.7 + 4.0), rel=1e-15)


def test_check_grad_with_keyword_only_parameter():
    report = check_grad(C.keyword_only_parameter, 0.7, y=-1.3)
    assert report.passed, str(report)
    assert [row[0] for row in report.rows] == ["x", "y"]
    assert report["y"][2] == pytest.approx(0.7 + 2 * -1.3, rel=1e-6)  # the numerical column


# --- wrt ----------------------------------------------------------------------------------------------

def _xy(x, y, z):
    return x * x * y + 3.0 * z


def test_wrt_default_is_first_parameter_returned_bare():
    assert grad(_xy)(0.7, -1.3, 2.0) == pytest.approx(2 * 0.7 * -1.3, rel=1e-15)


def test_wrt_by_index_returns_bare_float():
    g = grad(_xy, wrt=1)(0.7, -1.3, 2.0)
    assert type(g) is float and g == pytest.approx(0.49, rel=1e-15)


def test_wrt_by_name_returns_bare_float():
    assert grad(_xy, wrt="z")(0.7, -1.3, 2.0) == 3.0


def test_wrt_negative_index_counts_from_the_end():
    assert grad(_xy, wrt=-1)(0.7, -1.3, 2.0) == 3.0


def test_wrt_tuple_returns_tuple_in_the_given_order():
    g = grad(_xy, wrt=("z", 0, "y"))(0.7, -1.3, 2.0)
    assert g == pytest.approx((3.0, 2 * 0.7 * -1.3, 0.49), rel=1e-15)


def test_wrt_one_element_tuple_returns_one_element_tuple():
    assert grad(_xy, wrt=("z",))(0.7, -1.3, 2.0) == (3.0,)


def test_wrt_list_behaves_like_tuple():
    assert grad(_xy, wrt=[2])(0.7, -1.3, 2.0) == (3.0,)


def test_wrt_same_parameter_twice_gives_the_same_gradient_twice():
    g = grad(_xy, wrt=("x", "x", 0))(0.7, -1.3, 2.0)
    assert g[0] == g[1] == g[2] == pytest.approx(2 * 0.7 * -1.3, rel=1e-15)


def test_value_and_grad_with_tuple_wrt_shape():
    value, g = value_and_grad(_xy, wrt=(0, 2))(0.7, -1.3, 2.0)
    assert value == _xy(0.7, -1.3, 2.0)
    assert g == pytest.approx((2 * 0.7 * -1.3, 3.0), rel=1e-15)


def test_non_wrt_argument_may_be_an_int():
    assert grad(_xy, wrt="x")(0.7, 2, 2) == pytest.approx(2 * 0.7 * 2, rel=1e-15)


# --- zeros --------------------------------------------------------------------------------------------

def _sign_bit(v):
    return math.copysign(1.0, v)


def test_unused_input_gradient_is_exactly_positive_zero_float():
    g = grad(C.unused_input, wrt=(0, 1))(0.7, -1.3)
    assert g[1] == 0.0 and type(g[1]) is float and _sign_bit(g[1]) == 1.0
    assert g[0] == pytest.approx(1.4, rel=1e-15)


def test_constant_result_gradient_is_exactly_zero():
    g = grad(C.constant_result)(0.7)
    assert g == 0.0 and type(g) is float and _sign_bit(g) == 1.0


def test_value_and_grad_of_unused_input():
    value, g = value_and_grad(C.unused_input, wrt="y")(0.7, -1.3)
    assert value == 0.7 * 0.7 and g == 0.0


# --- the decorated object -------------------------------------------------------------------------

def test_decorated_keeps_wrapped_name_doc_and_source():
    g = grad(C.with_docstring_and_pass)
    assert g.__wrapped__ is C.with_docstring_and_pass
    assert g.__name__ == "with_docstring_and_pass"
    assert g.__qualname__ == C.with_docstring_and_pass.__qualname__
    assert g.__doc__ == C.with_docstring_and_pass.__doc__
    assert g.__module__ == "corpus_funcs"
    assert isinstance(g.source, str) and "def " in g.source
    assert g.wrt == ("x",)
    assert inspect.signature(g) == inspect.signature(C.with_docstring_and_pass)


def test_source_is_exactly_what_runs():
    g = grad(C.fork_value_used_twice, wrt=(0, 1))
    filename = g.__code__.co_filename
    assert "".join(linecache.getlines(filename)) == g.source
    compile(g.source, "<check>", "exec")  # valid Python


def test_value_and_grad_value_equals_plain_function_value():
    for fn, pts in CORPUS:
        for p in pts:
            assert _compiled(fn, len(p))[1](*p)[0] == fn(*p), fn.__name__


def test_differentiating_a_compiled_gradient_gives_the_second_derivative():
    d1 = grad(C.diamond)
    d2 = grad(d1)
    for x in (0.3, 1.1):
        assert d2(x) == pytest.approx(numerical_grad(d1, [x], 0), rel=1e-6, abs=1e-9)


# --- the user's environment is read at call time ----------------------------------------------------

def test_global_changed_after_decoration_is_seen_at_next_call(monkeypatch):
    g = grad(C.module_level_constants)
    x = 0.7
    assert g(x) == pytest.approx(2 * 2.5 * x - 0.75, rel=1e-15)
    monkeypatch.setattr(C, "SCALE", -4.0)
    monkeypatch.setattr(C, "OFFSET", 1.25)
    assert g(x) == pytest.approx(2 * -4.0 * x + 1.25, rel=1e-15)


def test_global_in_inlined_callee_module_changed_after_decoration(monkeypatch):
    import corpus_funcs

    def caller(x):
        return corpus_funcs.module_level_constants(x) * 2.0

    g = grad(caller)
    monkeypatch.setattr(corpus_funcs, "SCALE", 1.0)
    assert g(0.7) == pytest.approx(2.0 * (2 * 1.0 * 0.7 - 0.75), rel=1e-15)


def _make_counter_closure():
    c = 1.0

    def scaled(x):
        return c * x * x

    def set_c(value):
        nonlocal c
        c = value

    return scaled, set_c


def test_closure_cell_changed_after_decoration_is_seen_at_next_call():
    scaled, set_c = _make_counter_closure()
    g = grad(scaled)
    assert g(2.0) == 4.0
    set_c(5.0)
    assert g(2.0) == 20.0


# --- calling conventions and argument types -----------------------------------------------------

def test_compiled_function_accepts_keyword_calls():
    g = grad(_xy, wrt=(0, 1, 2))
    expected = g(0.7, -1.3, 2.0)
    assert g(x=0.7, y=-1.3, z=2.0) == expected
    assert g(0.7, z=2.0, y=-1.3) == expected


def test_compiled_function_uses_the_users_default_arguments():
    g = grad(C.default_argument, wrt=("x", "k"))
    assert g(0.7) == pytest.approx((2 * 3.0 * 0.7, 0.49), rel=1e-15)
    assert g(0.7, k=2.0) == pytest.approx((2 * 2.0 * 0.7, 0.49), rel=1e-15)


def test_compiled_function_wrong_arity_is_a_type_error_like_python():
    g = grad(_xy)
    with pytest.raises(TypeError):
        g(0.7, 1.0)
    with pytest.raises(TypeError):
        g(0.7, 1.0, 2.0, 3.0)


@pytest.mark.parametrize("convert", [np.float64, lambda v: np.array(v), lambda v: np.array(v, dtype=np.float32)],
                         ids=["np.float64", "0-d float64 array", "0-d float32 array"])
def test_float_like_arguments_are_accepted(convert):
    g = grad(_xy, wrt=(0, 1))
    expected = g(0.75, -1.25, 2.0)  # exactly representable in float32 too
    args = convert(0.75), convert(-1.25)
    got = g(*args, 2.0)
    assert got == expected
    # NumPy float64s in, NumPy float64s out; a 0-d array or a float32 is taken as a float
    want = np.float64 if type(args[0]) is np.float64 else float
    assert all(type(v) is want for v in got), [type(v) for v in got]


def test_float_like_arguments_only_some_converted():
    g = grad(_xy, wrt=(0, 1))
    assert g(np.float64(0.75), -1.25, 2.0) == g(0.75, np.array(-1.25), 2.0) == g(0.75, -1.25, 2.0)


def test_inputs_are_never_mutated():
    a = np.array(0.75)
    b = np.float64(-1.25)
    before = (a.copy(), a.dtype, a.shape, float(b))
    g = value_and_grad(_xy, wrt=(0, 1))
    g(a, b, 2.0)
    g(x=a, y=b, z=2.0)
    assert a == before[0] and a.dtype == before[1] and a.shape == before[2] and float(b) == before[3]
    lst_args = [0.75, -1.25, 2.0]
    g(*lst_args)
    assert lst_args == [0.75, -1.25, 2.0]


# --- loops and branches, by hand ------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 3])
def test_loop_trip_count_from_an_int_argument_including_zero_trips(n):
    x = 0.7
    # acc_{k+1} = acc_k x + 1, acc_0 = x  ->  acc_n = x^(n+1) + x^(n-1) + ... + 1 (for n >= 1)
    expected = (n + 1) * x ** n + sum(k * x ** (k - 1) for k in range(1, n))
    assert grad(C.loop_with_int_trip_count, wrt="x")(x, n) == pytest.approx(expected, rel=1e-14)
    assert grad(C.loop_with_int_trip_count, wrt="x")(x, n) == pytest.approx(
        numerical_grad(C.loop_with_int_trip_count, (x, n), 0), rel=RTOL)


def test_loop_with_branch_on_carried_value_by_hand():
    # From (1.5, 2.0) both iterations take the branch: f = x y^2, so (df/dx, df/dy) = (y^2, 2 x y).
    assert grad(C.loop_with_branch_on_carried, wrt=(0, 1))(1.5, 2.0) == (4.0, 6.0)


# --- gradient types ---------------------------------------------------------------------------------

INT_GLOBAL = 2


def _times_int_argument(x, n):
    return x * n


def _times_int_global(x):
    return INT_GLOBAL * x


def _times_comparison(x, y):
    return x * (x > y) + y


# Once a bug: the gradient came back as an int or bool when the local derivative was one
# (simplify() folds `1.0 * n` to `n`); float_gradients restores Python's float.


@pytest.mark.parametrize("fn, args, expected", [
    pytest.param(_times_int_argument, (0.7, 3), 3.0, id="int-argument-not-in-wrt"),
    pytest.param(_times_int_global, (0.7,), 2.0, id="int-global"),
    pytest.param(_times_comparison, (0.7, 0.3), 1.0, id="bool-from-comparison"),
])
def test_gradient_of_float_argument_is_a_float(fn, args, expected):
    g = grad(fn, wrt=0)(*args)
    assert g == expected and type(g) is float


@pytest.mark.parametrize("fn, args, expected", [
    pytest.param(_times_int_argument, (0.7, 3), 3.0, id="int-argument-not-in-wrt"),
    pytest.param(_times_int_global, (0.7,), 2.0, id="int-global"),
    pytest.param(_times_comparison, (0.7, 0.3), 1.0, id="bool-from-comparison"),
])
def test_gradient_of_float_argument_has_the_right_value(fn, args, expected):
    assert grad(fn, wrt=0)(*args) == expected
