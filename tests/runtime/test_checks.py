"""runtime.autograd.gradcheck and gradgradcheck: they pass on correct gradients, and catch wrong ones (a
custom Function with a wrong backward, a backward that is not differentiable again, a nondeterministic
one), saying where. The last tests compare verdicts with PyTorch's gradcheck (skipped without torch)."""
import os
import warnings

import numpy as np
import pytest

import runtime as rt
from runtime.autograd import Function, GradcheckError, gradcheck, gradgradcheck

SEED = 20240531


def tanh_mlp(x, w1, w2):
    return rt.tanh(x @ w1) @ w2


def rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def two_outputs(x, y):
    return rt.sin(x) * y.sum(), (x ** 2).sum() + rt.exp(y)


def leaves(rng, *shapes):
    return tuple(rt.tensor(rng.normal(size=s), requires_grad=True) for s in shapes)


class WrongSin(Function):
    """sin with a backward off by a sign: what gradcheck is for."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return -g * np.cos(x)


class FlatSin(Function):
    """sin whose backward is right but computed outside the tape (from x's data), so it cannot be
    differentiated again: gradcheck passes, gradgradcheck must not."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * rt.tensor(np.cos(x.detach().numpy()))


class NoisySquare(Function):
    """x**2 with a backward that adds noise below gradcheck's tolerance: only reentrancy catches it."""

    rng = np.random.default_rng(SEED)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * 2 * x + rt.tensor(NoisySquare.rng.normal(size=x.shape) * 1e-9)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_correct_gradients_pass(fast_mode, rng):
    assert gradcheck(rt.sin, leaves(rng, ()), fast_mode=fast_mode)
    assert gradcheck(rosenbrock, leaves(rng, 5), fast_mode=fast_mode)
    assert gradcheck(tanh_mlp, leaves(rng, (4, 3), (3, 5), 5), fast_mode=fast_mode)
    assert gradcheck(two_outputs, leaves(rng, 3, 2), fast_mode=fast_mode)


def test_inputs_that_do_not_require_grad_are_passed_unchecked(rng):
    x, w1, w2 = leaves(rng, (4, 3), (3, 5), 5)
    assert gradcheck(tanh_mlp, (x.detach(), w1, w2.detach()))
    assert gradcheck(lambda x, k: x * k, (x, 3.0))


def test_second_derivatives_pass(rng):
    assert gradgradcheck(rosenbrock, leaves(rng, 4))
    assert gradgradcheck(tanh_mlp, leaves(rng, (2, 3), (3, 4), 4))
    assert gradgradcheck(two_outputs, leaves(rng, 3, 2))
    x, = leaves(rng, 3)
    assert gradgradcheck(lambda x: rt.tanh(x) * 2, x, grad_outputs=rt.tensor([1.0, -2.0, 0.5]))


def test_a_wrong_backward_raises_naming_the_input_and_the_worst_entry(rng):
    x, = leaves(rng, 3)
    with pytest.raises(GradcheckError, match="output 0 with respect to input 0") as caught:
        gradcheck(WrongSin.apply, x)
    message = str(caught.value)
    assert "worst entry: d output[" in message and "/ d input[" in message
    assert "3 of 9 entries differ" in message and "numerical:" in message
    assert isinstance(caught.value, RuntimeError)
    assert gradcheck(WrongSin.apply, x, raise_exception=False) is False


def test_the_wrong_input_among_several_is_the_one_named(rng):
    x, y = leaves(rng, 2, 2)
    with pytest.raises(GradcheckError, match="with respect to input 1"):
        gradcheck(lambda x, y: x * 3 + WrongSin.apply(y), (x, y))


def test_fast_mode_catches_a_wrong_backward_too(rng):
    x, = leaves(rng, 4)
    with pytest.raises(GradcheckError, match="fast mode"):
        gradcheck(WrongSin.apply, x, fast_mode=True)
    assert gradcheck(WrongSin.apply, x, fast_mode=True, raise_exception=False) is False


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable(rng):
    x, = leaves(rng, 3)
    assert gradcheck(FlatSin.apply, x)
    with pytest.raises(GradcheckError, match="with respect to input 0"):
        gradgradcheck(FlatSin.apply, x)
    assert gradgradcheck(FlatSin.apply, x, raise_exception=False) is False


def test_a_nondeterministic_backward_is_not_reentrant(rng):
    x, = leaves(rng, 3)
    with pytest.raises(GradcheckError, match="not reentrant"):
        gradcheck(NoisySquare.apply, x)
    assert gradcheck(NoisySquare.apply, x, nondet_tol=1e-6)


def test_an_output_cut_from_the_graph_must_not_depend_on_the_input(rng):
    x, = leaves(rng, 3)
    with pytest.raises(GradcheckError, match="does not require grad"):
        gradcheck(lambda x: (x * 2).detach(), x)
    assert gradcheck(lambda x: (x * 2, rt.tensor([1.0, 2.0])), x)


def test_gradient_dtypes_are_checked_when_asked(rng):
    class SquareIn32(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return rt.tensor((g * 2 * x).detach().numpy().astype(np.float32))

    x, = leaves(rng, 3)
    assert gradcheck(SquareIn32.apply, x, atol=1e-4)
    with pytest.raises(GradcheckError, match="dtype mismatch"):
        gradcheck(SquareIn32.apply, x, atol=1e-4, check_grad_dtypes=True)


def test_what_cannot_be_checked_is_refused(rng):
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradcheck(rt.sin, rt.tensor([1.0, 2.0]))
    x, = leaves(rng, 3)
    with pytest.raises(NotImplementedError, match="forward-mode"):
        gradcheck(rt.sin, x, check_forward_ad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gradcheck(rt.sin, rt.tensor(np.array([0.5], dtype=np.float32), requires_grad=True),
                  atol=1e-2, rtol=1e-2)
    assert any("not a double precision" in str(w.message) for w in caught)


def test_the_inputs_are_left_as_they_were(rng):
    x, = leaves(rng, 3)
    before = x.detach().numpy().copy()
    gradcheck(rosenbrock, x)
    gradgradcheck(rosenbrock, x)
    assert x.grad is None and np.array_equal(x.detach().numpy(), before)


# ---- the same verdicts as PyTorch ------------------------------------------------------------------------

def test_the_same_verdicts_as_pytorchs_gradcheck(rng):
    if os.environ.get("CI"):
        import torch            # CI installs the reference: fail, don't skip
    else:
        torch = pytest.importorskip("torch", reason="PyTorch is not installed; conformance tests need it")

    def torch_function(sign, differentiable):
        class Sin(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return torch.sin(x)

            @staticmethod
            def backward(ctx, g):
                x, = ctx.saved_tensors
                return sign * g * (torch.cos(x) if differentiable else torch.cos(x.detach()))
        return Sin.apply

    value = rng.normal(size=3)
    ours = rt.tensor(value, requires_grad=True)
    theirs = torch.tensor(value, requires_grad=True)
    cases = [
        (rt.sin, torch.sin),
        (WrongSin.apply, torch_function(-1, True)),
        (FlatSin.apply, torch_function(1, False)),
    ]
    for check in ("gradcheck", "gradgradcheck"):
        for our_f, their_f in cases:
            expected = getattr(torch.autograd, check)(their_f, theirs, raise_exception=False)
            assert getattr(rt.autograd, check)(our_f, ours, raise_exception=False) == expected
