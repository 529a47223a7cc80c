"""In-place operations, with PyTorch's semantics: written into the tensor's memory, so that its base and
its views (views.py) see the change, and the base's recorded history is rewritten to include it.

An in-place operation on an array tensor (`inplace`, `setitem`, via `prepare` and `rebase`):

1. PyTorch's refusals, under grad mode: a leaf that requires grad; a view of such a leaf ("a view of a leaf
   Variable that requires grad is being used in an in-place operation."); a view made under no_grad that
   would now be recorded. Always: writing into a broadcast (one memory location for several elements) and
   an operand that partially overlaps the written memory (PyTorch's rule: both dense, byte ranges overlap,
   not the very same elements).
2. The result is written into the tensor's memory, so the base and every view see it. When the recorded
   node needs the old value (`y *= w` keeps old y for w's gradient), it keeps a copy, as PyTorch's
   `original_self`; when it needs its result (`y **= w`), it reads the tensor's memory, checked against the
   tensor's version (graph.SavedVersion), so a later change to y makes its backward refuse, as in PyTorch.
3. The version counter moves; every node that saved this memory (the tensor, a view, an alias, or a result
   it is) refuses at backward: "one of the variables needed for gradient computation has been modified by
   an inplace operation".
4. History. On a tensor that is not a view, its grad_fn becomes the operation's node. On a view, the base's
   grad_fn becomes CopySlices (PyTorch's name): the gradient of the view's region goes through the
   operation's node and on to the base's old grad_fn, the rest goes to the old grad_fn unchanged.
5. Every live view of the base gets a grad_fn replayed from the base's new one (its own view operations,
   e.g. GetitemBackward; PyTorch makes an AsStridedBackward0, the same gradient). So an in-place change to
   the base after a view was taken is seen by the view's values and gradients.

Tensor's in-place methods are defined here and given to Tensor when runtime is imported (tensor.py).

Differences from PyTorch (README): a float64 scalar is a Python float, so `y[0]` of a 1-D y is a copy, not
a 0-d view; a view made under no_grad does not require grad (PyTorch's inherits requires_grad from its
base) and keeps no grad_fn when its base changes.
"""
from __future__ import annotations

import numpy as np

from . import functional as F
from .grad_mode import STATE
from .graph import EPOCH, FREED, NO_EDGE, OP_KEYS, AccumulateGrad, Node, SavedVersion
from .kernels import is_basic
from .ops import TABLE
from .tensor import COMPLEX, LEAF_INPLACE, Tensor, make, normalize, plain_index
from .views import root, view_info

ndarray = np.ndarray
_new = object.__new__

VIEW_OF_LEAF = "a view of a leaf Variable that requires grad is being used in an in-place operation."
NO_GRAD_VIEW = ("A view was created in no_grad mode and is being modified inplace with grad mode enabled. "
                "Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your "
                "code by moving both the view and the inplace either both inside the no_grad block (if you "
                "don't want the inplace to be tracked) or both outside (if you want the inplace to be "
                "tracked).")
INTERNAL_OVERLAP = ("unsupported operation: more than one element of the written-to tensor refers to a single "
                    "memory location. Please clone() the tensor before performing the operation.")
PARTIAL_OVERLAP = ("unsupported operation: some elements of the input tensor and the written-to tensor refer "
                   "to a single memory location. Please clone() the tensor before performing the operation.")
READ_ONLY = ("the tensor's array is read-only (NumPy marked it so), so it cannot be changed in place: "
             "clone() it first.")



# --------------------------------------------------------------------------------------------------
# Checks before an in-place write
# --------------------------------------------------------------------------------------------------

def prepare(t, d, e, live, enabled):
    """PyTorch's refusals for an in-place change to array tensor t (data d, edge e; `live`: an operand
    requires grad). Returns t's ViewInfo (None if t is not a view)."""
    if not d.flags.writeable:
        if any(s == 0 and n > 1 for s, n in zip(d.strides, d.shape)):
            raise RuntimeError(INTERNAL_OVERLAP)
        raise ValueError(READ_ONLY)
    if not enabled:
        return None                         # (not recorded: whether t is a view does not matter)
    view = view_info(t)
    if view is not None:
        be = view.base._edge
        if view.no_grad and (live or e is not None or be is not None):
            raise RuntimeError(NO_GRAD_VIEW)
        if be is not None and be[0].__class__ is AccumulateGrad:
            raise RuntimeError(VIEW_OF_LEAF)    # (also a view taken before the base's requires_grad_())
    if e is not None and e[0].__class__ is AccumulateGrad:
        raise RuntimeError(LEAF_INPLACE)
    return view


def check_overlap(target, src):
    """Refuse an input that partially overlaps the memory written (PyTorch's get_overlap_status: only
    dense layouts are compared; the very same elements are fine, `y *= y`)."""
    if src.__class__ is not ndarray or target.__class__ is not ndarray:
        return
    if root(target) is not root(src) or target.size == 0 or src.size == 0:
        return
    if not (_dense(target) and _dense(src)):
        return
    t0, t1 = _bounds(target)
    s0, s1 = _bounds(src)
    if t0 == s0 and t1 == s1:
        if target.strides == src.strides and target.shape == src.shape:
            return
        raise RuntimeError(PARTIAL_OVERLAP)
    if t0 < s1 and s0 < t1:
        raise RuntimeError(PARTIAL_OVERLAP)


