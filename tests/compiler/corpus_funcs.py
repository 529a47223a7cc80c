"""The function corpus: small named functions, one language feature each, checked by one generic
checker (test_corpus.py). Every function is at module level (its source is readable) and takes
floats (loop_with_int_trip_count also an int). No test depends on line numbers here: the functions
test_errors.py expects to be refused mark their offending line with `# E:<id>`. Add cases freely.
"""
import math
import math as m
from math import sin

import numpy as np
import numpy as onp

SCALE = 2.5
OFFSET = -0.75
PAIR = (1.5, -0.5)


def assign_chain(x, y):
    a = x * y
    b = a + x
    c = b * b
    return c


def augmented_assignments(x, y):
    s = x
    s += y
    s *= x
    s -= 2.0
    s /= y
    s **= 2
    return s


def tuple_unpacking(x, y):
    a, b = x * y, x + y
    return a * b


def swap_by_unpacking(x, y):
    a, b = x, y
    a, b = b, a
    return a - 2.0 * b


def reassign_parameter(x, y):
    x = x * y
    x = sin(x) + x
    y = x * x
    return y


def int_and_float_constants(x, y):
    return 3 * x + 2.5 * y - 7 + x ** 2 / 4 + 1e-3 * y ** 3


def module_level_constants(x):
    return SCALE * x * x + OFFSET * x


def module_tuple_constant(x, y):
    a, b = PAIR
    return a * x + b * y * y


def default_argument(x, k=3.0):
    return k * x * x


def _weighted(a, b=2.0, c=0.5):
    return a * b + c * b * b


def keyword_arguments_at_call(x, y):
    return _weighted(c=x, a=y) + _weighted(x, c=y)


def _square(u):
    return u * u


def _cube_via_square(u):
    return _square(u) * u


def calls_user_functions(x, y):
    return _square(x) + _cube_via_square(x * y) + _square(_square(y))


def _polar(r, t):
    return r * math.cos(t), r * math.sin(t)


def unpacks_returned_tuple(r, t):
    a, b = _polar(r, t)
    return a * b + a


def nested_def(x, y):
    def inner(u):
        return u * y

    return inner(x) + inner(y)


def nested_def_with_default_from_enclosing(x, y):
    def inner(u, v=y * 2.0):
        return u * v

    return inner(x) + inner(y, v=x)


def nested_two_levels(x):
    c = x * 2.0

    def mid(u):
        def inner(v):
            return v * c

        return inner(u) + u

    return mid(x) * x


def _make_closure(c):
    def scaled(x):
        return c * x * x + c

    return scaled


closure_over_enclosing = _make_closure(1.7)
closure_over_enclosing.__name__ = "closure_over_enclosing"


def from_math_import_sin(x):
    return sin(x) * sin(2.0 * x)


def import_math_as_m(x, y):
    return m.exp(x * y) + m.log(y)


def import_numpy_as_onp(x, y):
    return onp.tanh(x) * onp.arctan(y) + onp.sqrt(x * x + 1.0)


def math_pi_and_e(x):
    return math.pi * x * x + math.e * x + np.pi


def fork_value_used_twice(x, y):
    a = x * y
    return a * a + math.sin(a)


def diamond(x):
    a = math.sin(x)
    b = math.cos(x)
    return a * b


def unused_input(x, y):
    return x * x


def constant_result(x):
    return 3.0


def keyword_only_parameter(x, *, y=2.0):
    return x * y + y * y


def numpy_and_math_mixed(x, y):
    return np.sin(x) * math.cos(y) + np.exp(x - y)


def with_docstring_and_pass(x):
    """A docstring, then a pass: neither has any effect."""
    pass
    return x * x * x


def annotated_assignment(x):
    a: float = x * x
    return a + x


def builtin_sum_max_min(x, y):
    return sum((x, y, x * y)) + max(x, y, x * y) + min(x, y)


def unary_plus_and_minus(x, y):
    return -x * +y - (-y)


def float_conversion(x):
    return float(x) * x


def power_chain(x, y):
    return (x / y) ** 1.5 + y ** x


