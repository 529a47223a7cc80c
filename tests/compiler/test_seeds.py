"""The lecture's worked examples, with their numbers, against hand-derived derivatives."""
import math

import numpy as np
import pytest

from compiler import check_grad, grad, value_and_grad


@grad(wrt=("x", "y", "z"))
def seed_f(x, y, z):
    q = x + y
    return q * z


def test_seed_add_mul_gives_minus4_minus4_3():
    # f = (x + y) z at (-2, 5, -4): df/dx = df/dy = z = -4, df/dz = x + y = 3.
    assert seed_f(-2.0, 5.0, -4.0) == (-4.0, -4.0, 3.0)


def test_seed_add_mul_gradient_is_a_tuple_of_plain_floats():
    g = seed_f(-2.0, 5.0, -4.0)
    assert type(g) is tuple and all(type(v) is float for v in g)


def test_seed_add_mul_at_other_points():
    for x, y, z in [(1.5, -0.25, 3.0), (0.1, 0.2, -7.5)]:
        assert seed_f(x, y, z) == (z, z, x + y)


@value_and_grad
def seed_h(x):
    return math.log(x ** 2) + 1


def test_seed_log_square_value_and_grad_at_3():
    # h = log(x^2) + 1 at x = 3: h = 2 log 3 + 1, dh/dx = 2/x = 2/3.
    value, g = seed_h(3.0)
    assert value == pytest.approx(2.0 * math.log(3.0) + 1.0, rel=1e-15)
    assert g == pytest.approx(2.0 / 3.0, rel=1e-15)


def test_seed_log_square_negative_x_derivative_is_2_over_x():
    value, g = seed_h(-0.5)
    assert value == pytest.approx(math.log(0.25) + 1.0, rel=1e-15)
    assert g == pytest.approx(-4.0, rel=1e-15)


def exp_plus_square(x):
    return math.exp(x) + x ** 2


def exp_times_square(x):
    return math.exp(x) * x ** 2


@pytest.mark.parametrize("x", [-1.5, 0.3, 2.0])
def test_seed_exp_plus_square_analytic(x):
    assert grad(exp_plus_square)(x) == pytest.approx(math.exp(x) + 2.0 * x, rel=1e-14)


@pytest.mark.parametrize("x", [-1.5, 0.3, 2.0])
def test_seed_exp_times_square_product_rule(x):
    expected = math.exp(x) * (x * x + 2.0 * x)
    assert grad(exp_times_square)(x) == pytest.approx(expected, rel=1e-14)


def network_loss(w1, w2, w3, w4, a):
    # Two paths from the input a through two weights each: h1 = w1 a, h2 = w2 a, L = 10 - (w3 h1 + w4 h2).
    return 10 - (w3 * w1 * a + w4 * w2 * a)


@pytest.mark.parametrize("w1, w2, w3, w4, a", [(2.0, -3.0, 0.5, 1.5, 4.0),
                                               (-0.7, 1.1, 2.5, -0.25, -1.3)])
def test_seed_four_weight_network_all_weights_and_input(w1, w2, w3, w4, a):
    g = grad(network_loss, wrt=("w1", "w2", "w3", "w4", "a"))(w1, w2, w3, w4, a)
    expected = (-w3 * a, -w4 * a, -w1 * a, -w2 * a, -(w3 * w1 + w4 * w2))
    assert g == pytest.approx(expected, rel=1e-14)


def test_seed_four_weight_network_value():
    value, _ = value_and_grad(network_loss, wrt=0)(2.0, -3.0, 0.5, 1.5, 4.0)
    assert value == 10 - (0.5 * 2.0 * 4.0 + 1.5 * -3.0 * 4.0)  # 24.0


def max_router(x, y, z, w):
    return 2 * (x * y + max(z, w))


@pytest.mark.parametrize("z, w", [(2.0, -1.0), (-1.0, 2.0), (0.5, 0.25), (-3.0, -2.5)])
def test_seed_max_routes_gradient_to_larger_input_only(z, w):
    x, y = 3.0, -4.0
    dx, dy, dz, dw = grad(max_router, wrt=(0, 1, 2, 3))(x, y, z, w)
    assert (dx, dy) == (2.0 * y, 2.0 * x)
    if z > w:
        assert (dz, dw) == (2.0, 0.0)
    else:
        assert (dz, dw) == (0.0, 2.0)


def test_seed_max_router_tie_splits_the_gradient_evenly():
    # at z == w both are the result: each gets half (README, "Kinks and ties"; PyTorch and JAX)
    assert grad(max_router, wrt=(2, 3))(3.0, -4.0, 1.0, 1.0) == (1.0, 1.0)


@pytest.mark.parametrize("fn, args", [(network_loss, (2.0, -3.0, 0.5, 1.5, 4.0)),
                                      (max_router, (3.0, -4.0, 2.0, -1.0)),
                                      (exp_times_square, (0.3,))])
def test_seed_examples_pass_check_grad(fn, args):
    report = check_grad(fn, *args)
    assert report.passed, str(report)


def test_seed_f_wrapped_keeps_the_plain_function():
    assert seed_f.__wrapped__(-2.0, 5.0, -4.0) == -12.0
    assert np.isclose(seed_h.__wrapped__(3.0), 2 * math.log(3.0) + 1)
