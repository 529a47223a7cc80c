"""Views and in-place operations through them (issue 9, item 9), and complex tensors (item 10).

Each program below runs, written once, on runtime and on PyTorch 2.13 (float64 CPU), and is checked:

* against PyTorch: the loss, every leaf's gradient, the final values of the tensors it returns, and which
  calls raise (type and message);
* against numbers: the loss with grad mode off equals the loss with grad mode on (an in-place change that
  does not reach the base shows up here), and the gradients equal central differences of the grad-off
  program.

PyTorch is optional: without it the comparisons with it skip (under CI, where `CI` is set, they must run),
the checks against numbers always run.
"""
import os

import numpy as np
import pytest

import runtime as rt
from runtime.gradcheck import compare, numerical_grad

if os.environ.get("CI"):
    import torch
else:
    try:
        import torch
    except ImportError:
        torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (pip install '.[conformance]')")

MODIFIED = "one of the variables needed for gradient computation has been modified by an inplace operation"
VIEW_OF_LEAF = "a view of a leaf Variable that requires grad is being used in an in-place operation."
LEAF = "a leaf Variable that requires grad is being used in an in-place operation."
NO_GRAD_VIEW = "A view was created in no_grad mode and is being modified inplace with grad mode enabled"
PARTIAL = "some elements of the input tensor and the written-to tensor refer to a single memory location"
INTERNAL = "more than one element of the written-to tensor refers to a single memory location"
FREED = "Trying to backward through the graph a second time"


class RT:
    name = "runtime"
    no_grad = staticmethod(rt.no_grad)
    grad = staticmethod(rt.autograd.grad)

    @staticmethod
    def tensor(v, requires_grad=False):
        return rt.tensor(np.array(v, dtype=np.float64), requires_grad=requires_grad)

    @staticmethod
    def expand(x, shape):
        return x.broadcast_to(shape)

    @staticmethod
    def exp(x):
        return rt.exp(x)


class TORCH:
    name = "torch"

    def __init__(self):
        self.no_grad = torch.no_grad
        self.grad = torch.autograd.grad

    @staticmethod
    def tensor(v, requires_grad=False):
        return torch.tensor(np.array(v, dtype=np.float64), requires_grad=requires_grad)

    @staticmethod
    def expand(x, shape):
        return x.expand(*shape)

    @staticmethod
    def exp(x):
        return torch.exp(x)


def _np(t):
    if t is None:
        return None
    if isinstance(t, rt.Tensor):
        return np.array(t.detach().numpy(), dtype=np.float64)
    return t.detach().numpy().astype(np.float64)


def run(lib, program, inputs, grad=True):
    """program(L, *leaves) -> (loss, tensors to compare); returns (loss, [leaf grads], [tensor values]),
    or ("raised", type name, message)."""
    try:
        leaves = [lib.tensor(a, requires_grad=grad) for a in inputs]
        loss, shown = program(lib, *leaves)
        if grad:
            loss.backward()
        return (float(_np(loss)), [_np(x.grad) for x in leaves] if grad else None, [_np(t) for t in shown])
    except Exception as e:          # noqa: BLE001  (which calls raise is part of what is compared)
        return ("raised", type(e).__name__, str(e))


def check_numbers(program, inputs):
    """Grad-off value == grad-on value, and gradients == central differences (runtime only)."""
    on = run(RT, program, inputs)
    assert on[0] != "raised", on
    off = run(RT, program, inputs, grad=False)
    assert off[0] != "raised", off
    assert on[0] == pytest.approx(off[0], rel=1e-12, abs=1e-12), "grad mode changed the value"
    for a, b in zip(on[2], off[2]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)

    def f(*arrays):
        return run(RT, program, arrays, grad=False)[0]

    for k, g in enumerate(on[1]):
        numeric = numerical_grad(f, [np.array(a, dtype=np.float64) for a in inputs], k)
        got = np.zeros_like(numeric) if g is None else g
        _, _, ok = compare(got, numeric)
        assert ok, f"input {k}: tape {got} vs central differences {numeric}"
    return on


