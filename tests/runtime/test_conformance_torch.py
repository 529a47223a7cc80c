"""Conformance with PyTorch: the same programs on runtime.Tensor and on torch (float64 CPU), compared on
values, gradients, flags, node names and which calls raise.

PyTorch is optional for users: without it these tests skip, except when the environment variable CI is
set (the CI script installs it), where a missing torch is an error.
"""
import math
import os

import numpy as np
import pytest

import runtime as rt

if os.environ.get("CI"):
    import torch            # noqa: F401  (CI must have the reference: fail, don't skip)
else:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; conformance tests need it "
                                                "(pip install '.[conformance]')")

SEED = 20240531


class RT:
    """The program-facing API, on runtime."""
    name = "runtime"
    no_grad = staticmethod(rt.no_grad)
    grad = staticmethod(rt.autograd.grad)
    Function = rt.autograd.Function

    @staticmethod
    def tensor(data, requires_grad=False):
        return rt.tensor(data, requires_grad=requires_grad)

    def __getattr__(self, name):            # sin, exp, maximum, where, ...
        return getattr(rt, name)

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        return x.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def mean(x, axis=None, keepdims=False):
        return x.mean(axis=axis, keepdims=keepdims)

    @staticmethod
    def amax(x, axis=None, keepdims=False):
        return x.max(axis=axis, keepdims=keepdims)

    @staticmethod
    def amin(x, axis=None, keepdims=False):
        return x.min(axis=axis, keepdims=keepdims)

    @staticmethod
    def prod(x, axis=None):
        return x.prod(axis=axis)

    @staticmethod
    def clip(x, lo, hi):
        return x.clip(lo, hi)

    @staticmethod
    def cat(xs, axis=0):
        return rt.concatenate(xs, axis=axis)

    @staticmethod
    def unsqueeze(x, axis):
        return rt.expand_dims(x, axis)

    @staticmethod
    def permute(x, axes):
        return x.transpose(axes)

    @staticmethod
    def index(x, idx):
        return x[idx]

    @staticmethod
    def where(cond, a, b):
        return rt.where(cond, a, b)


class TORCH:
    """The same API on torch, float64."""
    name = "torch"

    def __init__(self):
        self.no_grad = torch.no_grad
        self.grad = torch.autograd.grad
        self.Function = torch.autograd.Function

    @staticmethod
    def tensor(data, requires_grad=False):
        return torch.tensor(np.asarray(data, dtype=np.float64), requires_grad=requires_grad)

    def __getattr__(self, name):
        names = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arctan2": "atan2"}
        return getattr(torch, names.get(name, name))

    @staticmethod
    def _const(x, like):
        return x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.float64)

    def maximum(self, a, b):
        return torch.maximum(self._const(a, b), self._const(b, a))

    def minimum(self, a, b):
        return torch.minimum(self._const(a, b), self._const(b, a))

    def hypot(self, a, b):
        return torch.hypot(self._const(a, b), self._const(b, a))

    def logaddexp(self, a, b):
        return torch.logaddexp(self._const(a, b), self._const(b, a))

    def arctan2(self, a, b):
        return torch.atan2(self._const(a, b), self._const(b, a))

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        return x.sum() if axis is None and not keepdims else x.sum(dim=axis, keepdim=keepdims)

    @staticmethod
    def mean(x, axis=None, keepdims=False):
        return x.mean() if axis is None and not keepdims else x.mean(dim=axis, keepdim=keepdims)

    @staticmethod
    def amax(x, axis=None, keepdims=False):
        return torch.amax(x, dim=() if axis is None else axis, keepdim=keepdims)

    @staticmethod
    def amin(x, axis=None, keepdims=False):
        return torch.amin(x, dim=() if axis is None else axis, keepdim=keepdims)

    @staticmethod
    def prod(x, axis=None):
        return x.prod() if axis is None else x.prod(dim=axis)

    @staticmethod
    def clip(x, lo, hi):
        return torch.clamp(x, lo, hi)

    @staticmethod
    def cat(xs, axis=0):
        return torch.cat(xs, dim=axis)

    @staticmethod
    def stack(xs, axis=0):
        return torch.stack(xs, dim=axis)

    @staticmethod
    def unsqueeze(x, axis):
        return x.unsqueeze(axis)

    @staticmethod
    def permute(x, axes):
        return x.permute(axes)

    @staticmethod
    def index(x, idx):
        if isinstance(idx, tuple):
            idx = tuple(torch.as_tensor(i) if isinstance(i, np.ndarray) else i for i in idx)
        elif isinstance(idx, np.ndarray):
            idx = torch.as_tensor(idx)
        return x[idx]

    @staticmethod
    def where(cond, a, b):
        cond = torch.as_tensor(np.asarray(cond))
        return torch.where(cond, TORCH._const(a, b), TORCH._const(b, a))

    @staticmethod
    def reshape(x, shape):
        return x.reshape(shape)

    @staticmethod
    def squeeze(x, axis):
        return x.squeeze(axis)


