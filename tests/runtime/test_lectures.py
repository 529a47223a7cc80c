"""The seed lectures' worked examples, with the lectures' numbers (/work/shared/seeds).

Where a lecture's figure is missing, the test says which part is reconstructed from the text.
"""
import math

import numpy as np
import pytest

import runtime as rt


# ---- 004: chain rule, grad_fn and next_functions ---------------------------------------------------

def test_004_chain_rule_log_of_square_plus_one_at_3_is_two_thirds():
    x = rt.tensor(3.0, requires_grad=True)
    f = x ** 2                  # df/dx = 2x = 6
    g = rt.log(f)               # dg/df = 1/f = 1/9
    h = g + 1                   # dh/dg = 1
    h.backward()
    assert math.isclose(x.grad.item(), 2 / 3)
    assert math.isclose(h.item(), math.log(9) + 1)


def test_004_the_same_example_written_with_numpy_functions():
    x = rt.tensor(3.0, requires_grad=True)
    h = np.log(x ** 2) + 1
    h.backward()
    assert math.isclose(x.grad.item(), 2 / 3)


def test_004_grad_fn_called_with_1_gives_2_and_6():
    # a = 2, b = 4, c = a + b; the figure with d and e is missing: d = b - a = 2 and e = c * d make
    # e.grad_fn(1.) = (de/dc, de/dd) = (d, c) = (2, 6), the numbers on the slide.
    a = rt.tensor(2.0, requires_grad=True)
    b = rt.tensor(4.0, requires_grad=True)
    c = a + b
    d = b - a
    e = c * d
    dc, dd = e.grad_fn(1.0)
    assert (dc.item(), dd.item()) == (2.0, 6.0)
    # "[2, 6] is used as input to the functions e.grad_fn.next_functions"
    (fc, _), (fd, _) = e.grad_fn.next_functions
    assert fc is c.grad_fn and fd is d.grad_fn
    assert type(fc).__name__ == "AddBackward" and type(fd).__name__ == "SubBackward"
    da_via_c, db_via_c = fc(dc)
    db_via_d, da_via_d = fd(dd)            # d = b - a: its inputs are (b, a)
    assert (da_via_c.item() + da_via_d.item(), db_via_c.item() + db_via_d.item()) == (-4.0, 8.0)
    e.backward()
    assert (a.grad.item(), b.grad.item()) == (-4.0, 8.0)


def test_004_next_functions_of_leaves_are_accumulate_grad_nodes():
    a = rt.tensor(2.0, requires_grad=True)
    b = rt.tensor(4.0, requires_grad=True)
    c = a + b
    (na, _), (nb, _) = c.grad_fn.next_functions
    assert type(na).__name__ == "AccumulateGrad" and na.variable is a and nb.variable is b
    assert na.next_functions == ()


# ---- 003: chain rule over paths, requires_grad contagion, grad_fn, Function ---------------------

def test_003_loss_of_the_weighted_graph_has_the_path_sums_of_the_notes():
    a, w1, w2, w3, w4 = (rt.tensor(v, requires_grad=True) for v in (2.0, 0.5, -1.5, 3.0, 0.25))
    b = w1 * a
    c = w2 * a
    d = w3 * b + w4 * c
    L = 10 - d
    L.backward()
    # dL/dw4 = dL/dd * dd/dw4 = -c ; dL/dw1 = dL/dd * dd/db * db/dw1 = -w3 * a
    assert w4.grad.item() == -c.item()
    assert w3.grad.item() == -b.item()
    assert w2.grad.item() == -w4.item() * a.item()
    assert w1.grad.item() == -w3.item() * a.item()
    # two paths from a to L add up: dL/da = -(w3 w1 + w4 w2)
    assert a.grad.item() == -(w3.item() * w1.item() + w4.item() * w2.item())
    assert type(d.grad_fn).__name__ == "AddBackward"


def test_003_requires_grad_is_contagious_and_leaves_have_no_grad_fn():
    x = rt.tensor(1.0)
    w = rt.tensor(2.0, requires_grad=True)
    y = x * 3
    z = y * w
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None and not z.is_leaf
    assert w.grad_fn is None and w.is_leaf and x.is_leaf


