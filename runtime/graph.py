"""The recorded graph: nodes (a tensor's `grad_fn`), leaf accumulators, saved values and their checks.

A node stands for one recorded operation. `next_functions` holds one edge `(node, output_nr)` per input,
as in PyTorch: the input's own `grad_fn`, the `AccumulateGrad` of a leaf that requires grad, or
`(None, 0)` for an input that needs no gradient. `apply(g, graph)` turns the gradient of the output into
one gradient per input; `graph` is True under `create_graph=True`, when gradients are Tensors and the
rules record.

Saved values. `_saved` holds the inputs the rules read (Tensors, or constants) and the raw result (with
its version counter), or `()` when nothing is saved. `_meta` holds parameters and shapes, which survive a
backward. As in PyTorch, a backward without `retain_graph` frees a node that saved values (`_saved`
becomes None, and a second backward through it raises PyTorch's message); a node that saved none stays
usable. Which values a node saves is derived from what its formulas read (ops.py). The nodes of
primitives (OpNode and its generated subclasses) are in ops.py.

In-place checks, cheaply. A tensor's version counter `_vc` is `[version, epoch_of_last_change]`, created
on its first in-place change (or when a view or detach() shares it: views.py). `EPOCH` counts in-place
changes to any tensor; a node records it when made. At backward, if `EPOCH` has not moved, nothing was
modified and there is nothing to check; otherwise a saved tensor whose last change is later than the node
makes backward refuse. So saving costs nothing on the hot path. The node of an in-place operation that
saved its own result (`y **= w`) saves the tensor's memory with a `SavedVersion` instead (inplace.py), since
that result is changed by the next in-place operation on the tensor.
"""
from __future__ import annotations

import itertools
import weakref

import numpy as np

NO_EDGE = (None, 0)
EPOCH = [0]
# Node keys for the engine's heap: operations count down from -1 in creation order, so a consumer always
# sorts before its inputs; leaf accumulators count up from 1, so they run last.
OP_KEYS = itertools.count(-1, -1)
LEAF_KEYS = itertools.count(1)
RETAINED = weakref.WeakKeyDictionary()     # node -> weak refs to non-leaf tensors that retain_grad()

FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after "
         "they have already been freed). Saved intermediate values of the graph are freed when you call "
         ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
         "graph a second time or if you need to access saved tensors after calling backward.")


class Node:
    """Base of every grad_fn. Subclasses define `apply`; the class name is the operation's name."""

    # _key: creation order, decreasing (next(OP_KEYS)); the engine runs nodes by it. _buf: the gradient
    # received so far during a backward.
    __slots__ = ("next_functions", "_saved", "_epoch", "_key", "_buf", "__weakref__")
    _n_outputs = 1

    def name(self):
        return type(self).__name__

    def apply(self, g, graph):
        raise NotImplementedError

    def __call__(self, *grads):
        """Call the backward function by hand, as in the lectures: `e.grad_fn(1.)` gives its inputs'
        gradients (a tuple of Tensors; None where an input needs none). The graph is kept."""
        graph = any(isinstance(x, _Tensor) and x._edge is not None for x in grads)
        raw = [x if graph else (x._data if isinstance(x, _Tensor) else _as_raw(x)) for x in grads]
        out = self.apply(raw[0] if self._n_outputs == 1 else raw, graph)
        return tuple(None if x is None else _as_tensor(x) for x in out)

    def __repr__(self):
        return f"<{type(self).__name__} object at {id(self):#x}>"


def _as_raw(x):
    a = x if isinstance(x, np.ndarray) else np.asarray(x, dtype=np.float64)
    return float(a) if a.ndim == 0 and a.dtype == np.float64 else a


class AccumulateGrad(Node):
    """The node of a leaf that requires grad: adds the incoming gradient into the leaf's `.grad`.

    It holds the leaf weakly (the leaf holds it), so leaves and graphs never form reference cycles.
    """

    __slots__ = ("_ref",)

    def __init__(self, tensor):
        self._ref = weakref.ref(tensor)
        self.next_functions = ()
        self._saved = ()
        self._epoch = 0
        self._key = next(LEAF_KEYS)
        self._buf = None

    @property
    def variable(self):
        return self._ref()

    def apply(self, g, graph):
        t = self._ref()
        if t is not None:
            accumulate(t, g, graph)
        return ()


