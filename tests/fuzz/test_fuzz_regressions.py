"""Regression tests for what the differential fuzzer (test_fuzz_differential.py) found.

One test per bug, on the minimal program in fuzz_regressions.py; each checks the compiled gradient,
the tape's gradient and central differences against each other (fuzz_harness.check_function; with
tape=False where PyTorch's semantics differ), or that a program is refused with the caller's arrays
untouched (fuzz_harness.check_refused).
Still broken: xfail(strict=True), so a fix shows up as an XPASS failure -- then drop the marker and
the matching entry of fuzz_harness.KNOWN_* / the AVOID_KNOWN_BUGS workaround in fuzz_programs.py.
Scalar bugs were found at 95d5cf3. Fixed upstream while the fuzzer ran: abs/negation/EXTENDED_ARG/
closure (1ee968b, b685c00), zero adjoints (30331a5), np.where (62aa471), the tape's a[i] *= v
(5b530d9), the stale loop value (70ba6ad), the rebound alias (addd5ba).
The array fuzzer (Dec 2026) found issue 9's items 1-5 at 5bf03e1 (fixed in addd5ba, fb27704:
test_issue9_*), and at 49c5332..b7dab63 the test_bug_* / test_gap_* below the issue 9 block.
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


# ---- issue 9: found by the array fuzzer at 5bf03e1, fixed in addd5ba and fb27704 -------------------
# SOURCEAD_FUZZ_STRICT=1 python tests/fuzz/fuzz_hunt.py array 400 5, with compiler/ and runtime/ of
# 5bf03e1 first on PYTHONPATH, finds each (see test_fuzz_differential.py). The values quoted are
# 5bf03e1's at the points below.

def test_issue9_write_through_view():
    """Was (item 1): r = a[0:1]; r *= 3.0 ignored: value 14.7 where Python gives 23.1, d/ds 21
    instead of 33."""
    H.check_function(R.issue9_view_imul, (Y, 0.7), tape=False)


def test_issue9_write_through_alias():
    """Was (item 1): z = a; z -= c ignored: value 91.0 where Python gives 71.5, d/dc 0 instead of
    -36."""
    H.check_function(R.issue9_alias_isub, (Y, 0.5), tape=False)


def test_issue9_write_through_transpose_view():
    """Was (item 1): r = a.T; r[0] = v refused ("`r` is a view of `a`")."""
    H.check_function(R.issue9_transpose_view_setitem, (Y, np.array([0.5, 0.7])), tape=False)


def test_issue9_write_through_reshape_view():
    """Was (item 1): r = a.reshape(-1); r += 1.0 ignored: value 91.0 where Python gives 139.0."""
    H.check_function(R.issue9_reshape_view_iadd, (Y,), tape=False)


def test_issue9_transpose_reshape_copies():
    """a.T.reshape(-1) is a copy: writing into it must not reach a (right at 5bf03e1 too)."""
    H.check_function(R.issue9_transpose_reshape_copy_iadd, (Y,), tape=False)


@pytest.mark.parametrize("fn, point", [
    (R.issue9_argument_imul, (X,)),
    (R.issue9_argument_setitem, (X, 0.5)),
    (R.issue9_argument_alias_iadd, (X,)),
    (R.issue9_argument_view_imul, (Y, 0.7)),
], ids=["x*=2", "x[0]=s", "z=x;z+=1", "r=y[0];r*=s"])
def test_issue9_argument_writes_refused(fn, point):
    """Was (item 2): x *= 2.0, z = x; z += 1.0 and r = y[0]; r *= s were accepted and changed the
    caller's array (x *= 2.0 returned 2.4 where Python gives 1.2, and left the caller's x doubled;
    x[0] = s was refused). Now all are refused, the caller's arrays untouched."""
    H.check_refused(fn, *point)


def test_issue9_aug_assign_repeated_indices():
    """Was (item 3): a[[1, 0, 1]] += v: d/dx [1.2, 2.8, 0.6] and d/dv 4.0 where Python adds v to
    a[1] once: [1.2, 1.4, 0.6] and 2.6. (The tape gives 2.8 and 4.0 like PyTorch's index_put_,
    undefined with repeats: not compared.)"""
    H.check_function(R.issue9_aug_assign_repeated_indices, (X, 0.5), tape=False)


def test_issue9_two_stacked_lists():
    """Was (item 4): value 3.64 where Python gives 1.08 (the second list got the first's items)."""
    H.check_function(R.issue9_two_stacked_lists, (X, Y))


def test_issue9_def_in_loop_called_with_arrays():
    """Was (item 5): refused, "`g` is given a LocalFunc in one branch"."""
    H.check_function(R.issue9_def_in_loop_called_with_arrays, (X, Y))


