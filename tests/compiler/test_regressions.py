"""Programs the differential fuzzer (tests/fuzz) found miscompiled, each pinned here."""
import pytest

import regression_funcs as R
from compiler import value_and_grad
from runtime.gradcheck import numerical_grad


@pytest.mark.parametrize("fn, args", [
    (R.closure_reads_value_reassigned_in_loop, (0.7,)),
    (R.double_negation_read_in_branch, (0.7, 1.3)),
    (R.double_negation_read_in_branch, (-0.7, 1.3)),
    (R.abs_of_numpy_scalar, (0.4,)),
    (R.abs_of_numpy_scalar, (-0.4,)),
], ids=["closure-late-binding", "neg-neg-in-branch-pos", "neg-neg-in-branch-neg",
        "abs-numpy-scalar-pos", "abs-numpy-scalar-neg"])
def test_value_and_gradient_match_python_and_central_differences(fn, args):
    wrt = tuple(range(len(args)))
    value, grads = value_and_grad(fn, wrt=wrt)(*args)
    assert value == pytest.approx(fn(*args), rel=1e-12)
    for i, g in enumerate(grads):
        assert g == pytest.approx(numerical_grad(fn, args, i), rel=1e-6, abs=1e-9)
