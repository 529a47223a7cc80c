"""runtime.autograd.functional (jacobian, hessian, vjp, jvp, vhp, hvp): against central differences, and
against torch.autograd.functional (PyTorch 2.13, float64) on the same functions, written once for both
libraries. The PyTorch tests skip when torch is not installed (CI installs it and requires it)."""
import os

import numpy as np
import pytest

import runtime as rt
import runtime.autograd.functional as F
from runtime.gradcheck import numerical_jacobian

SEED = 20240531


# ---- the functions: each takes the library (runtime or torch) and returns func ------------------------

def scalar(lib):
    return lambda x: lib.sin(x) * x ** 2 + lib.exp(x / 3)


def vector(lib):
    return lambda x: lib.tanh(x) * x.sum() + x ** 3


def several(lib):
    """Two inputs (3,) and (2, 3), two outputs (2,) and (2, 3)."""
    return lambda x, y: (y @ lib.sin(x), (x ** 2).sum() * lib.exp(y))


def mlp(lib):
    """A tanh layer then a linear one, on four fixed samples: the output per sample, shape (4,)."""
    data = np.random.default_rng(SEED + 1).normal(size=(4, 3))

    def f(w1, b1, w2):
        samples = lib.tensor(data) if lib is rt else lib.tensor(data, dtype=lib.float64)
        return lib.tanh(samples @ w1 + b1) @ w2
    return f


def mlp_loss(lib):
    net = mlp(lib)
    return lambda w1, b1, w2: (net(w1, b1, w2) ** 2).sum() / 2