LIBS = [RT(), TORCH()]


def _plain(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, rt.Tensor):
        return np.asarray(v.detach().numpy(), dtype=np.float64)
    if isinstance(v, torch.Tensor):
        try:
            return v.detach().numpy().astype(np.float64)
        except RuntimeError:        # PyTorch's ZeroTensor (a known-zero gradient)
            return np.zeros(tuple(v.shape))
    return np.asarray(v, dtype=np.float64)


def run_both(program):
    results = []
    for lib in LIBS:
        try:
            results.append(("ok", _plain(program(lib))))
        except Exception as e:          # noqa: BLE001  (which calls raise is part of what we compare)
            results.append(("raised", type(e).__name__, str(e)))
    return results


def assert_same(program):
    (rt_res, torch_res) = run_both(program)
    if rt_res[0] == "raised" or torch_res[0] == "raised":
        assert rt_res[0] == torch_res[0], f"runtime: {rt_res}\ntorch: {torch_res}"
        assert rt_res[1] == torch_res[1], f"runtime raised {rt_res[1]}: {rt_res[2]}\ntorch raised {torch_res[1]}: {torch_res[2]}"
        return rt_res, torch_res
    _assert_close(rt_res[1], torch_res[1], "result")
    return rt_res, torch_res


def _assert_close(a, b, where):
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{where}: {a} vs {b}"
        for k, (x, y) in enumerate(zip(a, b)):
            _assert_close(x, y, f"{where}[{k}]")
    elif a is None or isinstance(a, (bool, str)):
        assert a == b, f"{where}: {a!r} vs {b!r}"
    else:
        assert b is not None and np.shape(a) == np.shape(b), f"{where}: shapes {np.shape(a)} vs {np.shape(b)}"
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=where)


def _inputs(*shapes, positive=False):
    rng = np.random.default_rng(SEED)
    out = [rng.normal(size=s) for s in shapes]
    return [np.abs(a) + 0.5 for a in out] if positive else out


# ---- values and gradients ------------------------------------------------------------------------

def scalar_mix(L):
    x, y, z = (L.tensor(v, requires_grad=True) for v in (0.3, 0.7, -0.4))
    a = x * y + z
    b = L.sin(a) * x
    c = L.exp(b * 0.1) + y
    d = L.log(c * c + 1.0)
    e = L.tanh(d - z) * a
    f = e * e + b / c - L.sqrt(c) + L.cos(d) ** 2
    g = L.maximum(f, a) + L.minimum(f, 0.1) + L.abs(e - 1) + L.arctan2(a, y) + L.hypot(b, c)
    h = L.logaddexp(g, x) + L.expm1(a) + L.log1p(c) + L.log2(c) + L.log10(c) + L.arcsin(a * 0.5)
    out = h + L.arccos(b * 0.3) + L.arctan(d) + L.sinh(e) + L.cosh(a) + L.tan(b) - (-x) ** 3 + 2 ** y
    out.backward()
    return [out, x.grad, y.grad, z.grad]


def broadcasting(L):
    A, B, C, D = _inputs((3, 1), (1, 4), (4,), (3, 4))
    a, b, c, d = (L.tensor(v, requires_grad=True) for v in (A, B, C, D))
    s = L.tensor(1.5, requires_grad=True)
    y = a * b + c / (d * d + 1) - a ** 2 + s * d - b / s
    (y * L.tensor(np.arange(12.0).reshape(3, 4))).sum().backward()
    return [y, a.grad, b.grad, c.grad, d.grad, s.grad]


