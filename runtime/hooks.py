"""Hooks on tensors: functions that the backward pass calls with a tensor's gradient, as PyTorch's.

`t.register_hook(fn)`: `fn(grad)` runs once the gradient of t is complete, before it goes on (into t's
grad_fn, into a leaf's `.grad`, or out of `autograd.grad` when t is one of its inputs, but for one case
PyTorch has too: engine.py). It returns None to keep the gradient or a Tensor of the same shape to
replace it. A tensor's hooks run in the order they were registered, each on what the one before
returned, and before retain_grad() stores `.grad` (so `.grad` holds the replaced gradient). On an output
of a multi-output node that received no gradient the hook gets None, and may not replace it.

`t.register_post_accumulate_grad_hook(fn)`, leaves only: `fn(t)` runs after backward() has added into
`t.grad` (not under autograd.grad, which leaves `.grad` alone). Its return value is ignored.

Both return a `RemovableHandle`; `handle.remove()` unregisters the hook.

Where they live: with the node that stands for the tensor (its grad_fn, or a leaf's AccumulateGrad), per
output number, in `HOOKS`, a weak dictionary. They live as long as that node, as in PyTorch, and cost the
engine one dictionary test per node only while some hook is registered. A tensor changed in place gets a
new grad_fn; hooks registered before stay with the old one, so they see the gradient with respect to the
old value, and run after those registered since (as in PyTorch).
"""
from __future__ import annotations

import itertools
import weakref

from .graph import AccumulateGrad
from .tensor import Tensor, make, normalize

HOOKS = weakref.WeakKeyDictionary()     # node -> NodeHooks
HOOK_IDS = itertools.count()
NO_GRAD_HOOK = "cannot register a hook on a tensor that doesn't require gradient"


class NodeHooks:
    """The hooks of the tensors one node stands for: per output number, {id: fn(grad)}; and, for a
    leaf's AccumulateGrad, {id: fn(leaf)} to run after accumulation."""

    __slots__ = ("pre", "post")

    def __init__(self):
        self.pre = {}
        self.post = {}

    def empty(self):
        return not self.post and not any(self.pre.values())


class RemovableHandle:
    """What register_hook returns: `remove()` unregisters the hook (again is harmless); also a context
    manager that removes the hook on exit."""

    def __init__(self, node, hooks):
        self._node = weakref.ref(node)
        self._hooks = hooks             # the {id: fn} the hook went into
        self.id = next(HOOK_IDS)

    def remove(self):
        self._hooks.pop(self.id, None)
        node = self._node()
        entry = HOOKS.get(node) if node is not None else None
        if entry is not None and entry.empty():
            del HOOKS[node]     # so the engine's per-node test goes back to costing nothing

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def _entry(node):
    entry = HOOKS.get(node)
    if entry is None:
        entry = HOOKS[node] = NodeHooks()
    return entry


def register_hook(self, hook):
    """Call `hook(grad)` with this tensor's gradient when backward computes it; a Tensor it returns
    replaces the gradient. Returns a handle whose remove() unregisters the hook."""
    if self._edge is None:
        raise RuntimeError(NO_GRAD_HOOK)
    node, nr = self._edge
    hooks = _entry(node).pre.setdefault(nr, {})
    handle = RemovableHandle(node, hooks)
    hooks[handle.id] = hook
    return handle


def register_post_accumulate_grad_hook(self, hook):
    """Call `hook(self)` after backward() has accumulated into this leaf's `.grad` (to update a parameter
    as soon as its gradient is ready, for instance). Returns a handle whose remove() unregisters it."""
    if self._edge is None:
        raise RuntimeError(NO_GRAD_HOOK)
    node = self._edge[0]
    if node.__class__ is not AccumulateGrad:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    hooks = _entry(node).post
    handle = RemovableHandle(node, hooks)
    hooks[handle.id] = hook
    return handle


def run_hooks(node, g, graph):
    """The gradient node received (a list with one slot per output for a multi-output node), after the
    hooks of the tensors it stands for. `graph`: gradients are Tensors that record (create_graph)."""
    entry = HOOKS[node]
    if node._n_outputs == 1:
        hooks = entry.pre.get(0)
        return _through(hooks, g, graph) if hooks else g
    g = list(g)
    for nr, hooks in entry.pre.items():
        if hooks:
            g[nr] = _through(hooks, g[nr], graph)
    return g


def _through(hooks, g, graph):
    value = None if g is None else (g if g.__class__ is Tensor else make(g, None))
    changed = False
    for hook in list(hooks.values()):       # (a hook may remove itself)
        out = hook(value)
        if out is None:
            continue
        if not isinstance(out, Tensor):
            raise TypeError(f"hook '{_name(hook)}' returned {type(out).__name__}; a hook returns a Tensor "
                            f"(the new gradient) or None (to keep it)")
        if value is None:
            raise RuntimeError(f"hook '{_name(hook)}' returned a gradient for an output that received "
                               f"none: can't replace a None gradient with a non-None value")
        if out.shape != value.shape:
            raise RuntimeError(f"hook '{_name(hook)}' has changed the size of value: the gradient has shape "
                               f"{value.shape}, the hook returned {out.shape}")
        value = out
        changed = True
    if not changed:
        return g
    if graph:
        return value
    return normalize(value._data)


def run_post_hooks(node, leaf):
    entry = HOOKS.get(node)
    if entry is not None:
        for hook in list(entry.post.values()):
            hook(leaf)


def _name(hook):
    return getattr(hook, "__name__", type(hook).__name__)


Tensor.register_hook = register_hook       # (tensor.py: the modules that own Tensor's operations give them)
Tensor.register_post_accumulate_grad_hook = register_post_accumulate_grad_hook

__all__ = ["RemovableHandle", "register_hook", "register_post_accumulate_grad_hook"]