def rosenbrock(lib):
    return lambda x: (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def several_loss(lib):
    f = several(lib)

    def loss(x, y):
        a, b = f(x, y)
        return (a ** 2).sum() + (b * b).sum() / 3
    return loss


def point(rng, name):
    """The inputs of each function: shapes, and values where the function is not too flat or too steep."""
    if name == "scalar":
        return (np.array(0.7),)
    if name == "vector":
        return (rng.normal(size=3),)
    if name in ("several", "several_loss"):
        return rng.normal(size=3), rng.normal(size=(2, 3))
    if name in ("mlp", "mlp_loss"):
        return rng.normal(size=(3, 5)) * 0.5, rng.normal(size=5) * 0.1, rng.normal(size=5)
    if name == "rosenbrock":
        return (rng.uniform(-1.5, 1.5, size=5),)
    raise KeyError(name)


FUNCTIONS = {"scalar": scalar, "vector": vector, "several": several, "mlp": mlp, "rosenbrock": rosenbrock}
SCALAR_FUNCTIONS = {"scalar": scalar, "rosenbrock": rosenbrock, "mlp_loss": mlp_loss,
                    "several_loss": several_loss}


def rt_inputs(arrays):
    return tuple(rt.tensor(a) for a in arrays)


def on_arrays(func):
    """func on plain arrays, its outputs as a list of arrays (for numerical_jacobian)."""
    def f(*arrays):
        out = func(*(rt.tensor(a) for a in arrays))
        return [np.asarray(o.detach().numpy()) for o in (out if isinstance(out, tuple) else (out,))]
    return f


def numerical_blocks(func, arrays):
    """blocks[i][j]: d output i / d input j by central differences, shaped out.shape + in.shape."""
    f = on_arrays(func)
    outs = f(*arrays)
    blocks = [[None] * len(arrays) for _ in outs]
    for j, x in enumerate(arrays):
        def of_x(value, j=j):
            args = list(arrays)
            args[j] = value
            return f(*args)
        for i, jac in enumerate(numerical_jacobian(of_x, x)):
            blocks[i][j] = jac.reshape(outs[i].shape + np.shape(x))
    return blocks


def value(t):
    return np.asarray(t.detach().numpy())


# ---- against central differences (no PyTorch) ------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_jacobian_matches_central_differences(name, strategy, rng):
    arrays = point(rng, name)
    func = FUNCTIONS[name](rt)
    jac = F.jacobian(func, rt_inputs(arrays), strategy=strategy)
    expected = numerical_blocks(func, arrays)
    if len(expected) == 1:
        jac = (jac,)            # inputs given as a tuple: a tuple over inputs per output
    for i, row in enumerate(expected):
        for j, block in enumerate(row):
            got = jac[i][j]
            assert got.shape == block.shape
            np.testing.assert_allclose(value(got), block, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(SCALAR_FUNCTIONS))
def test_hessian_is_the_central_difference_jacobian_of_the_gradient(name, rng):
    arrays = point(rng, name)
    func = SCALAR_FUNCTIONS[name](rt)

    def gradient(*xs):
        return rt.autograd.grad(func(*xs), xs, create_graph=True)

    hess = F.hessian(func, rt_inputs(arrays))
    expected = numerical_blocks(lambda *xs: gradient(*(x.detach().requires_grad_() for x in xs)), arrays)
    for i in range(len(arrays)):
        for j in range(len(arrays)):
            got = hess[i][j]
            assert got.shape == np.shape(arrays[i]) + np.shape(arrays[j])
            np.testing.assert_allclose(value(got), expected[i][j], rtol=1e-5, atol=1e-6)


def test_products_are_the_jacobian_and_hessian_times_v(rng):
    x = rt.tensor(rng.normal(size=3))
    v3 = rt.tensor(rng.normal(size=3))
    f = vector(rt)
    jac = value(F.jacobian(f, x))
    out, jv = F.jvp(f, x, v3)
    np.testing.assert_allclose(value(out), value(f(x)))
    np.testing.assert_allclose(value(jv), jac @ value(v3), rtol=1e-12)
    _, vj = F.vjp(f, x, v3)
    np.testing.assert_allclose(value(vj), value(v3) @ jac, rtol=1e-12)

    y = rt.tensor(rng.uniform(-1, 1, size=5))
    v5 = rt.tensor(rng.normal(size=5))
    g = rosenbrock(rt)
    hess = value(F.hessian(g, y))
    np.testing.assert_allclose(value(F.hvp(g, y, v5)[1]), hess @ value(v5), rtol=1e-12)
    np.testing.assert_allclose(value(F.vhp(g, y, v5)[1]), value(v5) @ hess, rtol=1e-12)


def test_results_mirror_the_nesting_of_inputs_and_outputs():
    x, y = rt.tensor([1.0, 2.0]), rt.tensor(3.0)
    assert isinstance(F.jacobian(lambda a: a * 2, x), rt.Tensor)
    assert F.jacobian(lambda a: a * 2, (x,))[0].shape == (2, 2)
    two_in = F.jacobian(lambda a, b: a * b, (x, y))
    assert [t.shape for t in two_in] == [(2, 2), (2,)]
    two_out = F.jacobian(lambda a: (a * 2, a.sum()), x)
    assert [t.shape for t in two_out] == [(2, 2), (2,)]
    both = F.jacobian(lambda a, b: (a * b, b * 1), (x, y))
    assert [[t.shape for t in row] for row in both] == [[(2, 2), (2,)], [(2,), ()]]
    hess = F.hessian(lambda a, b: (a * a * b).sum(), (x, y))
    assert [[t.shape for t in row] for row in hess] == [[(2, 2), (2,)], [(2,), ()]]
    out, (va, vb) = F.vjp(lambda a, b: (a * b).sum(), (x, y))
    assert out.shape == () and va.shape == (2,) and vb.shape == ()


def test_an_unused_input_gets_zeros_and_strict_refuses_it():
    x, y = rt.tensor([1.0, 2.0]), rt.tensor([3.0, 4.0, 5.0])
    jx, jy = F.jacobian(lambda a, b: a ** 2, (x, y))
    assert value(jy).shape == (2, 3) and not value(jy).any()
    with pytest.raises(RuntimeError, match="independent of input 1"):
        F.jacobian(lambda a, b: a ** 2, (x, y), strict=True)
    _, (gx, gy) = F.vjp(lambda a, b: (a ** 2).sum(), (x, y))
    assert not value(gy).any()
    with pytest.raises(RuntimeError, match="independent of input 1"):
        F.vjp(lambda a, b: (a ** 2).sum(), (x, y), strict=True)


def test_a_constant_output_has_a_zero_jacobian_and_strict_refuses_it():
    x = rt.tensor([1.0, 2.0])
    jac = F.jacobian(lambda a: rt.tensor([1.0, 2.0, 3.0]), x)
    assert jac.shape == (3, 2) and not value(jac).any()
    with pytest.raises(RuntimeError, match="does not require gradients"):
        F.jacobian(lambda a: rt.tensor([1.0, 2.0, 3.0]), x, strict=True)


def test_a_linear_function_has_a_zero_hessian_that_strict_refuses():
    x = rt.tensor([1.0, 2.0])
    assert not value(F.hessian(lambda a: (3 * a).sum(), x)).any()
    with pytest.raises(RuntimeError, match="independent of the input"):
        F.hessian(lambda a: (3 * a).sum(), x, strict=True)


def test_results_are_detached_unless_create_graph(rng):
    x = rt.tensor(rng.normal(size=3), requires_grad=True)
    f = vector(rt)
    assert not F.jacobian(f, x).requires_grad
    out, jv = F.jvp(f, x, rt.tensor(np.ones(3)))
    assert not out.requires_grad and not jv.requires_grad
    jac = F.jacobian(f, x, create_graph=True)
    assert jac.requires_grad
    # the Jacobian is differentiable with respect to the caller's x: d(sum J)/dx by central differences
    jac.sum().backward()
    expected = numerical_jacobian(lambda a: [value(F.jacobian(f, rt.tensor(a))).sum()], value(x))[0][0]
    np.testing.assert_allclose(value(x.grad), expected, rtol=1e-6)
    assert x.grad is not None and F.jacobian(f, x).grad_fn is None


def test_the_callers_inputs_and_their_grad_are_left_alone():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    F.jacobian(lambda a: a ** 2, x)
    F.hessian(lambda a: (a ** 3).sum(), x)
    F.hvp(lambda a: (a ** 3).sum(), x, rt.tensor([1.0, 0.0]))
    assert x.grad is None and x.is_leaf and value(x).tolist() == [1.0, 2.0]


def test_bad_arguments_are_refused_with_the_reason():
    x = rt.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        F.jacobian(lambda a: a, [x])
    with pytest.raises(TypeError, match="outputs of the user-provided function"):
        F.jacobian(lambda a: a.sum().item(), x)
    with pytest.raises(RuntimeError, match="v has invalid size"):
        F.vjp(lambda a: a * 2, x, rt.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match="v can only be None"):
        F.vjp(lambda a: a * 2, x)
    with pytest.raises(RuntimeError, match="v can only be None"):
        F.jvp(lambda a: a * 2, x)
    with pytest.raises(RuntimeError, match="single element"):
        F.hessian(lambda a: a * 2, x)
    with pytest.raises(RuntimeError, match="single Tensor"):
        F.hvp(lambda a: (a.sum(), a.sum()), x, x)
    with pytest.raises(ValueError, match="strategy"):
        F.jacobian(lambda a: a, x, strategy="sideways")


# ---- against PyTorch ----------------------------------------------------------------------------------

def needs_torch():
    if os.environ.get("CI"):
        import torch            # CI installs the reference: fail, don't skip
        return torch
    return pytest.importorskip("torch", reason="PyTorch is not installed; conformance tests need it "
                                               "(pip install '.[conformance]')")


def to_torch(torch, arrays, requires_grad=False):
    return tuple(torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad) for a in arrays)


