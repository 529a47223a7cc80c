"""The backward pass: ordering, accumulation at forks, freeing, errors, roots, deep graphs."""
import sys

import numpy as np
import pytest

import runtime as rt


def test_fan_out_adds_the_gradients_of_every_use():
    x = rt.tensor(3.0, requires_grad=True)
    y = x * x + x                   # x used three times
    y.backward()
    assert x.grad.item() == 7.0


def test_diamond_waits_for_both_branches():
    x = rt.tensor(0.5, requires_grad=True)
    h = rt.sin(x)
    a = h * 2
    b = h * h
    (a * b).backward()              # d/dx 2 sin^3 x = 6 sin^2 x cos x
    assert np.isclose(x.grad.item(), 6 * np.sin(0.5) ** 2 * np.cos(0.5))


def test_a_chain_of_100000_operations_needs_no_recursion():
    x = rt.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0000001
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)      # would fail at once if anything recursed over the graph
    try:
        y.backward()
    finally:
        sys.setrecursionlimit(limit)
    assert np.isclose(x.grad.item(), 1.0000001 ** 100_000)


def test_retain_graph_allows_a_second_backward_that_accumulates():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]


def test_second_backward_through_freed_values_says_to_retain_graph():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_a_graph_that_saved_nothing_can_be_walked_twice():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    y = (-x + 1.0).reshape(2, 1)[0].sum()   # neg, add, reshape, index, sum save no values (as PyTorch)
    y.backward()
    y.backward()
    assert x.grad.tolist() == [-2.0, 0.0]


def test_a_saved_constant_is_freed_too_as_in_pytorch():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_gradient_weights_the_outputs():
    x = rt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x ** 2
    y.backward(gradient=rt.tensor([1.0, 0.1, 0.01]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.4, 0.06])


def test_gradient_of_the_wrong_shape_is_refused():
    y = rt.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape of \[3\]"):
        y.backward(np.ones(3))


def test_implicit_gradient_only_for_single_element_outputs():
    x = rt.tensor([[2.0]], requires_grad=True)
    (x * 3).backward()              # one element: allowed, as in PyTorch
    assert x.grad.tolist() == [[3.0]]
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (rt.tensor([1.0, 2.0], requires_grad=True) * 2).backward()


def test_backward_of_a_tensor_that_does_not_require_grad_is_refused():
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        rt.tensor(1.0).backward()
    with rt.no_grad():
        y = rt.tensor(1.0, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_backward_on_a_leaf_gives_ones():
    x = rt.tensor(2.0, requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0


def test_several_roots_at_once():
    x = rt.tensor(2.0, requires_grad=True)
    a, b = x * 3, x ** 2
    rt.autograd.backward([a, b], [1.0, 10.0])
    assert x.grad.item() == 3.0 + 10.0 * 4.0


def test_a_gradient_shared_by_two_leaves_is_copied():
    a = rt.tensor([1.0, 2.0], requires_grad=True)
    b = rt.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()        # add hands the same array to both
    a.grad += 1
    assert b.grad.tolist() == [1.0, 1.0]


def test_an_error_inside_backward_leaves_the_graph_usable():
    class Flaky(rt.autograd.Function):
        fail = True

        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            if Flaky.fail:
                raise ValueError("boom")
            return g

    x = rt.tensor(2.0, requires_grad=True)
    y = Flaky.apply(x) * x
    with pytest.raises(ValueError):
        y.backward(retain_graph=True)
    Flaky.fail = False
    y.backward()
    assert x.grad.item() == 4.0
    assert rt.is_grad_enabled()


def test_backward_does_not_record_unless_create_graph():
    x = rt.tensor(2.0, requires_grad=True)
    (x ** 3).backward()
    assert not x.grad.requires_grad


def test_integer_leaves_of_a_float_graph_are_constants():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    (x * rt.tensor(np.array([2, 3]))).sum().backward()
    assert x.grad.tolist() == [2.0, 3.0] and x.grad.dtype == np.float64


def test_float32_leaves_get_float32_gradients():
    x = rt.tensor(np.ones(2, np.float32), requires_grad=True)
    (x * 2.5).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [2.5, 2.5]