def _dense(a):
    """No two elements share memory and no gaps between them (in some order of the axes)."""
    expected = a.itemsize
    for stride, n in sorted((abs(s), n) for s, n in zip(a.strides, a.shape) if n != 1):
        if stride != expected:
            return False
        expected *= n
    return True


def _bounds(a):
    lo = hi = a.__array_interface__["data"][0]
    for s, n in zip(a.strides, a.shape):
        if s < 0:
            lo += s * (n - 1)
        else:
            hi += s * (n - 1)
    return lo, hi + a.itemsize


# --------------------------------------------------------------------------------------------------
# After the write: saved results, the base's history, the views' grad_fns
# --------------------------------------------------------------------------------------------------

def track_result(node, t):
    """If `node` (the in-place operation's) saved its result, that result is now t's memory: read it from
    there and check it against t's version (PyTorch saves the modified tensor itself)."""
    saved = node._saved
    if saved and saved[-1].__class__ is list:       # layout of graph.py: (..., out, out's counter)
        vc = t._vc
        node._saved = saved[:-2] + (t._data, SavedVersion(vc, vc[0]))


def rebase(t, view, edge):
    """Give the in-place result's node `edge` to t (not a view) or, through CopySlices, to t's base; then
    update the grad_fn of every live view of the base."""
    node = edge[0]
    track_result(node, t)
    if view is None:
        t._edge = edge
        base = t
    else:
        base = view.base
        base._edge = (CopySlices(base._edge or NO_EDGE, view.steps, node, t._data.shape), 0)
    refresh(base)


def refresh(base):
    """Each live view of `base` (made with grad mode on) gets a grad_fn replayed from base's grad_fn."""
    views = getattr(base, "_views", None)
    if not views:
        return
    be = base._edge
    for r in views:
        v = r()
        if v is None:
            continue
        info = v._view
        if info.no_grad:
            continue
        edge = be
        if be is not None:
            for prim, params, in_shape in info.steps:
                edge = (_view_node(prim, edge, params, in_shape), 0)
        v._edge = edge


def _view_node(prim, edge, params, in_shape):
    """The node `record` would make for view primitive `prim` on an input with this edge and shape (view
    primitives save no values, only the parameters and the input's shape)."""
    node = _new(prim.node_class)
    node.next_functions = (edge,)
    node._epoch = EPOCH[0]
    node._key = next(OP_KEYS)
    node._buf = None
    node._saved = ()
    node._meta = tuple(in_shape if src[0] == "shape" else params[src[1]] for src in prim.sources)
    return node


class CopySlices(Node):
    """The base's grad_fn after an in-place operation on one of its views (PyTorch's CopySlices).

    next_functions: the base's previous grad_fn, then the operation's other inputs. Backward: the region of
    the incoming gradient that the view covers goes through the operation's node (`fn`); what it returns
    for the view's old value replaces that region, which then goes on to the base's old grad_fn with the
    rest of the gradient unchanged; its other gradients go to the other inputs.
    """

    __slots__ = ("_fn", "_steps", "_shape")

    def __init__(self, base_edge, steps, fn, shape):
        self.next_functions = (base_edge,) + tuple(fn.next_functions[1:])
        self._fn = fn
        self._steps = steps
        self._shape = shape                 # the view's shape
        self._saved = (fn,) if fn._saved else ()     # freed by a backward without retain_graph
        self._epoch = EPOCH[0]
        self._key = next(OP_KEYS)
        self._buf = None

    def apply(self, g, graph):
        if self._saved is None:
            raise RuntimeError(FREED)
        steps = self._steps
        if graph:
            region = g
            for prim, params, _ in steps:
                region = F.record(prim, (region,), params)
            grads = self._fn.apply(region, True)
            g0 = grads[0]
            mask = _embed(np.ones(self._shape, dtype=bool), steps)
            gb = F.where(mask, 0.0 if g0 is None else _embed(g0, steps), g)
        else:
            region = g
            for prim, params, _ in steps:
                region = prim.forward(region, *params)
            grads = self._fn.apply(region, False)
            gb = _put_region(g, steps, grads[0], self._shape)
        return (gb if self.next_functions[0][0] is not None else None, *grads[1:])


def _put_region(g, steps, g0, shape):
    """A copy of g with the region the view covers set to g0 (zero when None)."""
    out = np.array(g, copy=True)
    r = out
    for prim, params, _ in steps:
        r = prim.forward(r, *params)
    if r.__class__ is ndarray and (r is out or root(r) is out):   # the steps gave a view of the copy
        r[...] = 0.0 if g0 is None else g0
        return out
    mask = _embed(np.ones(shape, dtype=bool), steps)              # (a layout NumPy cannot view: reshape)
    return np.where(mask, 0.0 if g0 is None else _embed(g0, steps), out)