def test_003_backward_only_on_a_scalar_without_an_explicit_gradient():
    w = rt.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (w * 2).backward()


def test_003_no_grad_for_inference():
    w = rt.tensor([1.0, 2.0], requires_grad=True)
    with rt.no_grad():
        y = w * 2
    assert not y.requires_grad and y.grad_fn is None


def test_003_a_function_with_forward_and_backward():
    class MulAdd(rt.autograd.Function):
        """d = w3 * b + w4 * c as one Function: forward adds, backward multiplies by local gradients."""

        @staticmethod
        def forward(ctx, w3, b, w4, c):
            ctx.save_for_backward(w3, b, w4, c)
            return w3 * b + w4 * c

        @staticmethod
        def backward(ctx, g):
            w3, b, w4, c = ctx.saved_tensors
            return g * b, g * w3, g * c, g * w4

    w3, b, w4, c = (rt.tensor(v, requires_grad=True) for v in (3.0, 1.0, 0.25, -3.0))
    d = MulAdd.apply(w3, b, w4, c)
    assert type(d.grad_fn).__name__ == "MulAddBackward"
    (10 - d).backward()
    assert [t.grad.item() for t in (w3, b, w4, c)] == [-1.0, -3.0, 3.0, -0.25]


# ---- 002: backprop on the simple graph, gates, forks ---------------------------------------------

def test_002_simple_example_x_plus_y_times_z():
    x, y, z = (rt.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    q = x + y
    f = q * z
    f.backward()
    assert (f.item(), q.item()) == (-12.0, 3.0)
    assert (x.grad.item(), y.grad.item(), z.grad.item()) == (-4.0, -4.0, 3.0)


def test_002_gates_add_copies_max_routes_mul_swaps():
    x, y, z, w = (rt.tensor(v, requires_grad=True) for v in (3.0, -4.0, 2.0, -1.0))
    f = 2 * (x * y + rt.maximum(z, w))
    f.backward()
    assert (x.grad.item(), y.grad.item()) == (-8.0, 6.0)      # mul: the other input, times upstream 2
    assert (z.grad.item(), w.grad.item()) == (2.0, 0.0)       # max: routes to the larger input


def test_002_gradients_add_at_forks():
    x = rt.tensor(1.5, requires_grad=True)
    L = rt.exp(x) + x ** 2
    L.backward()
    assert math.isclose(x.grad.item(), math.exp(1.5) + 3.0)
    x.grad = None
    L = rt.exp(x) * x ** 2
    L.backward()
    assert math.isclose(x.grad.item(), math.exp(1.5) * 3.0 + math.exp(1.5) * 1.5 ** 2)


def test_002_gradient_check_against_finite_differences():
    from runtime.gradcheck import compare, numerical_grad
    rng = np.random.default_rng(20240531)
    W0, X = rng.normal(size=(3, 4)), rng.normal(size=(4, 5))

    def loss(W):
        scores = np.matmul(W, X)
        return np.sum(np.maximum(0.0, scores - scores[0] + 1.0))     # a hinge loss, in NumPy

    W = rt.tensor(W0, requires_grad=True)
    loss(W).backward()
    assert compare(W.grad.numpy(), numerical_grad(loss, [W0], 0))[2]


# ---- 001: Jacobian-vector products, external gradient, graph construction ---------------------

def test_001_external_gradient_weights_each_output():
    # z = f2(f1(x)) with 2-vectors; backward([0.2, 0.8]) weights dz1 by 0.2 and dz2 by 0.8.
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    y = x ** 2
    z = 2 * y + rt.sin(y)
    z.backward(rt.tensor([0.2, 0.8]))
    local = 2 * np.array([1.0, 2.0]) * (2 + np.cos(np.array([1.0, 4.0])))
    np.testing.assert_allclose(x.grad.numpy(), [0.2, 0.8] * local)


def test_001_ones_as_external_gradient_is_the_sum_of_the_jacobian_rows():
    x = rt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = rt.stack([x[0] * x[1], x[1] * x[2]])
    y.backward(np.ones(2), retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 2.0])
    x.grad = None
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 2.0])