def long_expression(x, y):
    # More than 50 operations in one expression.
    return (x * y + x / y - x * x + y * y * 0.5 - x * 3.0 + y / 2.0 + math.sin(x) * math.cos(y) - math.exp(x * 0.1) + math.log(y) * x - math.sqrt(x * x + y * y) + x * x * x * 0.01 - y * y * y * 0.02 + math.tanh(x - y) * 2.0 + x / (1.0 + y * y) - math.atan(x * y) + x * y * 0.3 - y / (x + 2.0) + 7.0)


def deep_inline_chain(x):
    return _cube_via_square(_square(x) + 1.0)


def uses_same_helper_with_different_args(x, y):
    return _weighted(x) * _weighted(y, 1.5)


def mod_and_floordiv(x, y):
    return x % y + (x // y) * y


# --- Functions the compiler must refuse (test_errors.py points at their lines) -------------------

def _bad_helper_with_try(u):
    try:  # E:corpus_try
        v = u * 2.0
    except ValueError:
        v = u
    return v


def calls_bad_helper(x):
    return _bad_helper_with_try(x) + x


def _bad_helper_gamma(u):
    return math.nextafter(u, 3.0) * u  # E:corpus_gamma


def calls_helper_without_rule(x):
    return _bad_helper_gamma(x * 2.0)


# --- Control flow (branches and loops; points stay away from the branch boundaries) ---------------

def if_else_branches(x, y):
    if x > y:
        z = x * y
    else:
        z = x + y * y
    return z * x


def if_elif_else(x):
    if x < -1.0:
        r = -x * x
    elif x < 1.0:
        r = math.sin(x)
    else:
        r = math.log(x) + 1.0
    return r * 2.0


def if_without_else(x, y):
    r = x * y
    if r > 1.0:
        r = r * r
    return r + y


def conditional_expression(x, y):
    return (x * x if x > y else y * math.exp(x)) + x


def and_or_values(x, y):
    a = (x > 0.0 and y * x) or x * 3.0
    return a * y


def early_return(x, y):
    if x > 1.0:
        return x * y
    z = x * x
    return z + y


def for_range_loop(x, y):
    acc = y
    for i in range(4):
        acc = acc * x + i
    return acc


def for_range_loop_with_bounds(x):
    s = 0.0
    for k in range(1, 7, 2):
        s = s + math.sin(k * x)
    return s


def while_loop(x):
    s = x
    n = 0
    while n < 3:
        s = s * s * 0.5 + x
        n = n + 1
    return s


def loop_with_break(x, y):
    acc = x
    for i in range(10):
        acc = acc * y
        if acc > 5.0:
            break
    return acc + x


def loop_with_continue(x):
    acc = 0.0
    for i in range(5):
        if i == 2:
            continue
        acc = acc + x ** (i + 1)
    return acc


def return_inside_loop(x):
    acc = x
    for i in range(6):
        acc = acc * 1.5
        if acc > 4.0:
            return acc * x
    return acc - x


def nested_loops(x, y):
    acc = 0.0
    for i in range(3):
        for j in range(2):
            acc = acc + x * (i + 1) + y * j * x
    return acc


def loop_with_branch_on_carried(x, y):
    acc = x
    for i in range(2):
        if acc > 1.0:
            acc = acc * y
    return acc


def while_with_branch(x):
    s = x
    n = 0
    while n < 4:
        if s > 1.0:
            s = s * 0.5 + x
        else:
            s = s * 3.0
        n = n + 1
    return s


def loop_branch_on_index(x):
    acc = x
    for i in range(4):
        if i % 2 == 0:
            acc = acc * x
        else:
            acc = acc + i * x
    return acc


def swap_inside_branch_inside_loop(x, y):
    a, b = x, y
    for i in range(3):
        if a > 0.0:
            a, b = b * 2.0, a
    return a * b + a


def loop_with_int_trip_count(x, n):
    acc = x
    for i in range(n):
        acc = acc * x + 1.0
    return acc


def branch_in_loop_reading_old_value(x, y):
    acc = x
    for i in range(3):
        acc = acc * y + acc if acc > 0.5 else acc + y
    return acc


def two_carried_values(x, y):
    a = x
    b = y
    for i in range(3):
        t = a
        a = b * 1.1
        b = t * a
    return a + b * b


def break_out_of_while_true(x):
    s = x
    while True:
        s = s * 1.3
        if s > 3.0:
            break
    return s * x
