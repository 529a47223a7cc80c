"""Custom operations: runtime.autograd.Function."""
import numpy as np
import pytest

import runtime as rt
from runtime.autograd import Function


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * y


class ScaledSquare(Function):
    """x**2 * k with a Python number k: not a tensor, so its gradient is None."""

    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        ctx.save_for_backward(x)
        return x * x * k

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * 2 * x * ctx.k, None


class SplitSum(Function):
    """Two outputs: the sum and the sum of squares."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sum(), (x * x).sum()

    @staticmethod
    def backward(ctx, g_sum, g_sq):
        x, = ctx.saved_tensors
        return g_sum + 2 * x * g_sq


def test_forward_and_backward_of_a_custom_exp():
    x = rt.tensor([0.0, 1.0], requires_grad=True)
    y = Exp.apply(x)
    assert type(y.grad_fn).__name__ == "ExpBackward"
    assert y.grad_fn.next_functions[0][0].variable is x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.0, 1.0]))


def test_forward_runs_without_recording():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            seen["enabled"] = rt.is_grad_enabled()
            return (x * 2).requires_grad

        @staticmethod
        def backward(ctx, g):
            return g

    assert Probe.apply(rt.tensor(1.0, requires_grad=True)) is False and seen == {"enabled": False}


def test_ctx_attributes_and_non_tensor_arguments():
    x = rt.tensor(3.0, requires_grad=True)
    y = ScaledSquare.apply(x, 0.5)
    assert y.item() == 4.5
    y.backward()
    assert x.grad.item() == 3.0


def test_needs_input_grad():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b, k):
            seen["needs"] = ctx.needs_input_grad
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g, g, None

    Probe.apply(rt.tensor(1.0, requires_grad=True), rt.tensor(2.0), 3)
    assert seen["needs"] == (True, False, False)


def test_several_outputs_and_a_missing_gradient_becomes_zeros():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    s, q = SplitSum.apply(x)
    assert s.grad_fn is q.grad_fn and (s.output_nr, q.output_nr) == (0, 1)
    (s + 10 * q).backward()
    np.testing.assert_allclose(x.grad.numpy(), [21.0, 41.0])
    x.grad = None
    s, q = SplitSum.apply(x)
    q.backward()                    # s gets no gradient: backward sees zeros for it
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_saved_tensors_are_freed_after_backward():
    x = rt.tensor(1.0, requires_grad=True)
    y = Exp.apply(x)
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_a_saved_output_modified_in_place_is_refused():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    y = Exp.apply(x)
    with rt.no_grad():
        y += 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_second_derivative_through_a_custom_function():
    x = rt.tensor(0.7, requires_grad=True)
    g, = rt.autograd.grad(Exp.apply(x), x, create_graph=True)
    h, = rt.autograd.grad(g, x)
    assert np.isclose(h.item(), np.exp(0.7))


def test_wrong_number_of_gradients_is_refused():
    class Bad(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g

    y = Bad.apply(rt.tensor(1.0, requires_grad=True), rt.tensor(2.0, requires_grad=True))
    with pytest.raises(RuntimeError, match=r"BadBackward returned an incorrect number of gradients \(expected 2, got 1\)"):
        y.backward()


def test_gradient_of_the_wrong_shape_is_refused_and_a_broadcast_one_summed():
    class WrongShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            return rt.tensor(np.ones(5))

    class Broadcast(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            return rt.tensor(np.ones((4, 3)))          # sums to x's shape (3,), as in PyTorch

    with pytest.raises(RuntimeError, match="invalid gradient at index 0 - got \\[5\\] but expected shape compatible with \\[3\\]"):
        WrongShape.apply(rt.tensor(np.zeros(3), requires_grad=True)).backward()
    x = rt.tensor(np.zeros(3), requires_grad=True)
    Broadcast.apply(x).backward()
    assert x.grad.tolist() == [4.0, 4.0, 4.0]


def test_mark_non_differentiable():
    class Argmax(Function):
        @staticmethod
        def forward(ctx, x):
            idx = rt.tensor(float(np.argmax(x.detach().numpy())))
            ctx.mark_non_differentiable(idx)
            return x.max(), idx

        @staticmethod
        def backward(ctx, g, g_idx):
            return g * 0 + 1

    m, i = Argmax.apply(rt.tensor([1.0, 3.0], requires_grad=True))
    assert m.requires_grad and not i.requires_grad


def test_apply_without_grad_needed_records_nothing():
    y = Exp.apply(rt.tensor(1.0))
    assert not y.requires_grad and y.grad_fn is None