def test_001_graph_of_two_leaves_that_require_grad():
    a = rt.tensor(2.0, requires_grad=True)
    b = rt.tensor(3.0, requires_grad=True)
    c = a * b
    assert repr(c) == "tensor(6., grad_fn=<MulBackward>)"
    assert [type(n).__name__ for n, _ in c.grad_fn.next_functions] == ["AccumulateGrad", "AccumulateGrad"]
    c.backward()
    assert (a.grad.item(), b.grad.item()) == (3.0, 2.0)


def test_001_leaves_that_do_not_require_grad_then_c_requires_grad():
    a = rt.tensor(2.0)
    b = rt.tensor(2.0)
    for t in (a, b):
        assert (t.item(), t.grad, t.grad_fn, t.is_leaf, t.requires_grad) == (2.0, None, None, True, False)
    c = a * b
    c.requires_grad = True          # c was made from tensors that need no grad: it is a leaf
    assert c.is_leaf and c.grad_fn is None and c.requires_grad
    d = c * 3
    d.backward()
    assert c.grad.item() == 3.0 and a.grad is None


# ---- 000: autograd in PyTorch ------------------------------------------------------------------

def test_000_requires_grad_defaults_to_false_and_requires_grad_sets_it():
    x = rt.tensor([1.0, 2.0])
    assert x.requires_grad is False
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad


def test_000_autograd_grad_returns_gradients_of_outputs_wrt_inputs():
    x = rt.tensor(2.0, requires_grad=True)
    y = rt.tensor(3.0, requires_grad=True)
    o = x * y + y ** 2
    gx, gy = rt.autograd.grad(o, (x, y))
    assert (gx.item(), gy.item()) == (3.0, 8.0)
    assert x.grad is None and y.grad is None


def test_000_backward_accumulates_so_zero_the_grad_between_steps():
    w = rt.tensor(1.5, requires_grad=True)
    for _ in range(3):
        (w * w).backward()
    assert w.grad.item() == 3 * 3.0
    w.grad.zero_()
    (w * w).backward()
    assert w.grad.item() == 3.0


def test_000_accumulation_sums_losses_over_mini_batches():
    w = rt.tensor([1.0, -1.0], requires_grad=True)
    batches = [np.array([1.0, 2.0]), np.array([3.0, -1.0])]
    for xb in batches:
        ((w * xb).sum() ** 2).backward()
    expected = sum(2 * np.dot([1.0, -1.0], xb) * xb for xb in batches)
    np.testing.assert_allclose(w.grad.numpy(), expected)


def test_000_no_grad_for_the_parameter_update():
    w = rt.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with rt.no_grad():
        w -= 0.1 * w.grad
    assert w.is_leaf and w.requires_grad
    np.testing.assert_allclose(w.numpy() if not w.requires_grad else w.detach().numpy(), [0.8, 1.6])


def test_000_detach_shares_data_but_not_the_graph():
    w = rt.tensor([1.0, 2.0], requires_grad=True)
    h = w * 3
    d = h.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert np.shares_memory(d.numpy(), h.detach().numpy())
    out = (d * w).sum()             # no gradient flows into h through d
    out.backward()
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 6.0])


def test_000_detach_to_update_a_leaf_in_place():
    w = rt.tensor([1.0, 2.0], requires_grad=True)
    w.detach()[0] = 5.0             # shares data: the leaf changes, no graph is recorded
    assert w.detach().tolist() == [5.0, 2.0] and w.is_leaf


def test_000_the_graph_is_freed_after_backward_unless_retain_graph():
    x = rt.tensor(2.0, requires_grad=True)
    y = x ** 3
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 24.0
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_000_create_graph_for_higher_order_derivatives():
    x = rt.tensor(2.0, requires_grad=True)
    y = x ** 3
    dy, = rt.autograd.grad(y, x, create_graph=True)      # 3x^2 = 12
    d2y, = rt.autograd.grad(dy, x, create_graph=True)    # 6x = 12
    d3y, = rt.autograd.grad(d2y, x)                      # 6
    assert (dy.item(), d2y.item(), d3y.item()) == (12.0, 12.0, 6.0)


def test_000_backward_with_create_graph_makes_grad_differentiable():
    x = rt.tensor(2.0, requires_grad=True)
    (x ** 3).backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.item() == 12.0
    x.grad = None
    g.backward()
    assert x.grad.item() == 12.0
