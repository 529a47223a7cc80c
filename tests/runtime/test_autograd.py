"""runtime.autograd.grad and higher-order derivatives (create_graph=True)."""
import numpy as np
import pytest

import runtime as rt
from runtime.gradcheck import compare, numerical_grad


def test_grad_leaves_dot_grad_untouched():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    g, = rt.autograd.grad((x ** 2).sum(), x)
    assert g.tolist() == [2.0, 4.0] and x.grad is None and not g.requires_grad


def test_grad_with_respect_to_an_intermediate_value():
    x = rt.tensor(2.0, requires_grad=True)
    h = x * 3
    y = h ** 2
    gh, gx = rt.autograd.grad(y, [h, x])
    assert (gh.item(), gx.item()) == (12.0, 36.0)


def test_grad_prunes_the_graph_below_the_inputs():
    x = rt.tensor(2.0, requires_grad=True)
    h = x * x
    y = h * 3
    (h * 1.0).backward()            # frees x * x's saved values
    gh, = rt.autograd.grad(y, h)    # does not need them
    assert gh.item() == 3.0


def test_grad_of_an_unused_input_needs_allow_unused():
    x = rt.tensor(1.0, requires_grad=True)
    z = rt.tensor(1.0, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"index 1 appears to not have been used in the graph"):
        rt.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = rt.autograd.grad(y, [x, z], allow_unused=True)
    assert gx.item() == 2.0 and gz is None


def test_grad_refuses_inputs_and_outputs_without_grad():
    x = rt.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        rt.autograd.grad(x * 2, rt.tensor(1.0))
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        rt.autograd.grad(rt.tensor(1.0), x)


def test_grad_outputs_weight_non_scalar_outputs():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    g, = rt.autograd.grad(x ** 3, x, grad_outputs=np.array([1.0, -1.0]))
    assert g.tolist() == [3.0, -12.0]


def test_grad_of_several_outputs_sums_them():
    x = rt.tensor(2.0, requires_grad=True)
    g, = rt.autograd.grad([x * 3, x * x], x)
    assert g.item() == 7.0


def test_third_derivative_of_x_cubed():
    x = rt.tensor(1.5, requires_grad=True)
    d1, = rt.autograd.grad(x ** 3, x, create_graph=True)
    d2, = rt.autograd.grad(d1, x, create_graph=True)
    d3, = rt.autograd.grad(d2, x)
    assert np.allclose([d1.item(), d2.item(), d3.item()], [3 * 1.5 ** 2, 6 * 1.5, 6.0])


def test_derivatives_of_sin_cycle():
    x = rt.tensor(0.3, requires_grad=True)
    d = rt.sin(x)
    got = []
    for _ in range(4):
        d, = rt.autograd.grad(d, x, create_graph=True)
        got.append(d.item())
    assert np.allclose(got, [np.cos(0.3), -np.sin(0.3), -np.cos(0.3), np.sin(0.3)])


def test_hessian_vector_product_of_a_numpy_written_function(rng):
    A = rng.normal(size=(4, 4))
    x0, v = rng.normal(size=4), rng.normal(size=4)

    def f(x):
        return np.sum(np.tanh(A @ x) ** 2) + np.sum(np.exp(x) * x)

    def grad_dot_v(x_raw):
        x = rt.tensor(x_raw, requires_grad=True)
        g, = rt.autograd.grad(f(x), x)
        return float(np.dot(g.numpy(), v))

    x = rt.tensor(x0, requires_grad=True)
    g, = rt.autograd.grad(f(x), x, create_graph=True)
    hv, = rt.autograd.grad((g * v).sum(), x)
    assert compare(hv.numpy(), numerical_grad(grad_dot_v, [x0], 0), atol=1e-5, rtol=1e-4)[2]


def test_gradient_penalty_through_backward_with_create_graph():
    w = rt.tensor([0.5, -1.0], requires_grad=True)
    x = rt.tensor([2.0, 3.0])
    loss = rt.tanh((w * x).sum())
    loss.backward(create_graph=True)
    penalty = (w.grad ** 2).sum()   # depends on w through the recorded backward pass
    w.grad = None
    penalty.backward()
    s = np.tanh(0.5 * 2 - 3.0)
    expected = 2 * (1 - s * s) * (-2 * s) * (1 - s * s) * np.array([2.0, 3.0]) * np.dot([2.0, 3.0], [2.0, 3.0])
    np.testing.assert_allclose(w.grad.numpy(), expected)


def test_create_graph_keeps_the_graph_by_default():
    x = rt.tensor(2.0, requires_grad=True)
    y = x ** 3
    g, = rt.autograd.grad(y, x, create_graph=True)
    g2, = rt.autograd.grad(y, x)    # y's graph is still there
    assert g.item() == g2.item() == 12.0


def test_second_derivative_through_a_matmul_and_a_reduction(rng):
    W0 = rng.normal(size=(3, 2))
    X = rng.normal(size=(5, 3))

    def loss(W):
        return (np.tanh(X @ W) ** 2).mean()

    def first(W_raw):
        W = rt.tensor(W_raw, requires_grad=True)
        g, = rt.autograd.grad(loss(W), W)
        return float(g.numpy()[1, 0])

    W = rt.tensor(W0, requires_grad=True)
    g, = rt.autograd.grad(loss(W), W, create_graph=True)
    h, = rt.autograd.grad(g[1, 0], W)
    assert compare(h.numpy(), numerical_grad(first, [W0], 0), atol=1e-5, rtol=1e-4)[2]
