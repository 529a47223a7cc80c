"""Tensor hooks: register_hook (leaves and non-leaves, with retain_grad, under backward and grad) and
register_post_accumulate_grad_hook. Each scenario is written once for both libraries and logs what the
hooks see; the log and the gradients must be PyTorch's (2.13, float64). The PyTorch runs skip when torch
is not installed (CI installs it and requires it); the first tests need no torch."""
import gc
import os
import weakref

import numpy as np
import pytest

import runtime as rt
from runtime.hooks import HOOKS


def needs_torch():
    if os.environ.get("CI"):
        import torch            # CI installs the reference: fail, don't skip
        return torch
    return pytest.importorskip("torch", reason="PyTorch is not installed; conformance tests need it "
                                               "(pip install '.[conformance]')")


# ---- without PyTorch --------------------------------------------------------------------------------------

def test_a_hook_sees_the_gradient_and_may_replace_it():
    x = rt.tensor(2.0, requires_grad=True)
    y = x * 3
    seen = []
    y.register_hook(lambda g: seen.append(g.item()))
    y.register_hook(lambda g: g * 10)
    (y * y).backward()
    assert seen == [12.0] and x.grad.item() == 360.0


def test_a_removed_hook_is_not_called_and_leaves_nothing_registered():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    handle = x.register_hook(lambda g: g * 0)
    handle.remove()
    handle.remove()                 # again: harmless
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    assert x._edge[0] not in HOOKS  # so the engine's test per node costs nothing again
    with x.register_hook(lambda g: g * 0):
        pass                        # a context manager: removed on exit
    assert x._edge[0] not in HOOKS


def test_hooks_live_with_the_graph_not_longer():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g)
    assert y.grad_fn in HOOKS
    registered = len(HOOKS)
    node = weakref.ref(y.grad_fn)
    del y
    gc.collect()
    assert node() is None and len(HOOKS) == registered - 1


def test_a_hook_returning_a_non_tensor_or_another_shape_is_refused():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: 3.0)
    with pytest.raises(TypeError, match="returned float"):
        (x * 2).sum().backward()
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g[:1])
    with pytest.raises(RuntimeError, match="changed the size"):
        (x * 2).sum().backward()
    assert x.grad is None


def test_post_accumulate_grad_hook_can_step_the_parameter_during_backward():
    w = rt.tensor([1.0, -2.0], requires_grad=True)

    def sgd(p):
        with rt.no_grad():
            p -= 0.1 * p.grad
        p.grad = None

    w.register_post_accumulate_grad_hook(sgd)
    (w ** 2).sum().backward()
    np.testing.assert_allclose(w.detach().numpy(), [0.8, -1.6])
    assert w.grad is None


# ---- against PyTorch: each scenario logs (label, value) and returns the gradients it checks ---------------

def values(t):
    return None if t is None else np.asarray(t.detach().numpy(), dtype=np.float64).tolist()


def logger(log, label, result=None):
    """A hook that logs the gradient it gets (and whether it requires grad) and returns `result(g)`."""
    def hook(g):
        log.append((label, values(g), None if g is None else g.requires_grad))
        return None if result is None else result(g)
    return hook


def scenario_order_and_retain_grad(lib, log):
    x = lib.tensor(2.0, requires_grad=True)
    y = x * 3
    y.register_hook(logger(log, "y1", lambda g: g * 10))
    y.retain_grad()                 # registered between the hooks, still stores the final gradient
    y.register_hook(logger(log, "y2", lambda g: g + 1))
    x.register_hook(logger(log, "x", lambda g: g + 1))
    x.register_post_accumulate_grad_hook(lambda t: log.append(("post", values(t.grad), None)))
    (y * y).backward()
    return [y.grad, x.grad]


def scenario_fan_out(lib, log):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    x.register_hook(logger(log, "leaf"))
    y.register_hook(logger(log, "non-leaf"))
    (y * 2 + y * 3 + x).sum().backward()
    return [x.grad]


