"""In-place operations: PyTorch's rules for leaves, recording on non-leaves, and version counters."""
import numpy as np
import pytest

import runtime as rt

LEAF = "a leaf Variable that requires grad is being used in an in-place operation"
MODIFIED = "modified by an inplace operation"


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/=", "**=", "x[0] = 1", "zero_"])
def test_in_place_on_a_leaf_that_requires_grad_is_refused(op):
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=LEAF):
        if op == "x[0] = 1":
            x[0] = 1.0
        elif op == "zero_":
            x.zero_()
        else:
            exec(f"x {op} 2.0")


def test_in_place_on_a_leaf_is_allowed_under_no_grad_and_keeps_identity():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    data = x._data
    with rt.no_grad():
        x *= 3.0
        x[1] = 0.5
    assert x._data is data and x.detach().tolist() == [3.0, 0.5] and x.is_leaf and x.requires_grad


def test_in_place_on_a_non_leaf_is_recorded():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y += 1
    assert type(y.grad_fn).__name__ == "AddBackward"
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_in_place_multiply_by_a_tensor_that_requires_grad_keeps_the_old_value():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    w = rt.tensor([3.0, 4.0], requires_grad=True)
    y = x * 1
    y *= w                          # PyTorch saves the original y for w's gradient: so do we
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 4.0] and w.grad.tolist() == [1.0, 2.0]


def test_setitem_with_a_value_that_requires_grad_makes_the_target_require_grad():
    v = rt.tensor(2.0, requires_grad=True)
    y = rt.tensor(np.zeros(3))
    y[1] = v * 5
    y[2] = v
    assert y.requires_grad and type(y.grad_fn).__name__ == "SetitemBackward"
    (y * rt.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert v.grad.item() == 150.0


def test_setitem_overwrites_the_gradient_of_the_old_entries():
    x = rt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    y[0:2] = 7.0
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0]


def test_modifying_a_saved_input_makes_backward_refuse():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    p = x * 2
    q = p * x                       # saves p (for x's gradient)
    p += 1
    with pytest.raises(RuntimeError, match=MODIFIED):
        q.sum().backward()


def test_modifying_a_saved_result_under_no_grad_makes_backward_refuse():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()                     # ExpBackward saves its result
    with rt.no_grad():
        y += 1
    with pytest.raises(RuntimeError, match=MODIFIED + r".*output 0 of ExpBackward"):
        y.sum().backward()


def test_modifying_a_saved_scalar_is_detected_too():
    x = rt.tensor(1.5, requires_grad=True)
    y = x.tanh()
    with rt.no_grad():
        y -= 1
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


def test_modifying_through_a_view_is_detected():
    x = rt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.exp()
    v = y[0:2]                      # a view of y's data
    with rt.no_grad():
        v *= 0
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()


def test_changes_before_use_are_fine():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y += 1
    z = y * y                       # saved after the change
    z.sum().backward()
    assert x.grad.tolist() == [2 * 3.0 * 2, 2 * 5.0 * 2]


def test_a_value_not_needed_by_backward_may_change():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    c = rt.tensor([3.0, 4.0])       # needs no grad, so mul keeps c (for x) but not x
    y = x * c
    with rt.no_grad():
        x += 10                     # x itself is not saved
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 4.0]


def test_in_place_that_would_broadcast_the_target_is_refused():
    y = rt.tensor([1.0, 2.0], requires_grad=True) * 1
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        y += rt.tensor([[1.0], [2.0]])


def test_grad_accumulates_in_place_keeping_the_tensor():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    g = x.grad
    (x * 3).sum().backward()
    assert x.grad is g and g.tolist() == [5.0, 5.0]


def test_version_counter_counts_changes():
    x = rt.tensor([1.0, 2.0])
    assert x._version == 0
    x += 1
    x[0] = 3.0
    assert x._version == 2