def _embed(h, steps):
    """h (shaped like the view) placed in zeros shaped like the base: the view steps' own backward rules,
    in reverse (so, under create_graph, recorded like any rule)."""
    for prim, params, in_shape in reversed(steps):
        rule, idx = prim.rule_list[0]
        vals = [in_shape if src[0] == "shape" else params[src[1]] for src in prim.sources]
        h = rule(h, *[vals[j] for j in idx])
    return h


# --------------------------------------------------------------------------------------------------
# Tensor's in-place methods
# --------------------------------------------------------------------------------------------------

def setitem(self, index, value):
    """`self[index] = value`, in place (Tensor.__setitem__)."""
    index = plain_index(index)
    e = self._edge
    enabled = STATE.enabled
    if value.__class__ is not Tensor:
        vd = value = F.operand(value)
        live = False
    else:
        vd = value._data
        live = value._edge is not None
    d = self._data
    record = enabled and (e is not None or live)
    if d.__class__ is float:            # a scalar: immutable, never a view
        if record:
            if e is not None and e[0].__class__ is AccumulateGrad:
                raise RuntimeError(LEAF_INPLACE)
            res = F.record(SETITEM, (make(d, e), value), (index,))
            self._data = res._data
            self._bump()
            self._edge = res._edge
            return
        tmp = np.array(d)
        tmp[index] = vd
        self._data = float(tmp)
        self._bump()
        return
    view = prepare(self, d, e, live, enabled)
    if record and d.dtype.kind == "c":
        raise RuntimeError(COMPLEX)     # (before the kernel writes)
    if vd.__class__ is ndarray and is_basic(index):
        check_overlap(d[index], vd)
    if record:
        # x's gradient is g with zeros at index, v's is g[index] (compiler/rules.py, setitem); the kernel
        # writes v into d itself, and the node saves no values, so nothing else needs keeping.
        res = F.record(SETITEM, (make(d, e), value), (index,))
        self._bump()
        rebase(self, view, res._edge)
        return
    d[index] = vd
    self._bump()


def inplace(self, name, other):
    """`self <name>= other` (name: add, sub, mul, div, pow), in place."""
    e = self._edge
    enabled = STATE.enabled
    if other.__class__ is Tensor:
        od = other._data
        live = other._edge is not None
    else:
        od = other = F.operand(other)
        live = False
    d = self._data
    record = enabled and (e is not None or live)
    if d.__class__ is float:            # a scalar: immutable, never a view; it takes the new value
        if record:
            if e is not None and e[0].__class__ is AccumulateGrad:
                raise RuntimeError(LEAF_INPLACE)
            res = getattr(F, name)(make(d, e), other)
            rd = res._data
            if rd.__class__ is not float:
                raise RuntimeError(f"output with shape [] doesn't match the broadcast shape {list(rd.shape)}")
            self._data = rd
            self._bump()
            self._edge = res._edge
            track_result(res._edge[0], self)
            return self
        r = normalize(TABLE[name].forward(d, od))
        if r.__class__ is not float:
            if r.shape == ():
                raise RuntimeError(f"result type {r.dtype} can't be cast to the desired output type float64")
            raise RuntimeError(f"output with shape [] doesn't match the broadcast shape {list(np.shape(r))}")
        self._data = r
        self._bump()
        return self
    view = prepare(self, d, e, live, enabled)
    check_overlap(d, od)
    if record:
        # The out-of-place result, recorded, then written into this tensor's memory.
        old = make(d, e)
        res = getattr(F, name)(old, other)
        rd = res._data
        if (() if rd.__class__ is float else rd.shape) != d.shape:
            raise RuntimeError(f"output with shape {list(d.shape)} doesn't match the broadcast shape "
                               f"{list(np.shape(rd))}")
        saved = res._edge[0]._saved
        if saved and any(v is old for v in saved):
            old._data = d.copy()        # the node reads the old value: it keeps a copy (original_self)
        np.copyto(d, rd, casting="same_kind")
        self._bump()
        rebase(self, view, res._edge)
        return self
    _INPLACE_UFUNCS[name](d, od, out=d)
    self._bump()
    return self


SETITEM = TABLE["setitem"]
_INPLACE_UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
                   "pow": np.power}

# _view_node and _embed rebuild a view primitive's node and rule arguments from its parameters and input
# shape alone: true as long as view primitives' rules read nothing else.
assert all(src[0] in ("shape", "param") for p in TABLE.values() if p.view for src in p.sources)


def install_methods(cls):
    """Give Tensor its in-place operations."""
    cls.__setitem__ = setitem
    for op, name in (("add", "add"), ("sub", "sub"), ("mul", "mul"), ("truediv", "div"), ("pow", "pow")):
        def method(self, other, name=name):
            return inplace(self, name, other)
        method.__name__ = f"__i{op}__"
        setattr(cls, method.__name__, method)
        setattr(cls, name + "_", method)


install_methods(Tensor)