def check_torch(program, inputs):
    mine = run(RT, program, inputs)
    ref = run(TORCH(), program, inputs)
    if mine[0] == "raised" or ref[0] == "raised":
        assert mine[:2] == ref[:2], f"runtime: {mine}\ntorch: {ref}"
        return mine, ref
    assert mine[0] == pytest.approx(ref[0], rel=1e-12, abs=1e-12), (mine, ref)
    for k, (a, b) in enumerate(zip(mine[1], ref[1])):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=f"gradient of input {k}")
    for k, (a, b) in enumerate(zip(mine[2], ref[2])):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=f"value {k}")
    return mine, ref


# ---- programs: values and gradients ------------------------------------------------------------------

X2 = [1.0, 2.0]
X3 = [0.5, -1.2, 2.0]
M23 = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
M22 = [[0.3, -1.1], [2.0, 0.7]]


def slice_imul(L, x):
    """The issue's example: 13 and [18, 4] (PyTorch); the tape gave 5 and [2, 4]."""
    y = x * 1.0
    r = y[0:1]
    r *= 3.0
    return (y * y).sum(), [y, r]


def full_slice(L, x, w):
    y = x * 1.0
    r = y[:]
    r *= w
    r += 1.0
    return (y * y * x).sum(), [y]


def reversed_slice(L, x, w):
    """y[::-1] (PyTorch refuses negative steps: checked against numbers only)."""
    y = x * 1.0
    r = y[::-1]
    r *= w
    r[0] = r[0] * 2.0
    return (y * y).sum() + (r * x).sum(), [y, r]


def transpose_row(L, x, s):
    y = x * 1.0
    r = y.T
    r[0] *= s
    return (y * y).sum(), [y, r]


def transpose_inplace(L, x, w):
    y = x * 2.0
    r = y.T
    r -= w
    r /= 3.0
    return (y ** 3).sum(), [y]


def reshape_view(L, x, s):
    y = x * 1.0
    r = y.reshape(-1)
    r[1:3] += s * 10.0
    return (y * y).sum(), [y, r]


def ravel_view(L, x, w):
    y = x * 1.0
    r = y.ravel()
    r *= w
    return (y * x).sum(), [y]


def unsqueeze_squeeze(L, x, s):
    y = x * 1.0
    r = y.unsqueeze(0)
    r *= s
    q = r.squeeze(0)
    q += 1.0
    return (y * y).sum(), [y, r, q]


def chained_views(L, x, s):
    """A view of a view of a view, changed in place; then the middle one is read."""
    y = x * 1.0
    v1 = y[:, 1:]
    v2 = v1.T
    v3 = v2[0]
    v3 *= s
    return (y ** 2).sum() + (v1 * v1).sum(), [y, v1, v2, v3]


def base_after_view(L, x, s):
    """An in-place change to the base after a view was taken: the view sees values and gradient."""
    y = x * 1.0
    r = y[1:]
    y *= s
    return (r * r).sum(), [y, r]


def base_then_view(L, x, s):
    y = x * 1.0
    r = y[1:]
    y.mul_(s)
    r *= r * 0.5 + 1.0
    return (y * y).sum(), [y, r]


def setitem_through_view(L, x, w):
    y = x * 1.0
    r = y[1:]
    r[0] = w * 2.0
    return (y * y).sum(), [y, r]


def index_imul(L, x, s):
    """a[0] *= s: Python takes the view a[0], multiplies it in place and assigns it back."""
    a = x * 1.0
    a[0] *= s
    return (a * a).sum() + a.sum(), [a]


def transpose_reshape_copy(L, x, s):
    """y.T.reshape(-1) is a copy (NumPy and PyTorch agree): the in-place change leaves y alone."""
    y = x * 1.0
    c = y.T.reshape(-1)
    c += s
    c *= s
    return (y * y).sum() + (c * c).sum(), [y, c]


def plain_base_view_adds_grad(L, x):
    """The base needs no grad; adding a tensor that does through a view makes the base require it."""
    y = L.tensor(np.zeros(3))
    r = y[0:2]
    r2 = r[1:]
    r2 += x * 3.0
    return (y * y).sum(), [y, r]


def view_after_base_needs_grad(L, x):
    y = L.tensor(np.zeros(3))
    r = y[0:2]
    y += x
    # PyTorch makes r's new grad_fn when it is read; unless read first, its in-place check sees r as a leaf
    # that requires grad and refuses. The tape updates r's grad_fn at `y += x`, so reading it changes nothing.
    assert (r.grad_fn is not None) == x.requires_grad
    r *= 3.0
    return (y * y).sum(), [y, r]