def accumulate(t, g, graph, owned=False):
    """t.grad += g; in place when nothing records (PyTorch's semantics: `.grad` keeps its identity).

    `owned`: the engine knows nothing else refers to the array g, so a first gradient can be kept
    without a copy (PyTorch "steals" such a gradient the same way).
    """
    cur = t._grad
    if graph:
        if g.__class__ is not _Tensor:
            g = _make(_normalize(g), None)
        t._grad = g if cur is None else cur + g
        return
    if g.__class__ is _Tensor:
        g = g._data
    g = _normalize(g)
    d = t._data
    if d.__class__ is not float and g.__class__ is not float and g.dtype != d.dtype:
        g = g.astype(d.dtype)
    if cur is None:
        # Otherwise copy: the same array may reach two leaves (an add passes g to both), or be a view.
        if not (g.__class__ is float or owned and g.base is None and g.flags.writeable):
            g = np.array(g, copy=True)
        t._grad = _make(g, None)
        return
    cd = cur._data
    if cur._edge is None and cd.__class__ is np.ndarray and cd.flags.writeable and cd.shape == np.shape(g):
        np.add(cd, g, out=cd)
        cur._bump()
    elif cur._edge is None and cd.__class__ is not float:
        cur._data = _normalize(cd + g)
        cur._bump()
    else:
        # A scalar (an immutable float) or a gradient with a graph: a new Tensor, so nothing saved changes.
        t._grad = _make(_normalize(cd + g), None)


def check_saved(node):
    """Refuse a saved tensor that changed in place after `node` saved it (EPOCH moved since)."""
    epoch = node._epoch
    saved = node._saved
    for k, v in enumerate(saved):
        for t in (v if v.__class__ is tuple else (v,)):   # (a variadic primitive's arrays: a tuple)
            if t.__class__ is _Tensor:
                vc = t._vc
                if vc is not None and vc[1] > epoch:
                    raise RuntimeError(_modified_message(node, _describe(t._data), _producer(t), vc[0]))
        if v.__class__ is _Tensor or v.__class__ is tuple:
            continue
        elif v.__class__ is list and v[1] > epoch:      # the version counter of the saved result
            raise RuntimeError(_modified_message(node, _describe(saved[k - 1]), f"output 0 of {node.name()}",
                                                 v[0]))
        elif v.__class__ is SavedVersion and v.vc[0] != v.version:     # a result that is a changed tensor
            raise RuntimeError(_modified_message(node, _describe(saved[k - 1]), f"output 0 of {node.name()}",
                                                 v.vc[0]))


class SavedVersion:
    """A node's saved result that is a tensor changed in place (views.track_result): the tensor's version
    counter and its version when saved. check_saved refuses the backward once the version has moved."""

    __slots__ = ("vc", "version")

    def __init__(self, vc, version):
        self.vc = vc
        self.version = version


def _producer(t):
    fn = t._edge[0] if t._edge is not None else None
    if fn is None or isinstance(fn, AccumulateGrad):
        return "a leaf tensor"
    return f"output {t._edge[1]} of {fn.name()}"


def _modified_message(node, desc, where, now):
    return (f"one of the variables needed for gradient computation has been modified by an inplace "
            f"operation: [{desc}], which is {where}, is at version {now}, but {node.name()} saved an "
            f"earlier version. Hint: it was changed in place (+=, -=, *=, /=, x[i] = v, ...) after being "
            f"used; compute a new tensor instead (y = y + 1) or modify a clone().")


def _describe(data):
    if data.__class__ is float:
        return "float64 ()"
    return f"{data.dtype} {tuple(data.shape)}"


# Late import: tensors and nodes refer to each other (tensor.py imports this module at its end too).
from .tensor import Tensor as _Tensor, make as _make, normalize as _normalize, as_tensor as _as_tensor  # noqa: E402
