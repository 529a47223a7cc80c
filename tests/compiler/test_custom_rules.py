"""compiler.register: rules of the user's for functions the compiler cannot read."""
import math

import numpy as np
import pytest

import custom_funcs as C
from compiler import check_grad, grad
from runtime.gradcheck import compare, numerical_grad


def test_registered_numpy_function_gradient_matches_central_differences():
    x, y = np.array([0.3, 1.7, -0.4]), np.array([1.0, 2.0, 3.0])
    gx, gy = grad(C.uses_sinc, wrt=(0, 1))(x, y)
    assert compare(gx, numerical_grad(C.uses_sinc, (x, y), 0))[2]
    assert compare(gy, numerical_grad(C.uses_sinc, (x, y), 1))[2]


def test_registered_python_function_is_not_inlined():
    x = np.array([0.3, -1.2])
    assert check_grad(C.uses_softplus, x).passed
    source = grad(C.uses_softplus).source_for(x)
    assert "softplus_vjp(" in source and "log1p" not in source


def test_registered_rule_may_differ_from_the_true_derivative():
    # straight-through: d/dx clip(3x) * x = 3x + clip(3x) with the rule's 3, even where clip saturates
    assert grad(C.uses_straight_through)(0.9) == pytest.approx(3.0 * 0.9 + 1.0)


def test_registered_math_function_in_scalar_code():
    assert grad(C.uses_gamma)(2.5) == pytest.approx(
        numerical_grad(C.uses_gamma, (2.5,), 0), rel=1e-6)


def test_unregistered_function_error_says_how_to_register():
    def uses_nextafter(x):
        return math.nextafter(x, 3.0)
    from compiler import GradError
    with pytest.raises(GradError, match=r"compiler\.register\(nextafter, vjp\)"):
        grad(uses_nextafter)