def same(ours, theirs, rtol=1e-10):
    """The same nesting (tuples vs Tensors), shapes, values and requires_grad."""
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            same(o, t, rtol)
        return
    assert isinstance(ours, rt.Tensor), type(ours)
    assert ours.shape == tuple(theirs.shape)
    assert ours.requires_grad == theirs.requires_grad
    np.testing.assert_allclose(value(ours), theirs.detach().numpy(), rtol=rtol, atol=1e-12)


def single(arrays):
    """A lone input is passed as a Tensor, not a 1-tuple (the nesting of the results follows)."""
    return arrays[0] if len(arrays) == 1 else arrays


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_jacobian_as_pytorch(name, rng):
    torch = needs_torch()
    arrays = point(rng, name)
    ours = F.jacobian(FUNCTIONS[name](rt), single(rt_inputs(arrays)))
    theirs = torch.autograd.functional.jacobian(FUNCTIONS[name](torch), single(to_torch(torch, arrays)))
    same(ours, theirs)


@pytest.mark.parametrize("name", sorted(SCALAR_FUNCTIONS))
def test_hessian_as_pytorch(name, rng):
    torch = needs_torch()
    arrays = point(rng, name)
    ours = F.hessian(SCALAR_FUNCTIONS[name](rt), single(rt_inputs(arrays)))
    theirs = torch.autograd.functional.hessian(SCALAR_FUNCTIONS[name](torch), single(to_torch(torch, arrays)))
    same(ours, theirs)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_vjp_and_jvp_as_pytorch(name, rng):
    torch = needs_torch()
    arrays = point(rng, name)
    ours_f, theirs_f = FUNCTIONS[name](rt), FUNCTIONS[name](torch)
    outs = on_arrays(ours_f)(*arrays)
    v_out = [rng.normal(size=o.shape) for o in outs]
    v_in = [rng.normal(size=np.shape(a)) for a in arrays]
    ours = F.vjp(ours_f, single(rt_inputs(arrays)), single(rt_inputs(v_out)))
    theirs = torch.autograd.functional.vjp(theirs_f, single(to_torch(torch, arrays)),
                                           single(to_torch(torch, v_out)))
    same(ours, theirs)
    ours = F.jvp(ours_f, single(rt_inputs(arrays)), single(rt_inputs(v_in)))
    theirs = torch.autograd.functional.jvp(theirs_f, single(to_torch(torch, arrays)),
                                           single(to_torch(torch, v_in)))
    same(ours, theirs)