def reductions(L):
    X, = _inputs((2, 3, 4), positive=True)
    x = L.tensor(X, requires_grad=True)
    parts = [L.sum(x, axis=1), L.mean(x, axis=(0, 2)), L.amax(x, axis=-1, keepdims=True),
             L.amin(x, axis=0), L.prod(x, axis=2), L.sum(x, axis=(0, 1), keepdims=True), L.mean(x)]
    total = sum(L.sum(p * p) for p in parts)
    total.backward()
    return parts + [x.grad]


def linear_algebra(L):
    A, B, v, w, T = _inputs((3, 4), (4, 2), (4,), (3,), (2, 4, 3))
    a, b, vv, ww, t = (L.tensor(x, requires_grad=True) for x in (A, B, v, w, T))
    outs = [a @ b, a @ vv, ww @ a, vv @ vv, L.matmul(t, L.tensor(np.ones((3, 2)))), a @ L.sum(t, axis=0),
            L.matmul(L.permute(t, (0, 2, 1)), vv)]
    loss = sum(L.sum(o * o) for o in outs)
    loss.backward()
    return outs + [a.grad, b.grad, vv.grad, ww.grad, t.grad]


def mlp_softmax_cross_entropy(L):
    rng = np.random.default_rng(SEED)
    X, labels = rng.normal(size=(8, 6)), rng.integers(0, 4, size=8)
    W1, b1 = L.tensor(rng.normal(size=(6, 5)) * 0.5, True), L.tensor(np.zeros(5), True)
    W2, b2 = L.tensor(rng.normal(size=(5, 4)) * 0.5, True), L.tensor(np.zeros(4), True)
    h = L.tanh(L.tensor(X) @ W1 + b1)
    logits = h @ W2 + b2
    m = L.amax(logits, axis=1, keepdims=True)
    lse = L.log(L.sum(L.exp(logits - m), axis=1, keepdims=True)) + m
    logp = logits - lse
    loss = -L.mean(L.index(logp, (np.arange(8), labels)))
    loss.backward()
    return [loss, W1.grad, b1.grad, W2.grad, b2.grad]


def indexing(L):
    X, = _inputs((4, 3))
    x = L.tensor(X, requires_grad=True)
    parts = [x[1], x[-1, 1:], x[::2, 1:], L.index(x, np.array([0, 2, 0, 0])),
             L.index(x, (np.array([1, 1, 3]), np.array([2, 2, 0]))), L.index(x, X > 0.2), x[None, ..., 0]]
    sum(L.sum(p * (k + 1)) for k, p in enumerate(parts)).backward()
    return parts + [x.grad]


def shapes(L):
    X, Y = _inputs((2, 3), (2, 3))
    x, y = L.tensor(X, requires_grad=True), L.tensor(Y, requires_grad=True)
    parts = [L.cat([x, y], axis=1), L.stack([x, y], axis=0), L.reshape(x, (3, 2)), x.T,
             L.unsqueeze(x, 1), L.squeeze(L.unsqueeze(y, 0), 0), L.where(X > 0, x, y * 2),
             L.clip(x, -0.5, 0.5)]
    sum(L.sum(p * p) for p in parts).backward()
    return parts + [x.grad, y.grad]


def kinks_like_pytorch(L):
    a = L.tensor([1.0, 2.0, 3.0, 0.0], requires_grad=True)
    b = L.tensor([1.0, 5.0, 0.0, 0.0], requires_grad=True)
    m = L.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], requires_grad=True)
    e = L.tensor([0.0, 2.0, 0.5, 0.0], requires_grad=True)
    out = (L.sum(L.maximum(a, b)) + 2 * L.sum(L.minimum(a, b)) + L.sum(L.abs(a - b))
           + L.sum(L.clip(a, 1.0, 2.0)) + L.sum(L.amax(m, axis=1)) + L.sum(L.amin(m)) + L.sum(b ** e)
           + L.sum(L.sqrt(a + 1)))
    with np.errstate(divide="ignore"):      # 0 ** -0.5 in b's gradient: inf, as PyTorch (NumPy also warns)
        out.backward()
    return [out, a.grad, b.grad, m.grad, e.grad]


