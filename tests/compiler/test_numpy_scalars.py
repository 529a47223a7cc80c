"""Scalar code spelled with NumPy, called with Python floats or NumPy float64s: NumPy's semantics
(inf and nan with warnings, NumPy scalars out), spelled with operators wherever an operand is sure
to be a NumPy scalar (`c * c`, not `np.multiply(c, c)`: a tenth of the cost, the same arithmetic)."""
import math
import warnings

import numpy as np
import pytest

from compiler import grad, hessian, jvp, value_and_grad


def s1_numpy(x, y, z):
    a = x * y + z
    b = np.sin(a) * np.exp(-x * x)
    c = np.tanh(b + y) - np.log(1.0 + z * z)
    d = c * c + a / (1.0 + b * b)
    e = np.sqrt(d * d + 1.0) * np.cos(x - y)
    f = e * a - b * c + d / (2.0 + np.sin(z))
    g = np.exp(-f * f * 0.01) + np.arctan(e) * x
    h = g * y - f * z + np.log1p(c * c)
    return h * h + g - a * e


def s2_numpy(w, b, n=30):
    h = 0.0
    total = 0.0
    for _ in range(n):
        h = np.tanh(w * h + b)
        total += h * h
    return total


def log_of(x):
    return np.log(x)


def sqrt_of(x):
    return np.sqrt(x)


def ratio(x, y):
    return x / y


def linear(x, y):
    return 3.0 * x + np.sin(y)


def central(f, args, i, h=1e-6):
    up, down = list(args), list(args)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


NUMPY_UFUNC_ARITHMETIC = ("np.multiply", "np.subtract", "np.true_divide", "np.divide", "np.add",
                          "np.negative")


@pytest.mark.parametrize("kind", [float, np.float64], ids=["float", "np.float64"])
@pytest.mark.parametrize("f, args", [(s1_numpy, (0.3, -0.7, 0.45)), (s2_numpy, (0.8, 0.1))],
                         ids=["S1", "S2"])
def test_numpy_spelled_scalar_code_is_exact_in_both_argument_types(f, args, kind):
    args = tuple(kind(a) for a in args)
    wrt = tuple(range(len(args)))
    value, grads = value_and_grad(f, wrt=wrt)(*args)
    assert value == f(*args)  # the value as NumPy computes it, bit for bit
    for i, g in enumerate(grads):
        assert g == pytest.approx(central(f, [float(a) for a in args], i), rel=1e-7, abs=1e-9)
        assert type(g) is np.float64  # NumPy's functions give NumPy scalars, in both cases


def test_numpy_float64_arguments_get_operators_for_numpy_arithmetic():
    g = value_and_grad(s1_numpy, wrt=(0, 1, 2))
    source = g.source_for(np.float64(0.3), np.float64(-0.7), np.float64(0.45))
    assert "type(x) is not float64" in source
    for spelled in NUMPY_UFUNC_ARITHMETIC:
        assert spelled + "(" not in source, spelled
    # with Python floats, an operand that may be a Python float keeps the ufunc (NumPy's
    # semantics: 1/0 is inf there, not ZeroDivisionError); every other one is an operator
    source = g.source
    assert "np.multiply(" not in source and "np.subtract(" not in source
    assert source.count("np.divide(") <= 1


def test_a_log_at_zero_gives_inf_with_a_warning_not_an_error():
    g = value_and_grad(log_of)
    for x in (0.0, np.float64(0.0)):
        with pytest.warns(RuntimeWarning):
            value, dx = g(x)
        assert value == -math.inf and dx == math.inf and type(dx) is np.float64


def test_a_sqrt_at_zero_gives_an_infinite_derivative_with_a_warning():
    g = grad(sqrt_of)
    for x in (0.0, np.float64(0.0)):
        with pytest.warns(RuntimeWarning):
            assert g(x) == math.inf


