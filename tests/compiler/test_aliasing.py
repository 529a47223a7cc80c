"""Issue 9, the compiler: NumPy's aliasing (views, aliases, in-place updates) is followed exactly or
refused at the user's line, and nothing the compiler runs changes the caller's arrays.

Every exact case is checked three ways: the value against the plain function run on copies (NumPy
decides what is a view), each gradient against central differences of the plain function on copies,
and the caller's arrays against saved copies (after decoration, the first and the second call).
"""
import numpy as np
import pytest

from compiler import GradError, value_and_grad

import aliasing_funcs as F


def copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def numeric(fn, args, i, h=1e-6):
    x = args[i]
    if not isinstance(x, np.ndarray):
        up, down = copies(args), copies(args)
        up[i], down[i] = x + h, x - h
        return (fn(*up) - fn(*down)) / (2 * h)
    out = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        up, down = copies(args), copies(args)
        up[i][k] += h
        down[i][k] -= h
        out[k] = (fn(*up) - fn(*down)) / (2 * h)
    return out


def check(fn, *args):
    wrt = tuple(range(len(args)))
    saved = copies(args)
    g = value_and_grad(fn, wrt=wrt)
    for _ in range(2):  # the first call builds the version, the second runs it
        value, grads = g(*args)
        for a, s in zip(args, saved):
            np.testing.assert_array_equal(a, s, err_msg="the caller's array changed")
        assert np.allclose(value, fn(*copies(args)), rtol=1e-12, atol=1e-12)
        for i, grad in enumerate(grads):
            np.testing.assert_allclose(grad, numeric(fn, args, i), rtol=1e-5, atol=1e-6,
                                       err_msg=f"d/d{fn.__code__.co_varnames[i]}")
    return g


def refused(fn, *args, says):
    saved = copies(args)
    with pytest.raises(GradError) as info:
        value_and_grad(fn, wrt=0)(*args)
    for a, s in zip(args, saved):
        np.testing.assert_array_equal(a, s, err_msg="the caller's array changed")
    message = str(info.value)
    assert f"aliasing_funcs.py" in message and says in message, message
    return message


X2 = np.array([1.0, 2.0])
X4 = np.array([0.3, -1.2, 0.7, 2.1])
M = np.array([[1.0, 2.0], [3.0, -4.0]])
M32 = np.array([[0.5, 1.5, -2.0], [1.0, 0.25, 3.0]])


# ---- 1. views ---------------------------------------------------------------------------------------

def test_slice_view_imul_reaches_base():
    g = check(F.slice_view_imul, X2)
    value, grad = g(X2)
    assert value == 13.0 and np.allclose(grad, [18.0, 4.0])  # the numbers (NumPy, PyTorch)


@pytest.mark.parametrize("fn, args", [
    (F.transpose_view_imul, (M,)),
    (F.reversed_view_iadd, (X4, 0.7)),
    (F.full_slice_view_isub, (X2, 0.4)),
    (F.reshape_view_imul, (M,)),
    (F.ravel_like_view, (M,)),
    (F.transposed_reshape_copies, (M,)),
    (F.int_index_of_vector_copies, (X4,)),
    (F.int_index_of_matrix_is_view, (M32,)),
    (F.chained_view, (X4,)),
    (F.view_sees_base_update, (X4,)),
    (F.two_views_one_base, (X4,)),
    (F.row_loop_updates_rows, (M32,)),
    (F.view_written_in_loop, (X4,)),
    (F.index_write_through_view, (X4, 0.9)),
    (F.view_in_branch, (X4,)),
    (F.view_in_branch, (-X4 - 1.0,)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_views_are_exact(fn, args):
    check(fn, *args)


# ---- 2. arguments are never written --------------------------------------------------------------

@pytest.mark.parametrize("fn", [F.imul_argument, F.iadd_alias_of_argument, F.iadd_view_of_argument,
                                F.helper_writes_argument])
def test_in_place_on_an_argument_is_refused(fn):
    refused(fn, X2.copy(), says="caller")


def test_in_place_on_a_float_argument_rebinds():
    check(F.imul_scalar_argument, 0.7)


# ---- 3. aliases ---------------------------------------------------------------------------------

def test_isub_through_alias():
    g = check(F.isub_alias, X2, np.array([0.5, 0.7]))
    assert np.allclose(g(X2, np.array([0.5, 0.7]))[1][0], 0.0)  # y is zero whatever c is


def test_alias_rebound_then_written():
    check(F.alias_rebound_then_written, X4, 0.5)


def test_alias_of_scalar_and_of_array():
    check(F.alias_of_scalar, 0.8)


# ---- 4. repeated indices ------------------------------------------------------------------------

@pytest.mark.parametrize("fn, args", [
    (F.iadd_repeated_index, (X4,)),
    (F.iadd_repeated_self, (X4,)),
    (F.idiv_repeated, (X4, 1.7)),
    (F.imul_repeated, (X4, 1.7)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_repeated_indices_write_once(fn, args):
    check(fn, *args)


# ---- 5, 6. lists and defs -------------------------------------------------------------------------

def test_two_lists_stacked():
    check(F.two_lists, np.arange(8.0).reshape(4, 2))


def test_rows_of_a_stacked_list():
    check(F.rows_of_stacked_list, np.arange(8.0).reshape(4, 2))


def test_def_in_loop_with_arrays():
    check(F.def_in_loop, X2)


def test_loop_returns_its_carried_value():
    check(F.loop_returns_carried, 0.5)