def higher_order(L):
    x = L.tensor(0.8, requires_grad=True)
    y = L.tensor([0.5, -1.5], requires_grad=True)
    f = x ** 3 * L.sin(x) + L.sum(L.exp(x * y)) + L.tanh(x) / (1 + x * x)
    d1, = L.grad(f, x, create_graph=True)
    d2, = L.grad(d1, x, create_graph=True)
    d3, dy = L.grad(d2, (x, y))
    return [d1, d2, d3, dy]


def grad_options(L):
    x = L.tensor([1.0, 2.0], requires_grad=True)
    z = L.tensor(3.0, requires_grad=True)
    y = x ** 2
    g1 = L.grad(y, x, grad_outputs=L.tensor([1.0, -1.0]), retain_graph=True)
    g2 = L.grad(L.sum(y), [x, z], allow_unused=True)
    return [list(g1), list(g2), x.grad]


def accumulation_and_retain_grad(L):
    x = L.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    y = L.sum(h * h)
    y.backward(retain_graph=True)
    y.backward()
    return [x.grad, h.grad]


def inplace_recorded(L):
    x = L.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = L.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = x * 2
    y += 1
    y *= w
    y[1] = w[0] * 10
    y -= x
    L.sum(y * y).backward()
    return [y, x.grad, w.grad, y.grad_fn is not None]


def parameter_update_under_no_grad(L):
    w = L.tensor([1.0, -2.0], requires_grad=True)
    for _ in range(3):
        loss = L.sum((w - 0.5) ** 2)
        loss.backward()
        with L.no_grad():
            w -= 0.25 * w.grad
        w.grad.zero_()
    return [w, w.grad, w.is_leaf, w.requires_grad]


def flags(L):
    a = L.tensor(2.0)
    b = L.tensor(3.0, requires_grad=True)
    c = a * b
    d = a * 2
    with L.no_grad():
        e = b * 2
    f = c.detach()
    g = d
    g.requires_grad = True
    return [c.requires_grad, c.is_leaf, d.requires_grad, d.is_leaf, e.requires_grad, f.requires_grad,
            f.is_leaf, g.is_leaf, g.requires_grad, b.grad_fn is None, c.grad_fn is not None]


