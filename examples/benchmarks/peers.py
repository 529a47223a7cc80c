"""The peers, each optional: PyTorch eager (CPU, float64), jax.jit(jax.value_and_grad) and HIPS
autograd. A peer that is not installed is skipped with a line saying so.

Every workload is written once, spelled with `np`; a peer runs that same source with `np` pointed at
its own NumPy (jax.numpy, autograd.numpy, or torch, whose names match for the scalar functions).
Only where PyTorch's names differ (axis= vs dim=, amax) is a PyTorch version written out.
"""
from __future__ import annotations

import importlib
import time
import types

import numpy as np

NAMES = ("torch", "jax", "autograd")
LABELS = {"torch": "PyTorch eager", "jax": "jax.jit(value_and_grad)", "autograd": "HIPS autograd"}
_loaded = {}


def load(name, say=print):
    """The peer's module, set up for one thread and float64, or None (said once) if not installed."""
    if name in _loaded:
        return _loaded[name]
    try:
        module = importlib.import_module(name)
        if name == "torch":
            module.set_num_threads(1)
            try:
                module.set_num_interop_threads(1)
            except RuntimeError:  # only allowed before PyTorch's first parallel work
                pass
        elif name == "jax":
            module.config.update("jax_enable_x64", True)
        elif name == "autograd":
            importlib.import_module("autograd.numpy")
    except ImportError as exc:
        say(f"({LABELS[name]}: skipped, {name} is not installed ({exc}); "
            "pip install -e '.[bench]' adds it)")
        module = None
    _loaded[name] = module
    return module


def available(names=NAMES, say=print):
    return {name: load(name, say) for name in names if load(name, say) is not None}


def numpy_as(fn, module):
    """fn's own source with `np` pointed at another module."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, "np": module}, fn.__name__,
                              fn.__defaults__)


# ---- PyTorch versions where its names differ from NumPy's ----------------------------------------

def _torch_mlp(torch):
    def mlp_loss(W1, b1, W2, b2, X, Y):
        h = torch.tanh(X @ W1 + b1)
        logits = h @ W2 + b2
        shifted = logits - torch.amax(logits, dim=1, keepdim=True)
        log_norm = torch.log(torch.sum(torch.exp(shifted), dim=1, keepdim=True))
        return -torch.sum((shifted - log_norm) * Y) / X.shape[0]
    return mlp_loss


def _torch_logreg(torch):
    def logreg(w, b, X, y):
        z = X @ w + b
        return (torch.mean(torch.logaddexp(torch.zeros((), dtype=torch.float64), z) - y * z)
                + 1e-3 * torch.sum(w * w))
    return logreg


TORCH_VERSIONS = {"mlp_loss": _torch_mlp, "logreg": _torch_logreg}


# ---- value_and_grad in each peer: (value, gradients) from plain floats and arrays -----------------

def torch_value_and_grad(torch, fn, wrt):
    maker = TORCH_VERSIONS.get(fn.__name__)
    tfn = maker(torch) if maker else numpy_as(fn, torch)

    def leaf(a):
        if isinstance(a, np.ndarray):
            return torch.from_numpy(a).requires_grad_(True)  # shares the array: no copy per call
        return torch.tensor(a, dtype=torch.float64, requires_grad=True)

    def plain(t):
        return t.item() if t.dim() == 0 else t.numpy()

    def run(*args):
        ts = [leaf(a) if i in wrt else (torch.from_numpy(a) if isinstance(a, np.ndarray) else a)
              for i, a in enumerate(args)]
        out = tfn(*ts)
        out.backward()
        return out.item(), tuple(plain(ts[i].grad) for i in wrt)

    return run


def jax_value_and_grad(jax, fn, wrt):
    """jax.jit(jax.value_and_grad(...)) and its first call's time (trace and XLA compile)."""
    import jax.numpy as jnp
    jitted = jax.jit(jax.value_and_grad(numpy_as(fn, jnp), argnums=wrt))

    def run(*args):
        value, grads = jitted(*args)
        value.block_until_ready()
        return value, grads

    return run


def autograd_value_and_grad(autograd, fn, wrt):
    import autograd.numpy as anp
    return autograd.value_and_grad(numpy_as(fn, anp), argnum=wrt)


BUILDERS = {"torch": torch_value_and_grad, "jax": jax_value_and_grad,
            "autograd": autograd_value_and_grad}


def value_and_grad(name, module, fn, wrt, args):
    """(runner, first-call seconds): the peer's value-and-gradient of `fn`, called once."""
    run = BUILDERS[name](module, fn, tuple(wrt))
    start = time.perf_counter()
    run(*args)
    return run, time.perf_counter() - start