def scenario_grad(lib, log):
    """Under autograd.grad: hooks on the inputs run before the gradient is returned, and no .grad or
    post-accumulate hook is touched."""
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    x.register_hook(logger(log, "x", lambda g: g * 2))
    y.register_hook(logger(log, "y", lambda g: g + 1))
    x.register_post_accumulate_grad_hook(lambda t: log.append(("post", None, None)))
    gy, gx = lib.autograd.grad((y ** 2).sum(), (y, x))     # y's own gradient is taken before its hook
    only_y, = lib.autograd.grad((y ** 2).sum(), y)          # ... but after it when y is the only input
    return [gy, gx, only_y, x.grad]


def scenario_retain_graph(lib, log):
    x = lib.tensor([1.0, -1.0], requires_grad=True)
    y = lib.exp(x)
    y.register_hook(logger(log, "y"))
    x.register_post_accumulate_grad_hook(lambda t: log.append(("post", values(t.grad), None)))
    z = (y * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    return [x.grad]


def scenario_create_graph(lib, log):
    """A hook's replacement is part of the recorded backward, so it is differentiated again."""
    x = lib.tensor(1.5, requires_grad=True)
    y = x ** 3
    y.register_hook(logger(log, "y", lambda g: g * x))
    g, = lib.autograd.grad(y * 2, x, create_graph=True)
    g.backward()
    return [g, x.grad]


def scenario_removed(lib, log):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    first = x.register_hook(logger(log, "first", lambda g: g * 2))
    x.register_hook(logger(log, "second"))
    (x * x).sum().backward()
    first.remove()
    (x * x).sum().backward()
    return [x.grad]


def scenario_multi_output(lib, log):
    class Two(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            log.append(("backward", values(ga), values(gb)))
            return ga * 2 + gb * 3

    x = lib.tensor([1.0, 2.0], requires_grad=True)
    a, b = Two.apply(x)
    b.register_hook(logger(log, "b"))          # gets None: only a is used
    a.register_hook(logger(log, "a", lambda g: g * 5))
    a.sum().backward()
    return [x.grad]


def scenario_in_place(lib, log):
    """Hooks registered before an in-place change see the gradient of the old value, after the new ones."""
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(logger(log, "before"))
    y *= 3
    y.register_hook(logger(log, "after"))
    (y * y).sum().backward()
    return [x.grad]


SCENARIOS = {f.__name__[len("scenario_"):]: f for f in
             (scenario_order_and_retain_grad, scenario_fan_out, scenario_grad, scenario_retain_graph,
              scenario_create_graph, scenario_removed, scenario_multi_output, scenario_in_place)}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_hooks_see_and_do_what_pytorchs_do(name):
    torch = needs_torch()

    def run(lib):
        log = []
        lib_tensor = lib.tensor
        if lib is torch:
            def lib_tensor(data, requires_grad=False):
                return torch.tensor(data, dtype=torch.float64, requires_grad=requires_grad)
        shim = _Lib(lib, lib_tensor)
        grads = SCENARIOS[name](shim, log)
        return log, [values(g) for g in grads]

    ours, theirs = run(rt), run(torch)
    assert ours == theirs


class _Lib:
    """The library with float64 tensors from Python lists (torch makes float32 by default)."""

    def __init__(self, lib, tensor):
        self._lib = lib
        self.tensor = tensor

    def __getattr__(self, name):
        return getattr(self._lib, name)


@pytest.mark.parametrize("make_call", ["no grad", "post on non-leaf", "replace None", "wrong size"])
def test_hooks_refuse_what_pytorch_refuses(make_call):
    torch = needs_torch()

    def call(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        if make_call == "no grad":
            lib.tensor([1.0]).register_hook(lambda g: g)
        elif make_call == "post on non-leaf":
            (x * 2).register_post_accumulate_grad_hook(lambda t: None)
        elif make_call == "replace None":
            class Two(lib.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    return x * 2, x * 3

                @staticmethod
                def backward(ctx, ga, gb):
                    return ga

            a, b = Two.apply(x)
            b.register_hook(lambda g: a.detach())
            a.sum().backward()
        else:
            x.register_hook(lambda g: g[:1])
            (x * 2).sum().backward()

    with pytest.raises(RuntimeError) as theirs:
        call(torch)
    with pytest.raises(RuntimeError) as ours:
        call(rt)
    assert str(theirs.value) in str(ours.value)       # PyTorch's message (ours may say more)