def view_changed_under_no_grad(L, x):
    y = x * 1.0
    r = y[0:2]
    with L.no_grad():
        r += 1.0
    return (y * y).sum(), [y]


def zero_fill_copy(L, x, w):
    y = x * 1.0
    y[0:1].zero_()
    y[1:2].fill_(5.0)
    y[2:3].copy_(w * w)
    return (y * y * x).sum(), [y]


def disjoint_views(L, x):
    y = x * 1.0
    r = y[0:2]
    r += y[2:4]
    return (y * y).sum(), [y]


def divide_by_tensor_through_view(L, x, w):
    y = x * 1.0
    r = y[1:]
    r /= w
    y += 1.0                        # div_ keeps its own copy of r's old value: no error
    return (y * y).sum(), [y]


def power_through_view(L, x):
    y = x * 1.0
    r = y[0:2]
    r **= 2.0
    return (y * x).sum(), [y]


def multiply_then_change(L, x, w):
    y = x * 1.0
    y *= w                          # mul_ keeps a copy of y's old value for w's gradient
    y += 1.0
    return y.sum(), [y]


def view_used_then_base_changed(L, x):
    """r * 2 saves nothing of r: changing y afterwards is fine and r's old use keeps its gradient."""
    y = x * 1.0
    r = y[0:1]
    z = r * 2.0
    y += 1.0
    return z.sum() + y.sum(), [y, z]


def leaf_view_under_no_grad(L, x):
    r = x[0:1]
    with L.no_grad():
        r += 1.0
    return (x * x).sum(), [x]


def detached_view_of_leaf(L, x):
    d = x.detach()
    r = d[0:1]
    r += 1.0
    return (x * x).sum(), [x, d]


def f_ordered_base(L, x, w):
    """y is laid out column-major (elementwise results keep x.T's layout, in NumPy and PyTorch), so
    y.T.reshape(-1) is a view of it; CopySlices then cannot view the gradient the same way (np.where path)."""
    y = x.T * 1.0
    r = y.T.reshape(-1)
    r *= w
    return (y * y).sum(), [y, r]


def rows_in_a_loop(L, x, s):
    """Rows taken by iterating are views (PyTorch refuses this: unbind's views; checked against numbers)."""
    y = x * 1.0
    for row in y:
        row *= s
        s = s + 1.0
    return (y * y).sum(), [y]


def power_by_tensor_through_view(L, x, w):
    y = x * 1.0
    r = y[1:]
    r **= w                         # pow_ saves its result: r's memory, checked against r's version
    return (y * y).sum(), [y]


PROGRAMS = [
    (slice_imul, [X2]),
    (full_slice, [X3, [2.0, -0.5, 1.5]]),
    (transpose_row, [M23, 0.5]),
    (transpose_inplace, [M22, [[1.0, 2.0], [-1.0, 0.5]]]),
    (reshape_view, [M22, 0.7]),
    (ravel_view, [M22, [1.0, -2.0, 3.0, 0.5]]),
    (unsqueeze_squeeze, [X3, 1.3]),
    (chained_views, [M23, 10.0]),
    (base_after_view, [X3, 2.0]),
    (base_then_view, [X3, 1.5]),
    (setitem_through_view, [X3, 7.0]),
    (index_imul, [M23, 0.5]),
    (transpose_reshape_copy, [M23, 0.5]),
    (plain_base_view_adds_grad, [1.5]),
    (view_after_base_needs_grad, [[1.0, -2.0, 0.5]]),
    (view_changed_under_no_grad, [X3]),
    (zero_fill_copy, [X3, [0.9]]),
    (disjoint_views, [[1.0, 2.0, 3.0, 4.0]]),
    (divide_by_tensor_through_view, [X3, [2.0, -4.0]]),
    (power_through_view, [X3]),
    (multiply_then_change, [X2, [3.0, 4.0]]),
    (view_used_then_base_changed, [X2]),
    (leaf_view_under_no_grad, [X3]),
    (detached_view_of_leaf, [X3]),
    (f_ordered_base, [M23, [1.0, -1.0, 2.0, 0.5, 3.0, -2.0]]),
    (power_by_tensor_through_view, [[0.5, 1.2, 2.0], [2.0, 3.0]]),
]