def test_numpy_float64_arguments_keep_numpy_semantics_in_the_users_own_operators():
    # the user's own x / y on float64s is inf at y = 0 (NumPy's arithmetic), as their function gives
    x, y = np.float64(1.0), np.float64(0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ratio(x, y)
        value, (dx, dy) = value_and_grad(ratio, wrt=(0, 1))(x, y)
    assert value == expected == math.inf
    assert dx == math.inf and dy == -math.inf
    with pytest.raises(ZeroDivisionError):  # Python floats: Python's arithmetic, as the function
        value_and_grad(ratio, wrt=(0, 1))(1.0, 0.0)


def test_the_gradient_of_a_float64_is_a_float64_even_when_it_is_a_constant():
    g = grad(linear, wrt=(0, 1))
    dx, dy = g(np.float64(0.5), np.float64(0.25))
    assert (dx, dy) == (3.0, math.cos(0.25)) and type(dx) is np.float64 and type(dy) is np.float64
    dx, dy = g(0.5, 0.25)
    assert type(dx) is float  # a Python float's: a Python float (3.0 is one)
    dx, dy = g(np.float64(0.5), 0.25)  # mixed: each gradient in its own argument's type
    assert type(dx) is np.float64


def test_math_spelled_code_accepts_numpy_float64s():
    def f(x, y):
        return math.sin(x) * y + x / y
    g = value_and_grad(f, wrt=(0, 1))
    for args in [(0.3, 0.7), (np.float64(0.3), np.float64(0.7))]:
        value, (dx, dy) = g(*args)
        assert value == f(*args)
        assert dx == pytest.approx(math.cos(0.3) * 0.7 + 1 / 0.7, rel=1e-12)
        assert dy == pytest.approx(math.sin(0.3) - 0.3 / 0.49, rel=1e-12)
        assert type(dx) is type(args[0])


def test_float32_scalars_are_computed_as_python_floats():
    # documented: a NumPy float32 scalar is taken as a float (the arithmetic in double precision)
    dx = grad(linear, wrt=0)(np.float32(0.5), 0.25)
    assert dx == 3.0 and type(dx) is float


def test_transformations_take_numpy_float64s():
    out, tangent = jvp(s1_numpy, (np.float64(0.3), np.float64(-0.7), np.float64(0.45)),
                       (1.0, 0.0, 0.0))
    assert tangent == pytest.approx(central(s1_numpy, [0.3, -0.7, 0.45], 0), rel=1e-7)
    h = hessian(s2_numpy, wrt=0)(np.float64(0.8), np.float64(0.1))
    d = 1e-5
    gx = grad(s2_numpy, wrt=0)
    assert h == pytest.approx((gx(0.8 + d, 0.1) - gx(0.8 - d, 0.1)) / (2 * d), rel=1e-6)


def fabs_of_numpy_sum(x):
    return math.fabs(np.sum([math.sin(v * x) for v in range(3)])) * x


def test_the_sign_of_a_numpy_scalar_is_a_float_in_every_version():
    # the gradient of fabs is sign(s); s = np.sum(...) is an np.float64, whose comparisons are np.bool_,
    # which NumPy refuses to subtract: the recording version built for the list once failed here
    g = value_and_grad(fabs_of_numpy_sum)
    for x in (0.7, -0.4):
        value, dx = g(x)
        assert value == fabs_of_numpy_sum(x)
        h = 1e-6
        assert abs(dx - (fabs_of_numpy_sum(x + h) - fabs_of_numpy_sum(x - h)) / (2 * h)) < 1e-6


def branch_then_numpy_sum(x, y):
    if x < 0.5:
        return x
    return np.sum([math.sin(v * x) for v in (x, x)]) + x / x


def test_a_branch_first_seen_later_keeps_float64_gradients():
    # the version for a signature deoptimises to the generic version when a call takes a branch it
    # never saw; that generic version too returns float64 gradients for float64 arguments
    g = value_and_grad(branch_then_numpy_sum, wrt=(0, 1))
    g(1.0, 0.0)
    g(np.float64(1.0), np.float64(0.0))
    value, grads = g(np.float64(0.2), np.float64(0.0))
    assert value == 0.2 and grads == (1.0, 0.0)
    assert all(type(d) is np.float64 for d in grads), grads


SCALE64 = np.float64(3.0)


def scaled_by_a_numpy_global(x):
    return math.sin(x) * SCALE64


def test_a_numpy_scalar_read_live_from_a_global():
    # the scalar versions guard globals as floats or ints: a float64 there once sent each call back
    # to the same version, forever (RecursionError)
    g = grad(scaled_by_a_numpy_global, cache=False)
    assert g(0.5) == math.cos(0.5) * SCALE64
    assert g(np.float64(0.5)) == math.cos(0.5) * SCALE64


def sin_times(x, y):
    return np.sum(np.sin(x) * y)


def test_calls_alternating_float64_arrays_and_floats_each_find_their_version():
    # versions of scalar code are looked up by the arguments' types (and arrays' shapes): a
    # lookup by types alone must never hand an array call a scalar version, or the reverse
    g = grad(sin_times, wrt=(0, 1))
    a, b = np.array([0.1, 0.2]), np.array([[0.3]])
    for _ in range(2):
        for x, y in ((np.float64(0.5), np.float64(2.0)), (a, 2.0), (0.5, 2.0),
                     (np.float64(0.5), 2.0), (b, np.float64(2.0)), (a, a)):
            dx, dy = g(x, y)
            np.testing.assert_allclose(dx, np.cos(x) * y)
            np.testing.assert_allclose(dy, np.sin(x) if np.shape(y) else np.sum(np.sin(x)))
            assert np.shape(dx) == np.shape(x) and np.shape(dy) == np.shape(y)
