"""NumPy's own functions on Tensors (__array_ufunc__ / __array_function__)."""
import numpy as np
import pytest

import runtime as rt
from runtime.gradcheck import compare, numerical_grad


def test_a_numpy_written_function_runs_unchanged_and_records(rng):
    def f(x, y):
        return np.sin(x) * np.sum(y)

    X, Y = rng.normal(size=3), rng.normal(size=(2, 2))
    x, y = rt.tensor(X, requires_grad=True), rt.tensor(Y, requires_grad=True)
    out = f(x, y)
    assert isinstance(out, rt.Tensor) and out.requires_grad
    out.sum().backward()
    for t, i in ((x, 0), (y, 1)):
        assert compare(t.grad.numpy(), numerical_grad(f, [X, Y], i))[2]


def test_a_small_network_in_plain_numpy(rng):
    W1, b1, W2, X = rng.normal(size=(4, 5)), rng.normal(size=5), rng.normal(size=(5, 3)), rng.normal(size=(6, 4))
    labels = np.array([0, 2, 1, 1, 0, 2])

    def loss(W1, b1, W2):
        h = np.maximum(X @ W1 + b1, 0)
        z = h @ W2
        z = z - np.max(z, axis=1, keepdims=True)
        logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
        return -np.mean(logp[np.arange(6), labels])

    params = [rt.tensor(a, requires_grad=True) for a in (W1, b1, W2)]
    loss(*params).backward()
    for i, p in enumerate(params):
        assert compare(p.grad.numpy(), numerical_grad(loss, [W1, b1, W2], i))[2]


@pytest.mark.parametrize("expr", [
    "np.maximum(x, 0)", "np.minimum(0.5, x)", "np.exp(x) + np.log1p(x * x)", "np.abs(x)", "np.sqrt(x * x + 1)",
    "np.tanh(x) ** 2", "np.arctan2(x, 2.0)", "np.hypot(x, 3.0)", "np.logaddexp(x, 0.0)", "np.square(x)",
    "np.where(x > 0, x, 0.1 * x)", "np.clip(x, -0.5, 0.5)", "np.clip(x, a_min=-0.5, a_max=None)",
    "np.mean(x, axis=0)", "np.max(x)", "np.amin(x, axis=0, keepdims=True)", "np.prod(x)",
    "np.concatenate([x, x * 2])", "np.stack([x, x], axis=1)", "np.transpose(np.outer(x, x))",
    "np.reshape(x, (1, 3))", "np.expand_dims(x, 0)", "np.squeeze(np.expand_dims(x, 0))", "np.dot(x, x)",
    "x @ np.ones((3, 2))", "np.ones((2, 3)) @ x", "np.ones(3) * x", "np.float64(2.0) * x", "np.negative(x)",
    "np.add.reduce(x)", "np.multiply(x, np.arange(3.0))", "np.true_divide(1.0, x + 3)", "np.power(x, 2)",
    "np.broadcast_to(x, (2, 3))", "np.swapaxes(np.ones((2, 3)) * x, 0, 1)", "np.copy(x)", "np.ravel(x)",
])
def test_numpy_functions_record(expr, rng):
    X = rng.normal(size=3)
    x = rt.tensor(X, requires_grad=True)
    out = eval(expr, {"np": np, "x": x})
    assert isinstance(out, rt.Tensor) and out.requires_grad
    np.testing.assert_allclose(out.detach().numpy(), eval(expr, {"np": np, "x": X}))
    out.sum().backward()

    def f(v):
        return eval(expr, {"np": np, "x": v})
    assert compare(x.grad.numpy(), numerical_grad(f, [X], 0))[2]


def test_functions_without_gradient_give_plain_results():
    x = rt.tensor([1.0, -2.0, 3.0], requires_grad=True)
    assert np.argmax(x) == 2 and np.isnan(x).tolist() == [False] * 3
    assert isinstance(np.floor(x), np.ndarray) and np.shape(x) == (3,) and np.ndim(x) == 1
    assert np.allclose(x, [1.0, -2.0, 3.0]) and np.size(x) == 3


def test_a_numpy_function_without_a_rule_refuses_a_tensor_that_requires_grad():
    x = rt.tensor([1.0, 2.0], requires_grad=True)     # (np.unwrap: no rule is planned for it)
    with pytest.raises(TypeError, match="numpy.unwrap has no derivative rule"):
        np.unwrap(x)
    assert np.unwrap(x.detach()).tolist() == [1.0, 2.0]     # fine without a gradient
    with rt.no_grad():
        assert np.unwrap(x).tolist() == [1.0, 2.0]


def test_out_arguments_are_refused():
    x = rt.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="out="):
        np.add(x, 1, out=np.empty(2))


def test_ndarray_on_the_left_gives_a_tensor():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    for out in (np.array([1.0, 1.0]) + x, np.array([2.0, 2.0]) * x, np.array([3.0, 3.0]) - x):
        assert isinstance(out, rt.Tensor) and out.requires_grad