NUMBERS_ONLY = [(reversed_slice, [X3, [2.0, -0.5, 1.5]]), (rows_in_a_loop, [M23, 0.5])]


def _id(p):
    return p[0].__name__


# Programs that change their own leaf (under no_grad, or through detach()) have no central differences to
# compare with: PyTorch is their reference.
NUMBERS = [p for p in PROGRAMS if p[0] not in (leaf_view_under_no_grad, detached_view_of_leaf)] + NUMBERS_ONLY


@pytest.mark.parametrize("program,inputs", NUMBERS, ids=[_id(p) for p in NUMBERS])
def test_against_numbers(program, inputs):
    check_numbers(program, inputs)


@needs_torch
@pytest.mark.parametrize("program,inputs", PROGRAMS, ids=[_id(p) for p in PROGRAMS])
def test_against_torch(program, inputs):
    mine, _ = check_torch(program, inputs)
    assert mine[0] != "raised", mine


def test_issue_example_values():
    loss, grads, values = run(RT, slice_imul, [X2])
    assert loss == 13.0 and grads[0].tolist() == [18.0, 4.0] and values[0].tolist() == [3.0, 2.0]
    assert run(RT, slice_imul, [X2], grad=False)[0] == 13.0


def test_history_is_rewritten_as_in_pytorch():
    x = rt.tensor(X2, requires_grad=True)
    y = x * 1.0
    r = y[0:1]
    assert r._base is y and r._is_view() and not y._is_view()
    r *= 3.0
    assert type(y.grad_fn).__name__ == "CopySlices"
    assert y.grad_fn.next_functions[0][0].name() == "MulBackward"
    assert r.grad_fn.next_functions[0][0] is y.grad_fn        # r's grad_fn is replayed from the base's
    assert r._version == y._version == 1


def test_numpy_decides_what_is_a_view():
    y = rt.tensor(np.arange(6.0).reshape(2, 3))
    assert y[0]._is_view() and y[:, 1]._is_view() and y.T._is_view() and y.reshape(3, 2)._is_view()
    assert y.ravel()._is_view() and y[None]._is_view() and rt.expand_dims(y, 0)._is_view()
    assert not y.T.reshape(-1)._is_view()           # NumPy copies this layout
    assert not y[[0, 1]]._is_view() and not y[y > 2]._is_view()
    c = y.T.reshape(-1)
    c += 100.0
    assert y.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    r = y.reshape(-1)
    r += 100.0
    assert y.tolist()[0][0] == 100.0


def test_views_share_memory_with_their_base_both_ways():
    y = rt.tensor(np.zeros((2, 3)))
    r = y[1]
    c = r[1:]
    c += 1.0                        # a view of a view, changed: the base sees it
    y[0, 0] = 5.0                   # the base changed: the views see it
    assert y.tolist() == [[5.0, 0.0, 0.0], [0.0, 1.0, 1.0]] and r.tolist() == [0.0, 1.0, 1.0]
    y *= 2.0
    assert c.tolist() == [2.0, 2.0]


def test_f_ordered_base_takes_the_general_path_of_copy_slices(monkeypatch):
    from runtime import inplace
    calls = []
    real = inplace._embed
    monkeypatch.setattr(inplace, "_embed", lambda h, steps: calls.append(steps) or real(h, steps))
    check_numbers(f_ordered_base, [M23, [1.0, -1.0, 2.0, 0.5, 3.0, -2.0]])
    assert calls, "the gradient's region was a plain view: the np.where path went untested"


def test_float32_base_with_a_float64_operand():
    def program(y, w):
        r = y[1:]
        r *= w
        (y * y).sum().backward()
        return _np(y).tolist(), _np(w.grad).tolist()

    y = rt.tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    w = rt.tensor([2.0, 3.0], requires_grad=True)
    assert program(y, w) == ([1.0, 4.0, 9.0], [16.0, 54.0]) and y.dtype == np.float32
    if torch is not None:
        ty = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float32)
        tw = torch.tensor([2.0, 3.0], dtype=torch.float64, requires_grad=True)
        assert program(ty, tw) == ([1.0, 4.0, 9.0], [16.0, 54.0])


def test_in_place_through_a_view_of_a_wrapped_array_writes_the_array():
    a = np.zeros(3)
    t = rt.Tensor(a)                # shares a, like torch.from_numpy
    w = rt.tensor(1.5, requires_grad=True)
    v = t[1:]
    v += w
    assert a.tolist() == [0.0, 1.5, 1.5] and t.requires_grad and type(t.grad_fn).__name__ == "CopySlices"