# ---- found by the array fuzzer at 49c5332 and b7dab63, open -----------------------------------------

def test_bug_write_through_alias_in_loop_ignored():
    H.check_function(R.alias_write_in_loop, (X,), tape=False)


def test_bug_write_through_view_in_loop_ignored():
    H.check_function(R.view_write_in_loop, (X,), tape=False)


def test_bug_specialised_to_first_calls_branch():
    H.check_function(R.shape_depends_on_branch, (X, Y / 10, 0.7), (X, Y / 10, 0.3), tape=False)


def test_bug_full_of_a_value_has_no_gradient():
    H.check_function(R.full_of_a_value, (X, 0.7), tape=False)


@pytest.mark.xfail(strict=True, raises=GradError, reason=(
    "BUG (compiler): a *= s; acc.append(np.sum(a)); a = np.sin(w) in a loop is refused: "
    "\"`acc.append(...)` is supported on a list started as `acc = []` in this function\" -- it is; "
    "tape and numeric give 0.1392, d/ds 0.1988 at the point. Accepted (and right) at 5bf03e1: a "
    "regression of addd5ba. Present at b7dab63"))
def test_bug_list_append_after_inplace_refused():
    H.check_function(R.list_append_after_inplace, (W, 0.7))


@pytest.mark.xfail(strict=True, raises=GradError, reason=(
    "BUG (compiler): a def made before a loop, called in it, with a[0] *= s, an early return and "
    "`a = a` in the loop body is refused: \"`inner1` changes in the loop but holds the function "
    "`inner1` (a def)\" -- nothing assigns inner1 in the loop; tape and numeric give 19.2, d/ds 6.0. "
    "Accepted (and right) at 5bf03e1: a regression of addd5ba. Present at b7dab63"))
def test_bug_def_called_in_loop_with_early_return_refused():
    H.check_function(R.def_called_in_loop_with_early_return, (Y, 0.7))


@pytest.mark.xfail(strict=True, raises=GradError, reason=(
    "BUG (compiler): b = x[np.array([2, 1, 0])]; b[0] = s is refused: \"writing into `b` would "
    "change the array the caller passed as `x`\" -- integer-array (and mask) indexing makes a new "
    "array (x[[2, 1, 0]] with a list is accepted); tape and numeric give d/dx [0.2, 0.4, 0], d/ds "
    "1.4. Present at 5bf03e1 (\"`b` is a view of `x`\") and b7dab63"))
def test_bug_write_into_fancy_index_copy_refused():
    H.check_function(R.write_into_fancy_index_copy, (X, 0.7))


@pytest.mark.xfail(strict=True, raises=GradError, reason=(
    "GAP (compiler): a def in a loop body after a `continue` in that body is refused: \"`inner` is "
    "defined with `def` inside a branch\" (the rest of the body runs under `if not continued:`); "
    "tape and numeric give 0.42. Present at 5bf03e1 (\"given a LocalFunc in one branch\") and "
    "b7dab63"))
def test_gap_def_in_loop_after_continue():
    H.check_function(R.def_in_loop_after_continue, (X, 0.7))


def test_bug_base_rebound_after_write_through_view():
    H.check_function(R.base_rebound_after_write_through_view, (Y, 0.7))


@pytest.mark.xfail(strict=True, raises=GradError, reason=(
    "BUG (compiler): a list made after a loop that defines a function (never called) is refused: "
    "\"`acc` is given a list in one branch: only numbers can be merged after an if\"; tape and "
    "numeric give 0.84, d/ds 1.2. Present at b7dab63"))
def test_bug_list_after_def_in_loop_refused():
    H.check_function(R.list_after_def_in_loop, (X, 0.7))


def test_bug_loop_variable_reused_with_alias_write_refused():
    H.check_function(R.loop_variable_reused_with_alias_write, (X, 0.7))


def test_bug_slice_of_a_result_in_a_sum():
    """Was (b7dab63 .. b47ce5f; right at 5bf03e1): y = np.sin(x); np.sum(y - np.sum(y[1:] ** 2))
    had d/dx [0.995, 0.557, -0.012] at x = [0.1, 0.2, 0.3] where the tape and central differences
    give [0.995, -0.188, -0.739]. Fixed in 337d71d (no in-place update of an array whose view is
    read later)."""
    H.check_function(R.slice_of_a_result_in_a_sum, (X,))