def custom_function(L):
    class Cube(L.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 3 * x * x

    x = L.tensor([0.5, -2.0], requires_grad=True)
    y = Cube.apply(x)
    g, = L.grad(L.sum(y), x, create_graph=True)
    h, = L.grad(L.sum(g), x)
    return [y, g, h]


PROGRAMS = [scalar_mix, broadcasting, reductions, linear_algebra, mlp_softmax_cross_entropy, indexing, shapes,
            kinks_like_pytorch, higher_order, grad_options, accumulation_and_retain_grad, inplace_recorded,
            parameter_update_under_no_grad, flags, custom_function]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_same_values_and_gradients_as_pytorch(program):
    rt_res, _ = assert_same(program)
    assert rt_res[0] == "ok", rt_res


# ---- which calls raise ---------------------------------------------------------------------------

def backward_of_a_vector(L):
    (L.tensor([1.0, 2.0], requires_grad=True) * 2).backward()


def backward_twice_after_multiplying_by_a_constant(L):
    x = L.tensor([1.0, 2.0], requires_grad=True)
    y = L.sum(x * 2.0)
    y.backward()
    y.backward()


def backward_twice(L):
    x = L.tensor([1.0, 2.0], requires_grad=True)
    y = L.sum(x * x)
    y.backward()
    y.backward()


def backward_twice_without_saved_tensors(L):
    x = L.tensor([1.0, 2.0], requires_grad=True)
    y = L.sum(L.reshape(-x + 1.0, (2, 1))[0] - 2.0)
    y.backward()
    y.backward()
    return x.grad


def requires_grad_true_on_a_non_leaf(L):
    a = L.tensor(2.0, requires_grad=True)
    c = a * a
    c.requires_grad = True


def requires_grad_false_on_a_non_leaf(L):
    c = L.tensor(2.0, requires_grad=True) * 2
    c.requires_grad = False


def backward_without_grad(L):
    L.tensor(1.0).backward()


def in_place_on_a_leaf(L):
    x = L.tensor([1.0, 2.0], requires_grad=True)
    x += 1


def setitem_on_a_leaf(L):
    x = L.tensor([1.0, 2.0], requires_grad=True)
    x[0] = 5.0


def saved_result_modified(L):
    x = L.tensor([1.0, 2.0], requires_grad=True)
    y = L.exp(x)
    with L.no_grad():
        y += 1
    L.sum(y).backward()


def saved_input_modified(L):
    x = L.tensor([1.0, 2.0], requires_grad=True)
    p = x * 2
    q = p * x
    p += 1
    L.sum(q).backward()


def unsaved_input_modified(L):
    x = L.tensor([1.0, 2.0], requires_grad=True)
    p = x * 2
    q = p + x
    p += 1
    L.sum(q).backward()
    return x.grad


def numpy_of_a_tensor_that_requires_grad(L):
    L.tensor([1.0], requires_grad=True).numpy()


def grad_of_an_unused_input(L):
    x = L.tensor(1.0, requires_grad=True)
    z = L.tensor(1.0, requires_grad=True)
    L.grad(x * 2, [x, z])


def gradient_of_wrong_shape(L):
    (L.tensor([1.0, 2.0], requires_grad=True) * 2).backward(L.tensor([1.0, 1.0, 1.0]))


def item_of_a_vector(L):
    L.tensor([1.0, 2.0]).item()


ERROR_PROGRAMS = [backward_of_a_vector, backward_twice, backward_twice_without_saved_tensors,
                  backward_twice_after_multiplying_by_a_constant,
                  requires_grad_true_on_a_non_leaf, requires_grad_false_on_a_non_leaf, backward_without_grad,
                  in_place_on_a_leaf, setitem_on_a_leaf, saved_result_modified, saved_input_modified,
                  unsaved_input_modified, numpy_of_a_tensor_that_requires_grad, grad_of_an_unused_input,
                  gradient_of_wrong_shape, item_of_a_vector]


@pytest.mark.parametrize("program", ERROR_PROGRAMS, ids=lambda p: p.__name__)
def test_raises_where_pytorch_raises(program):
    assert_same(program)


@pytest.mark.parametrize("program, needle", [
    (backward_of_a_vector, "grad can be implicitly created only for scalar outputs"),
    (backward_twice, "Specify retain_graph=True"),
    (requires_grad_false_on_a_non_leaf, "you can only change requires_grad flags of leaf variables"),
    (backward_without_grad, "element 0 of tensors does not require grad and does not have a grad_fn"),
    (in_place_on_a_leaf, "a leaf Variable that requires grad is being used in an in-place operation"),
    (saved_result_modified, "one of the variables needed for gradient computation has been modified by an inplace operation"),
    (numpy_of_a_tensor_that_requires_grad, "Can't call numpy() on Tensor that requires grad"),
    (grad_of_an_unused_input, "appears to not have been used in the graph"),
])
def test_error_messages_say_what_pytorch_says(program, needle):
    rt_res, torch_res = run_both(program)
    assert needle in rt_res[2] and needle in torch_res[2]


# ---- names and printing --------------------------------------------------------------------------

@pytest.mark.parametrize("expr", ["a * b", "a + b", "a - b", "a / b", "a ** b", "L.exp(a)", "L.log(a)",
                                  "L.sin(a)", "L.cos(a)", "L.tanh(a)", "L.sqrt(a)", "-a", "L.abs(a)",
                                  "L.maximum(a, b)", "L.sum(a)", "L.mean(a)", "L.expm1(a)", "L.log1p(a)",
                                  "L.sinh(a)", "L.hypot(a, b)", "L.prod(a)"])
def test_grad_fn_names_match_pytorch_without_the_number(expr):
    names = []
    for L in LIBS:
        a = L.tensor([1.5, 2.0], requires_grad=True)
        b = L.tensor([0.5, 3.0], requires_grad=True)
        fn = eval(expr, {"L": L, "a": a, "b": b}).grad_fn
        names.append(type(fn).__name__.rstrip("0123456789"))
        names.append([type(n).__name__ for n, _ in fn.next_functions if n is not None])
    assert names[0] == names[2] and names[1] == names[3]


def test_repr_of_a_leaf_and_a_result_as_pytorch_prints_float64():
    for make, expected in [(lambda L: L.tensor(3.0, requires_grad=True), "tensor(3., {}requires_grad=True)"),
                           (lambda L: L.tensor([1.0, 2.5]), "tensor([1.0000, 2.5000]{})"),
                           (lambda L: L.tensor(2.0, requires_grad=True) * 3, "tensor(6., {}grad_fn=<MulBackward{}>)")]:
        mine, theirs = repr(make(LIBS[0])), repr(make(LIBS[1]))
        assert mine == expected.format("", "").replace(", )", ")")
        assert theirs.replace("dtype=torch.float64, ", "").replace(", dtype=torch.float64", "") \
            .replace("MulBackward0", "MulBackward") == mine


def test_math_on_a_scalar_that_requires_grad_converts_with_the_same_warning():
    for L in LIBS:
        with pytest.warns(UserWarning, match="requires_grad=True to a scalar"):
            assert math.sin(L.tensor(0.5, requires_grad=True)) == math.sin(0.5)


# ---- random programs ---------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

UNARY = ["sin", "cos", "tanh", "exp_small", "log_safe", "sqrt_safe", "neg", "abs", "square", "sum_rows",
         "mean_cols", "max_rows"]
BINARY = ["add", "sub", "mul", "div_safe", "maximum", "minimum", "hypot"]


def _expressions():
    leaf = st.sampled_from(["x", "y", "z", "c"])
    return st.recursive(leaf, lambda inner: st.one_of(
        st.tuples(st.sampled_from(UNARY), inner),
        st.tuples(st.sampled_from(BINARY), inner, inner)), max_leaves=12)


def _evaluate(expr, env, L):
    if isinstance(expr, str):
        return env[expr]
    op, *args = expr
    v = [_evaluate(a, env, L) for a in args]
    if op in ("sum_rows", "mean_cols", "max_rows"):       # reductions that keep broadcastable shapes
        if v[0].ndim == 2:
            axis = 1 if op == "mean_cols" else 0
            return {"sum_rows": L.sum, "mean_cols": L.mean, "max_rows": L.amax}[op](v[0], axis=axis, keepdims=True)
        return v[0] * 1.0
    if op == "exp_small":
        return L.exp(L.tanh(v[0]))
    if op == "log_safe":
        return L.log(v[0] * v[0] + 1.0)
    if op == "sqrt_safe":
        return L.sqrt(v[0] * v[0] + 0.5)
    if op == "neg":
        return -v[0]
    if op == "abs":
        return L.abs(v[0])
    if op == "square":
        return v[0] ** 2
    if op == "div_safe":
        return v[0] / (v[1] * v[1] + 1.0)
    if op in ("add", "sub", "mul"):
        return {"add": v[0] + v[1], "sub": v[0] - v[1], "mul": v[0] * v[1]}[op]
    return getattr(L, op)(*v)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(expr=_expressions(), layout=st.sampled_from(["scalars", "vectors", "broadcasting"]))
def test_random_programs_give_pytorchs_values_and_gradients(expr, layout):
    shapes = {"scalars": [()] * 4, "vectors": [(3,)] * 4, "broadcasting": [(3, 1), (1, 4), (3, 4), (4,)]}[layout]

    def program(L):
        rng = np.random.default_rng(SEED)
        x, y, z = (L.tensor(rng.normal(size=s) + 0.1, requires_grad=True) for s in shapes[:3])
        env = {"x": x, "y": y, "z": z, "c": L.tensor(rng.normal(size=shapes[3]))}
        out = _evaluate(expr, env, L)
        if not getattr(out, "requires_grad", False):
            return [out]
        grads = L.grad(L.sum(out), (x, y, z), create_graph=True, allow_unused=True)
        first = [g for g in grads if g is not None and g.requires_grad]
        second = L.grad(sum(L.sum(g * g) for g in first), (x, y, z), allow_unused=True) if first else [None] * 3
        # Where the first derivative is piecewise constant (abs, maximum), PyTorch keeps it in the graph
        # with a zero second derivative; runtime treats the mask as a constant. Both mean 0: compare so.
        return ([out] + [None if g is None else g * 1.0 for g in grads]
                + [np.zeros(s) if h is None else h for h, s in zip(second, shapes)])

    rt_res, torch_res = assert_same(program)
    assert rt_res[0] == "ok", rt_res