def test_dead_views_are_dropped_from_their_base():
    y = rt.tensor(np.zeros(100))
    for i in range(1000):
        y[i % 100:]
    assert len(y._views) < 64


def test_backward_twice_through_copy_slices():
    def program(L, x, w):
        y = x * 1.0
        r = y[0:2]
        r *= w
        return y.sum(), []

    x, w = rt.tensor(X3, requires_grad=True), rt.tensor([2.0, 3.0], requires_grad=True)
    loss, _ = program(RT, x, w)
    loss.backward(retain_graph=True)
    loss.backward()
    assert x.grad.tolist() == [4.0, 6.0, 2.0] and w.grad.tolist() == [1.0, -2.4]
    loss, _ = program(RT, x, w)
    loss.backward()
    with pytest.raises(RuntimeError, match=FREED):
        loss.backward()


@needs_torch
def test_backward_twice_through_copy_slices_matches_torch():
    def program(L, retain):
        x = L.tensor(X3, requires_grad=True)
        w = L.tensor([2.0, 3.0], requires_grad=True)
        y = x * 1.0
        r = y[0:2]
        r *= w
        loss = (y * 1.0).sum()
        loss.backward(retain_graph=retain)
        try:
            loss.backward()
        except RuntimeError as e:
            return "raised", str(e)[:50]
        return _np(x.grad).tolist(), _np(w.grad).tolist()

    for retain in (True, False):
        assert program(RT, retain) == program(TORCH(), retain)


def test_second_derivative_through_copy_slices():
    def program(L):
        x = L.tensor(X3, requires_grad=True)
        y = x * x
        r = y[0:2]
        r *= x[1:] * 3.0
        z = (y * y).sum()
        g, = L.grad(z, x, create_graph=True)
        (g * g).sum().backward()
        return _np(g), _np(x.grad)

    g, gg = program(RT)
    x = np.array(X3)

    def z_of(v):
        y = v * v
        y[0:2] = y[0:2] * v[1:] * 3.0
        return float(np.sum(y * y))

    numeric = numerical_grad(z_of, [x], 0)
    assert compare(g, numeric)[2]

    def gsq(v):
        return float(np.sum(program_grad(v) ** 2))

    def program_grad(v):
        t = rt.tensor(v, requires_grad=True)
        y = t * t
        r = y[0:2]
        r *= t[1:] * 3.0
        (y * y).sum().backward()
        return t.grad.numpy()

    assert compare(gg, numerical_grad(gsq, [x], 0), rtol=1e-4, atol=1e-5)[2]
    if torch is not None:
        tg, tgg = program(TORCH())
        np.testing.assert_allclose(g, tg, rtol=1e-12)
        np.testing.assert_allclose(gg, tgg, rtol=1e-12)


# ---- programs PyTorch refuses -----------------------------------------------------------------------

def leaf_view_imul(L, x):
    v = x[0:1]
    v *= 2.0
    return v.sum(), []


def leaf_view_setitem(L, x):
    v = x[0:2]
    v[0] = 2.0
    return v.sum(), []


def leaf_index_imul(L, x):
    x[0:1] *= 2.0
    return x.sum(), []


def leaf_view_of_view(L, x):
    v = x[0:2][1:]
    v += 1.0
    return v.sum(), []


def no_grad_view_of_leaf(L, x):
    with L.no_grad():
        v = x[0:1]
    v *= 2.0
    return v.sum(), []


def no_grad_view_of_non_leaf(L, x):
    y = x * 1.0
    with L.no_grad():
        v = y[0:1]
    v += 1.0
    return y.sum(), []


def no_grad_view_of_plain_tensor(L, x):
    y = L.tensor(np.zeros(3))
    with L.no_grad():
        v = y[0:2]
    v += x[0:2]
    return y.sum(), []


def view_taken_before_requires_grad(L, x):
    y = L.tensor(_np(x))
    r = y[0:2]
    y.requires_grad_()
    r *= 2.0
    return y.sum(), []


def saved_base_changed_through_view(L, x):
    y = x * 1.0
    z = y * y                       # saves y
    r = y[0:1]
    r += 1.0
    return z.sum(), []


