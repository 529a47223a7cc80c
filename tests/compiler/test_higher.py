"""grad(grad(f)) for scalar functions: the gradient graph differentiated again, checked against
central differences of the next-lower derivative, to third order."""
import numpy as np
import pytest

import higher_funcs as H
from compiler import GradError, grad
from runtime.gradcheck import numerical_grad


@pytest.mark.parametrize("f, x", [(H.sin_cubic, 0.7), (H.with_branch, 0.4), (H.with_branch, -0.6)])
def test_second_and_third_derivatives_match_differences_of_the_lower_one(f, x):
    d1 = grad(f)
    d2 = grad(d1)
    d3 = grad(d2)
    assert d2(x) == pytest.approx(numerical_grad(d1, [x], 0), rel=1e-6, abs=1e-8)
    assert d3(x) == pytest.approx(numerical_grad(d2, [x], 0), rel=1e-5, abs=1e-7)


def test_mixed_partial_derivative():
    gxy = grad(grad(H.two_args, wrt=0), wrt=1)
    want = numerical_grad(grad(H.two_args, wrt=0), [0.5, 0.3], 1)
    assert gxy(0.5, 0.3) == pytest.approx(want, rel=1e-6)


def test_second_derivative_source_is_named_and_readable():
    d2 = grad(grad(H.sin_cubic))
    d2(0.3)
    assert "def sin_cubic_grad_grad(x)" in d2.source


def test_higher_derivative_of_array_code_is_refused_clearly():
    def takes_array(x):
        return np.sum(np.sin(x))
    with pytest.raises(GradError, match="higher derivative"):
        grad(grad(takes_array))


@pytest.mark.parametrize("x", [0.4, -0.6])
def test_higher_derivatives_through_a_loop_go_forward_over_reverse(x):
    """A loop's gradient replays a tape, which reverse mode cannot differentiate again: the
    gradient graph is differentiated forwards (its tape carries tangents), to any depth."""
    d1 = grad(H.with_branch_and_loop)
    d2 = grad(d1)
    d3 = grad(d2)
    assert d2(x) == pytest.approx(numerical_grad(d1, [x], 0), rel=1e-6, abs=1e-8)
    assert d3(x) == pytest.approx(numerical_grad(d2, [x], 0), rel=1e-5, abs=1e-7)
    assert "tape.append" in d2.source and "_dot" in d2.source