@pytest.mark.parametrize("name", sorted(SCALAR_FUNCTIONS))
@pytest.mark.parametrize("product", ["hvp", "vhp"])
def test_hessian_vector_products_as_pytorch(name, product, rng):
    torch = needs_torch()
    arrays = point(rng, name)
    v = [rng.normal(size=np.shape(a)) for a in arrays]
    ours = getattr(F, product)(SCALAR_FUNCTIONS[name](rt), single(rt_inputs(arrays)), single(rt_inputs(v)))
    theirs = getattr(torch.autograd.functional, product)(SCALAR_FUNCTIONS[name](torch),
                                                         single(to_torch(torch, arrays)),
                                                         single(to_torch(torch, v)))
    same(ours, theirs)


def test_v_may_be_omitted_for_one_element_as_pytorch():
    torch = needs_torch()
    ours = [F.vjp(scalar(rt), rt.tensor(0.7)), F.jvp(scalar(rt), rt.tensor(0.7)),
            F.hvp(scalar(rt), rt.tensor(0.7)), F.vhp(scalar(rt), rt.tensor(0.7))]
    t = torch.tensor(0.7, dtype=torch.float64)
    TF = torch.autograd.functional
    theirs = [TF.vjp(scalar(torch), t), TF.jvp(scalar(torch), t), TF.hvp(scalar(torch), t),
              TF.vhp(scalar(torch), t)]
    for o, t in zip(ours, theirs):
        same(o, t)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # (torch's vmap)
def test_forward_mode_jacobian_as_pytorch(rng):
    torch = needs_torch()
    arrays = point(rng, "several")
    ours = F.jacobian(several(rt), rt_inputs(arrays), strategy="forward-mode")
    theirs = torch.autograd.functional.jacobian(several(torch), to_torch(torch, arrays), vectorize=True,
                                                strategy="forward-mode")
    # PyTorch's forward mode nests in lists (its reverse mode in tuples); ours nests in tuples either way
    same(ours, tuple(tuple(row) for row in theirs))


# fn -> (function, input size, whether a v is passed)
CREATE_GRAPH_CASES = {"jacobian": (vector, 3, False), "hessian": (rosenbrock, 5, False),
                      "vjp": (vector, 3, True), "jvp": (vector, 3, True),
                      "hvp": (rosenbrock, 5, True), "vhp": (rosenbrock, 5, True)}