def saved_view_changed_through_base(L, x):
    y = x * 1.0
    r = y[0:2]
    z = r * r                       # saves r
    y[2] = 5.0                      # elsewhere in y: the counter is shared, as PyTorch
    return z.sum(), []


def saved_result_changed_through_view_under_no_grad(L, x):
    y = L.exp(x)                    # saves its result
    r = y[0:1]
    with L.no_grad():
        r *= 2.0
    return y.sum(), []


def square_in_place(L, x):
    y = x * 1.0
    y *= y                          # mul_ saves the other operand, y itself, which it changes
    return y.sum(), []


def power_result_changed(L, x, w):
    y = x * 1.0
    y **= w                         # pow_ saves its result (for w's gradient)
    y += 1.0
    return y.sum(), []


def view_times_other_view(L, x):
    y = x * 1.0
    r = y[0:1]
    r *= y[2:3]                     # saves y[2:3], whose counter (y's) the write moves
    return y.sum(), []


def partial_overlap_operand(L, x):
    y = x * 1.0
    r = y[0:2]
    r *= y[1:3]
    return y.sum(), []


def partial_overlap_setitem(L, x):
    y = x * 1.0
    y[0:2] = y[1:3]
    return y.sum(), []


def transpose_plus_itself(L, x):
    y = x * 1.0
    r = y.T
    r += y
    return y.sum(), []


def write_into_broadcast(L, x):
    y = x * 1.0
    e = L.expand(y, (3, 3))
    e += 1.0
    return y.sum(), []


def write_into_broadcast_under_no_grad(L, x):
    y = L.tensor(np.array(X3))
    e = L.expand(y, (2, 3))
    with L.no_grad():
        e *= 2.0
    return x.sum(), []


def detach_view_in_place(L, x):
    y = x * 1.0
    r = y[0:1]
    r.detach_()
    return y.sum(), []


REFUSED = [
    (leaf_view_imul, [X2], VIEW_OF_LEAF),
    (leaf_view_setitem, [X3], VIEW_OF_LEAF),
    (leaf_index_imul, [X2], VIEW_OF_LEAF),
    (leaf_view_of_view, [X3], VIEW_OF_LEAF),
    (view_taken_before_requires_grad, [X3], VIEW_OF_LEAF),
    (no_grad_view_of_leaf, [X2], NO_GRAD_VIEW),
    (no_grad_view_of_non_leaf, [X2], NO_GRAD_VIEW),
    (no_grad_view_of_plain_tensor, [X3], NO_GRAD_VIEW),
    (saved_base_changed_through_view, [X2], MODIFIED),
    (saved_view_changed_through_base, [X3], MODIFIED),
    (saved_result_changed_through_view_under_no_grad, [X2], MODIFIED),
    (square_in_place, [X2], MODIFIED),
    (power_result_changed, [X2, [2.0, 3.0]], MODIFIED),
    (view_times_other_view, [X3], MODIFIED),
    (partial_overlap_operand, [X3], PARTIAL),
    (partial_overlap_setitem, [X3], PARTIAL),
    (transpose_plus_itself, [M22], PARTIAL),
    (write_into_broadcast, [X3], INTERNAL),
    (write_into_broadcast_under_no_grad, [X3], INTERNAL),
    (detach_view_in_place, [X2], "Can't detach views in-place"),
]


@pytest.mark.parametrize("program,inputs,message", REFUSED, ids=[_id(p) for p in REFUSED])
def test_refused_as_pytorch_refuses(program, inputs, message):
    mine = run(RT, program, inputs)
    assert mine[0] == "raised" and mine[1] == "RuntimeError" and message in mine[2], mine


@needs_torch
@pytest.mark.parametrize("program,inputs,message", REFUSED, ids=[_id(p) for p in REFUSED])
def test_refused_against_torch(program, inputs, message):
    mine, ref = check_torch(program, inputs)
    assert ref[0] == "raised" and message in ref[2], ref       # the message is PyTorch's too


def test_copy_is_not_a_view():
    x = rt.tensor(X3, requires_grad=True)
    y = x * 1.0
    c = y.copy()                    # NumPy's spelling of clone()
    c += 1.0
    (c * y).sum().backward()
    assert not c._is_view() and y.tolist() == X3 and x.grad.tolist() == [2 * v + 1.0 for v in X3]


