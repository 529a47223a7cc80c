"""Issue 11, part 1: only what is differentiated needs a rule. A call with no rule whose arguments
carry no gradient runs as written; one whose argument carries a gradient is refused at its line."""
import numpy as np
import pytest

import inactive_funcs as F
import inactive_lib
from compiler import GradError, check_grad, grad, treat_as_library, treat_as_your_code, value_and_grad

X = np.array([0.3, -1.2, 2.5, 0.7])


def _check(f, *args, wrt=0):
    report = check_grad(f, *args, wrt=wrt)
    assert report.passed, str(report)


def test_scipy_function_on_data_only():
    pytest.importorskip("scipy")
    _check(F.poisson_nll, np.array([1.0, 2.0, 3.0]), np.array([0.0, 2.0, 5.0]))


def test_scipy_function_on_a_differentiated_value_is_refused_at_its_line():
    pytest.importorskip("scipy")
    with pytest.raises(GradError) as info:
        grad(F.active_gammaln)(X + 3.0)
    text = str(info.value)
    assert "inactive_funcs.py" in text and "k0(x)" in text and "`x`" in text
    assert "no derivative rule" in text


def test_data_argument_of_a_scipy_function_is_refused_when_it_is_differentiated():
    pytest.importorskip("scipy")
    with pytest.raises(GradError, match="depends on `y`"):
        grad(F.poisson_nll, wrt=(0, 1))(np.array([1.0, 2.0]), np.array([0.0, 2.0]))


@pytest.mark.parametrize("f", [F.constants_from_library, F.grids_and_masks, F.pick_by_argmax_of_x,
                               F.sorted_order_of_x, F.nonzero_where, F.hanning_window])
def test_inactive_calls_are_exact(f):
    _check(f, X.copy() if f is not F.constants_from_library else 0.7)


def test_argmax_of_data():
    _check(F.pick_by_argmax_of_data, X, np.array([0.1, 0.2, 0.9, 0.3]))


def test_calls_in_a_loop():
    _check(F.inactive_in_loop, 0.4, 5)


def test_impure_calls_are_neither_merged_nor_folded():
    vg = value_and_grad(F.random_noise)
    np.random.seed(3)
    want = F.random_noise(X[:3])
    np.random.seed(3)
    value, _ = vg(X[:3])
    assert value == want
    np.random.seed(3)
    a, b = np.random.rand(3), np.random.rand(3)
    np.random.seed(3)
    np.testing.assert_allclose(grad(F.random_noise)(X[:3]), a + b * b)


def test_the_line_between_your_code_and_a_library_can_be_moved():
    try:
        treat_as_library("inactive_lib")
        _check(F.hanning_window, X)   # called as written: its argument carries no gradient
        with pytest.raises(GradError, match="scaled has no derivative rule"):
            grad(F.library_on_x)(X)
        treat_as_your_code("inactive_lib")
        _check(F.library_on_x, X)     # read and differentiated
    finally:
        treat_as_your_code()
        from compiler.frontend import calls
        calls.EXTRA_LIBRARIES.discard("inactive_lib")
        calls.YOUR_CODE.discard("inactive_lib")


def test_the_callers_arrays_are_untouched():
    x = X.copy()
    grad(F.sorted_order_of_x)(x)
    np.testing.assert_array_equal(x, X)


def test_a_string_in_arithmetic_fails_as_the_function_does():
    # strings are configuration (mode="valid", einsum subscripts); arithmetic on one is the
    # function's own error, raised where f raises it
    with pytest.raises(TypeError):
        F.string_times_x(1.5)
    with pytest.raises(TypeError):
        grad(F.string_times_x)(1.5)


def test_methods_on_values_that_carry_no_gradient_are_called_as_written():
    _check(F.random_features, np.array([[0.1, 0.2, 0.3]]), 3)
    _check(F.methods_on_data, np.array([1.0, 2.0, 3.0]), np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 1.0]]))
    source = grad(F.methods_on_data).source_for(np.array([1.0, 2.0, 3.0]), np.eye(3))
    assert "X.argmax(axis=1)" in source and "np.random.seed(0)" in source and "print(" in source


def test_a_call_kept_for_its_check_still_raises_where_the_function_does():
    vg = value_and_grad(F.cholesky_as_a_check)
    vg(np.eye(2))
    with pytest.raises(np.linalg.LinAlgError):
        F.cholesky_as_a_check(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(np.linalg.LinAlgError):
        vg(np.array([[1.0, 2.0], [2.0, 1.0]]))


def test_empty_like_needs_no_rule():
    _check(F.empty_like_buffer, np.array([0.5, -1.0, 2.0]))
