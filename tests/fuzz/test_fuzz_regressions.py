"""Regression tests for what the differential fuzzer (test_fuzz_differential.py) found.

One test per bug, on the minimal program in fuzz_regressions.py; each checks the compiled gradient,
the tape's gradient and central differences against each other (fuzz_harness.check_function).
Still broken: xfail(strict=True), so a fix shows up as an XPASS failure -- then drop the marker and
the matching entry of fuzz_harness.KNOWN_* / the AVOID_KNOWN_BUGS workaround in fuzz_programs.py.
All were found at 95d5cf3. Fixed upstream while the fuzzer ran: abs/negation/EXTENDED_ARG/closure
(1ee968b, b685c00), zero adjoints (30331a5), np.where (62aa471), the tape's a[i] *= v (5b530d9).
Still open: the three test_gap_* refusals.
"""
import numpy as np
import pytest

from compiler import GradError

import fuzz_harness as H
import fuzz_regressions as R

X = np.array([0.1, 0.2, 0.3])
W = np.array([[0.2], [-0.1]])
Y = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


# ---- compiler: zero adjoints of arrays were a Python 0.0 (fixed in 30331a5) -------------------
# Was: gradient array(0.) for an array of shape (2, 1) / ValueError: cannot reshape array of size 1
# into shape (3,) / AttributeError: 'float' object has no attribute 'astype' (and 'copy') /
# IndexError: tuple index out of range; the tape and central differences gave zeros of the shape.

def test_bug_zero_adjoint_branch_not_taken():
    H.check_function(R.zero_adjoint_branch_not_taken, (X, W, 0.5))


def test_bug_zero_adjoint_value_not_returned():
    H.check_function(R.zero_adjoint_value_not_returned, (X, 0.2))


def test_bug_zero_adjoint_loop_early_return():
    H.check_function(R.zero_adjoint_loop_early_return, (X, -0.7))


def test_bug_zero_adjoint_closure():
    H.check_function(R.zero_adjoint_closure, (X, 0.2))


def test_bug_zero_adjoint_index_assignment():
    H.check_function(R.zero_adjoint_index_assignment, (Y, 0.2))


def test_bug_zero_adjoint_loop_overwrite():
    H.check_function(R.zero_adjoint_loop_overwrite, (np.array([0.2, -0.1]),))


def test_bug_where_constant_condition_drops_broadcast():
    """Was: compiled value 0.7 and d/ds array(1.) where plain Python gives 2.1 and the tape and
    central differences 3.0 (np.where(False, x, s) folded to s without the broadcast). Fixed in
    62aa471."""
    H.check_function(R.where_constant_condition, (X, 0.7))


# ---- compiler, open -------------------------------------------------------------------------------

def test_bug_loop_returns_stale_carried_value():
    """Was: value_and_grad returned tanh(0.5) (the value after the first iteration): the reverse
    loop `for x_1 in reversed(tape)` rebound x_1, the name of the returned forward value."""
    H.check_function(R.loop_returns_carried_value, (0.5,))


def test_bug_write_after_rebinding_an_aliased_name_refused():
    """Was refused: "`b` is the same array as `a`", though a was rebound to a new array. The
    compiler now follows which names see which memory (compiler/aliasing.py)."""
    H.check_function(R.write_after_rebinding_an_aliased_name, (X, 0.5))


# ---- compiler gaps: documented constructs refused in combination ----------------------------------

@pytest.mark.xfail(strict=True, raises=GradError, reason=(
    "GAP (compiler): a `def` after an early return is refused (`inner` is given a LocalFunc in one "
    "branch: only numbers can be merged after an if): the rest of the body is lowered under "
    "`if not returned:`; tape and numeric give 1.0 at x = 0.5"))
def test_gap_def_after_early_return():
    H.check_function(R.def_after_early_return, (0.5,))


@pytest.mark.xfail(strict=True, raises=GradError, reason=(
    "GAP (compiler): a list made after an early return is refused (`acc` is given a ListRef in one "
    "branch); tape and numeric give 3.0 at x = 0.5"))
def test_gap_list_after_early_return():
    H.check_function(R.list_after_early_return, (0.5,))


@pytest.mark.xfail(strict=True, raises=GradError, reason=(
    "GAP (compiler): a list made in a loop body after `continue` is refused (`acc` is given a "
    "ListRef in one branch); tape and numeric give 2.0 at x = 0.5"))
def test_gap_list_in_loop_after_continue():
    H.check_function(R.list_in_loop_after_continue, (0.5,))


# ---- tape -----------------------------------------------------------------------------------------

def test_bug_tape_index_imul_saves_overwritten_view():
    """Was: d/ds 3.0 instead of 6.0 (compiled, central differences and PyTorch 2.13 give 6.0):
    MulBackward's saved row of `a` was overwritten by the write-back of a[0] *= s, with no
    version-counter error. Fixed in 5b530d9."""
    H.check_function(R.index_imul, (Y, 0.5))


# ---- fixed upstream while fuzzing (kept as regressions) ------------------------------------------

def test_fixed_abs_of_numpy_scalar():
    """Was: TypeError: numpy boolean subtract (abs'(t) emitted as (t > 0) - (t < 0) on np.bool_).
    Fixed in 1ee968b."""
    H.check_function(R.abs_of_numpy_scalar, (1.2,), (-1.2,))


def test_fixed_double_negation_read_in_branch():
    """Was: NameError: name 'a_1' is not defined (-(-y) folded to y outside the `if` region only).
    Fixed in b685c00."""
    H.check_function(R.double_negation_read_in_branch, (-1.0945,), (0.7,))


def test_fixed_negated_sum_adjoint_read_in_branch():
    """Was: NameError: name 'dt2' is not defined (the same fold, on an adjoint read in a region).
    Fixed in b685c00."""
    H.check_function(R.negated_sum_adjoint_read_in_branch, (0.5, 1.0), (0.9, 1.0))


def test_fixed_long_branch_of_attribute_calls():
    """Was: GradError "the source text found for f ... is not the code that runs" (EXTENDED_ARG
    before a long jump compared as an instruction). Fixed in 1ee968b."""
    H.check_function(R.long_branch_of_attribute_calls, (0.5,), (2.5,))


def test_fixed_closure_after_early_return():
    """Was: value 1.4403 (x before `x = 0.5`) and gradient 1.0 where Python gives 0.5 and 0.0.
    Fixed in b685c00."""
    H.check_function(R.closure_after_early_return, (1.4403,), (0.3,))