def test_leaf_itself_is_still_refused():
    x = rt.tensor(X2, requires_grad=True)
    with pytest.raises(RuntimeError, match=LEAF):
        x += 1.0


def test_read_only_arrays_are_refused_clearly():
    a = np.array(X3)
    a.flags.writeable = False
    t = rt.Tensor(a)
    with pytest.raises(ValueError, match="read-only"):
        t += 1.0
    with pytest.raises(ValueError, match="read-only"):
        t[0] = 1.0


# ---- complex tensors (item 10) ----------------------------------------------------------------------

COMPLEX = "complex numbers are not supported by the tape's gradients"


@pytest.mark.parametrize("make", [
    lambda: rt.tensor(1 + 2j, requires_grad=True),
    lambda: rt.tensor([1 + 2j, 3.0], requires_grad=True),
    lambda: rt.tensor(np.array([1.0]), dtype=np.complex128, requires_grad=True),
    lambda: rt.Tensor(np.array([1 + 2j]), requires_grad=True),
    lambda: rt.tensor(np.array([1 + 2j])).requires_grad_(True),
    lambda: rt.tensor(np.array([1 + 2j])).requires_grad_(),
], ids=["scalar", "list", "dtype", "Tensor", "requires_grad_(True)", "requires_grad_()"])
def test_complex_tensor_cannot_require_grad(make):
    with pytest.raises(RuntimeError, match=COMPLEX) as info:
        make()
    assert "real and imaginary parts" in str(info.value)


@pytest.mark.parametrize("op", [
    lambda x: x * 1j,
    lambda x: 1j * x,
    lambda x: np.multiply(x, 1j),
    lambda x: x + np.array([1j, 2j]),
    lambda x: x @ np.array([[1j], [1.0]]),
    lambda x: rt.where(np.array([True, False]), x, 1j),
    lambda x: rt.concatenate([x, np.array([1j])]),
    lambda x: x.sum() * 1j,
], ids=["mul", "rmul", "np.multiply", "add array", "matmul", "where", "concatenate", "scalar mul"])
def test_operation_making_a_complex_result_from_a_tensor_that_requires_grad_is_refused(op):
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=COMPLEX):
        op(x)


def test_complex_in_place_on_a_recorded_tensor_is_refused():
    y = rt.tensor([1.0, 2.0], requires_grad=True) * 1.0
    with pytest.raises(RuntimeError, match=COMPLEX):
        y += 1j
    s = rt.tensor(1.5, requires_grad=True) * 1.0
    with pytest.raises(RuntimeError, match=COMPLEX):
        s *= 1j


def test_complex_output_of_a_custom_function_is_refused():
    class Rotate(rt.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1j

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match=COMPLEX):
        Rotate.apply(rt.tensor([1.0], requires_grad=True))


def test_complex_data_cannot_be_assigned_to_a_tensor_that_requires_grad():
    x = rt.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=COMPLEX):
        x.data = np.array([1j])


def test_complex_without_gradients_still_works():
    z = rt.tensor(np.array([1 + 2j]))
    assert (abs(z * 1j)).tolist() == [pytest.approx(5 ** 0.5)]
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    with rt.no_grad():
        assert (x * 1j).tolist() == [1j, 2j]
    assert (x.detach() * 1j).tolist() == [1j, 2j]


def test_split_real_and_imaginary_parts_give_pytorch_gradient():
    """The issue's example, |z * 1j| at 1+2j, written on real tensors: the gradient is PyTorch's
    (+0.447+0.894j, as re + i*im), not the unconjugated -0.447-0.894j the tape used to give."""
    re, im = rt.tensor(1.0, requires_grad=True), rt.tensor(2.0, requires_grad=True)
    out_re, out_im = -im, re                       # (re + i im) * i
    rt.sqrt(out_re * out_re + out_im * out_im).backward()
    expected = (1 / 5 ** 0.5, 2 / 5 ** 0.5)
    assert (re.grad.item(), im.grad.item()) == pytest.approx(expected, rel=1e-12)
    if torch is not None:
        z = torch.tensor(1 + 2j, dtype=torch.complex128, requires_grad=True)
        torch.abs(z * 1j).backward()
        assert (z.grad.real.item(), z.grad.imag.item()) == pytest.approx(expected, rel=1e-12)