@pytest.mark.parametrize("fn", sorted(CREATE_GRAPH_CASES))
def test_create_graph_results_differentiate_as_pytorch(fn, rng):
    """With create_graph=True and an input that requires grad, the result is recorded: its own gradient
    with respect to the input is PyTorch's (third derivatives for hessian, hvp and vhp)."""
    torch = needs_torch()
    make_f, n, with_v = CREATE_GRAPH_CASES[fn]
    x0, v0 = rng.uniform(-1, 1, size=n), rng.normal(size=n)
    results = []
    for lib in (rt, torch):
        x, v = to_torch(torch, [x0, v0]) if lib is torch else rt_inputs([x0, v0])
        x.requires_grad_(True)
        args = (make_f(lib), x, v) if with_v else (make_f(lib), x)
        res = getattr(lib.autograd.functional, fn)(*args, create_graph=True)
        if with_v:
            res = res[1]
        assert res.requires_grad
        (res * res).sum().backward()
        results.append((res, x.grad))
    same(results[0], results[1], rtol=1e-9)


@pytest.mark.parametrize("strict", [False, True])
def test_independence_and_strict_mode_as_pytorch(strict):
    torch = needs_torch()
    cases = [
        ("jacobian", lambda lib: (lambda a, b: a ** 2), None),
        ("vjp", lambda lib: (lambda a, b: (a ** 2).sum()), None),
        ("jvp", lambda lib: (lambda a, b: a ** 2), ([1.0, 1.0], [1.0, 2.0, 3.0])),
        ("hessian", lambda lib: (lambda a, b: (a ** 3).sum()), None),
        ("vhp", lambda lib: (lambda a, b: (a ** 3).sum()), ([1.0, 1.0], [1.0, 2.0, 3.0])),
        ("hvp", lambda lib: (lambda a, b: (a ** 3).sum()), ([1.0, 1.0], [1.0, 2.0, 3.0])),
        ("jacobian", lambda lib: (lambda a, b: lib.tensor([1.0, 2.0]) * 1), None),
        ("hessian", lambda lib: (lambda a, b: (3 * a).sum() + b.sum()), None),
    ]
    arrays = ([1.0, 2.0], [3.0, 4.0, 5.0])
    for fn, make_f, v in cases:
        outcomes = []
        for lib, tensors in ((rt, rt_inputs), (torch, lambda a: to_torch(torch, a))):
            args = (make_f(lib), tensors(arrays))
            if v is not None:
                args += (tensors(v),)
            try:
                outcomes.append(getattr(lib.autograd.functional, fn)(*args, strict=strict))
            except RuntimeError as e:
                outcomes.append(e)
        ours, theirs = outcomes
        assert isinstance(ours, RuntimeError) == isinstance(theirs, RuntimeError), (fn, ours, theirs)
        if not isinstance(ours, RuntimeError):
            same(ours, theirs)


def test_refused_arguments_as_pytorch():
    torch = needs_torch()
    TF = torch.autograd.functional
    x, tx = rt.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0], dtype=torch.float64)
    calls = [
        (lambda: F.jacobian(lambda a: a, [x]), lambda: TF.jacobian(lambda a: a, [tx])),
        (lambda: F.vjp(lambda a: a * 2, x, rt.tensor([1.0, 2.0, 3.0])),
         lambda: TF.vjp(lambda a: a * 2, tx, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))),
        (lambda: F.vjp(lambda a: a * 2, x), lambda: TF.vjp(lambda a: a * 2, tx)),
        (lambda: F.jvp(lambda a: a * 2, x), lambda: TF.jvp(lambda a: a * 2, tx)),
        (lambda: F.hessian(lambda a: a * 2, x), lambda: TF.hessian(lambda a: a * 2, tx)),
        (lambda: F.vhp(lambda a: (a.sum(), a.sum()), x, x),
         lambda: TF.vhp(lambda a: (a.sum(), a.sum()), tx, tx)),
    ]
    for ours, theirs in calls:
        with pytest.raises(Exception) as expected:
            theirs()
        with pytest.raises(expected.type):
            ours()