@pytest.mark.xfail(strict=True, raises=GradError, reason=(
    "BUG (compiler): a = x in one branch (x * 2.0 in the other), then b = x * 1.0; b[0] = s is "
    "refused at the first call with s = 0.7: \"`b` shares memory with `a` here ... the compiler "
    "cannot tell how the two are related\" -- b is a new array (x * 1.0 must not become x; b = "
    "x.copy() is accepted). Tape and numeric give 0.2, d/ds 0.1. Present at b7dab63, 7b9926a"))
def test_bug_arithmetic_copy_taken_for_alias():
    H.check_function(R.arithmetic_copy_taken_for_alias, (X, 0.7))


@pytest.mark.xfail(strict=True, raises=GradError, reason=(
    "GAP (compiler): a `return` inside a loop over a list, tuple or dict is refused (\"a `return` "
    "that may run inside a loop over a list, tuple or dict is not supported\"); the README lists "
    "only break/continue there and says early return works anywhere. Tape and numeric give 1.4, "
    "d/ds 2.0. Present at 06f0f66"))
def test_gap_return_in_loop_over_container():
    H.check_function(R.return_in_loop_over_container, (0.3, 0.7))


# fixed in the session that found it: an inner loop's continue/break is its own
def test_exit_of_inner_loop_in_container_loop():
    H.check_function(R.continue_in_range_loop_inside_container_loop, (0.3, 0.7))


@pytest.mark.xfail(strict=True, raises=GradError, reason=(
    "BUG (compiler): a dict made after a loop that defines a function (never called) is refused: "
    "\"`d` is given a dict in one branch: only numbers can be merged after an if\" (the dict "
    "variant of test_bug_list_after_def_in_loop_refused); tape and numeric give 0.91, d/dx 0.7, "
    "d/ds 1.3. Present at 06f0f66"))
def test_bug_dict_after_def_in_loop_refused():
    H.check_function(R.dict_after_def_in_loop, (0.3, 0.7))


# fixed in the session that found it: an accumulator of a value that only a branch never taken
# computed (now a deopt) starts as zeros of its shape, not zeros_like of a value no longer made
def test_list_read_in_loop_with_early_return():
    H.check_function(R.list_read_in_loop_with_early_return, (X, 0.7))


# fixed in the session that found it: continue in an unrolled loop
def test_continue_in_range_loop_reading_list():
    H.check_function(R.continue_in_range_loop_reading_list, (X, 0.7))


@pytest.mark.xfail(strict=True, raises=GradError, reason=(
    "BUG (compiler): y = p[\"y\"]; b = y * 1.0 (or y - 0.0); b[0] = s is refused: \"this write "
    "into `b` would change the array the caller passed as `y` (`b` is `y` or a view of it)\" -- "
    "b is a new array (with y a plain argument the same program is accepted). Plain Python gives "
    "78.47, d/dy [[0, 0, 0], [8, 10, 12]], d/ds 4.2. Present at 06f0f66"))
def test_bug_copy_of_dict_leaf_taken_for_alias():
    from compiler import value_and_grad
    value, (gp, gs) = value_and_grad(R.copy_of_dict_leaf_written, wrt=(0, 1))({"y": Y.copy()}, 0.7)
    assert np.isclose(value, 78.47)
    assert np.allclose(gp["y"], [[0.0, 0.0, 0.0], [8.0, 10.0, 12.0]]) and np.isclose(gs, 4.2)


def test_bug_lambda_called_through_a_helper_reads_the_current_value():
    """Was: compiled value 0.841 and d/dx 1.0 where plain Python, the tape and central differences
    give 1.437 and 3.124 (a silent wrong value: the closure read x from before the loop)."""
    H.check_function(R.lambda_called_through_a_helper_in_a_loop, (0.0, 0.0))
    H.check_function(R.lambda_called_through_a_helper_in_a_loop, (0.4, 0.1))


def test_bug_view_kept_through_a_branch_is_not_overwritten_in_place():
    """Was: jvp gave the value 8.0 and tangent 18.0 where plain Python gives 3.5 and 12.0."""
    from compiler import jvp
    args = (np.zeros(3), np.zeros((2, 3)), np.zeros((2, 1)), 0.0)
    tangents = (np.zeros(3), np.ones((2, 3)), np.zeros((2, 1)), 0.0)
    value, tangent = jvp(R.view_kept_through_a_branch_then_base_written, args, tangents)
    assert value == pytest.approx(3.5) and tangent == pytest.approx(12.0)
    H.check_function(R.view_kept_through_a_branch_then_base_written,
                     (np.array([1.0, 1.0, 0.0]), np.array([[1.0, 2.0, 2.0], [2.0, 2.0, 0.0]]),
                      np.array([[0.0], [0.0]]), 0.0))
