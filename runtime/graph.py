"""The recorded graph: nodes (a tensor's `grad_fn`), leaf accumulators, saved values and their checks.

A node stands for one recorded operation. `next_functions` holds one edge `(node, output_nr)` per input,
as in PyTorch: the input's own `grad_fn`, the `AccumulateGrad` of a leaf that requires grad, or
`(None, 0)` for an input that needs no gradient. `apply(g, graph)` turns the gradient of the output into
one gradient per input; `graph` is True under `create_graph=True`, when the gradients are Tensors and
the rules record.

Saved values are checked before use: a saved tensor remembers its version counter (a one-element list
shared by the tensor and its views) and the version it had when saved; an in-place change in between
makes backward refuse with PyTorch's message. After a backward without `retain_graph`, nodes that saved
tensors drop them, and a second backward through them raises.
"""
from __future__ import annotations

import weakref

import numpy as np

NO_EDGE = (None, 0)

FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after "
         "they have already been freed). Saved intermediate values of the graph are freed when you call "
         ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
         "graph a second time or if you need to access saved tensors after calling backward.")


class Node:
    """Base of every grad_fn. Subclasses set `apply`; the class name is the operation's name."""

    __slots__ = ("next_functions", "_retained", "__weakref__")
    _n_outputs = 1

    def name(self):
        return type(self).__name__

    def apply(self, g, graph):
        raise NotImplementedError

    def _release(self):
        """Drop saved values after a backward without retain_graph (nothing to drop by default)."""

    def __call__(self, *grads):
        """Call the backward function by hand, as in the lectures: `e.grad_fn(1.)` gives its inputs'
        gradients (a tuple of Tensors, None where an input needs none)."""
        from .tensor import Tensor, as_tensor
        graph = any(isinstance(x, Tensor) and x.requires_grad for x in grads)
        raw = [x if graph else (x._data if isinstance(x, Tensor) else _as_raw(x)) for x in grads]
        g = raw[0] if self._n_outputs == 1 else raw
        out = self.apply(g, graph)
        return tuple(None if x is None else as_tensor(x) for x in out)

    def __repr__(self):
        return f"<{type(self).__name__} object at {id(self):#x}>"


def _as_raw(x):
    a = np.asarray(x, dtype=np.float64) if not isinstance(x, np.ndarray) else x
    return float(a) if a.ndim == 0 and a.dtype == np.float64 else a


class AccumulateGrad(Node):
    """The node of a leaf that requires grad: adds the incoming gradient into the leaf's `.grad`.

    It holds the leaf weakly (the leaf holds it), so leaves and graphs never form reference cycles.
    """

    __slots__ = ("_ref",)

    def __init__(self, tensor):
        self._ref = weakref.ref(tensor)
        self.next_functions = ()
        self._retained = None

    @property
    def variable(self):
        return self._ref()

    def apply(self, g, graph):
        t = self._ref()
        if t is not None:
            accumulate(t, g, graph)
        return ()


def accumulate(t, g, graph):
    """t.grad += g, in place when nothing records (PyTorch's semantics: `.grad` keeps its identity)."""
    from .tensor import Tensor, make, normalize
    cur = t._grad
    if graph:
        if g.__class__ is not Tensor:
            g = make(normalize(g), None)
        t._grad = g if cur is None else cur + g
        return
    if g.__class__ is Tensor:
        g = g._data
    g = normalize(g)
    d = t._data
    if d.__class__ is not float and g.__class__ is not float and g.dtype != d.dtype:
        g = g.astype(d.dtype)
    if cur is None:
        # Copy: the same array may reach two leaves (an add passes g to both) or be a read-only view.
        t._grad = make(g if g.__class__ is float else np.array(g, copy=True), None)
        return
    cd = cur._data
    if cur._edge is None and cd.__class__ is np.ndarray and cd.flags.writeable and cd.shape == np.shape(g):
        np.add(cd, g, out=cd)
        vc = cur._vc
        if vc is not None:
            vc[0] += 1
    elif cur._edge is None:
        cur._data = normalize(cd + g)
    else:
        t._grad = make(normalize(cd + g), None)


class OpNode(Node):
    """The node of a primitive from the table in ops.py; one subclass per primitive (e.g. MulBackward).

    `_saved` holds, in the order of `prim.saved_names`, the values the rules read (a Tensor for a saved
    tensor input, the raw result for `out`, shapes and parameters as they are), None where no input that
    needs a gradient reads it. `_checks` is a flat tuple (counter, version, position) per saved tensor.
    `_shapes` gives, for an elementwise primitive with broadcasting, each input's shape (None: same as
    the result), so that gradients are summed back to it.
    """

    __slots__ = ("_saved", "_checks", "_shapes")
    _prim = None

    def _release(self):
        if self._checks is not None:
            self._saved = None

    def apply(self, g, graph):
        saved = self._saved
        if saved is None:
            raise RuntimeError(FREED)
        checks = self._checks
        if checks is not None:
            for k in range(0, len(checks), 3):
                if checks[k][0] != checks[k + 1]:
                    raise RuntimeError(_modified_message(self, checks[k + 2], checks[k][0], checks[k + 1]))
        prim = self._prim
        if graph:
            vals = list(saved)
            if prim.out_pos >= 0 and vals[prim.out_pos] is not None:
                from .tensor import make
                vals[prim.out_pos] = make(vals[prim.out_pos], (self, 0))
        else:
            vals = [v._data if v.__class__ is _Tensor else v for v in saved]
        nf = self.next_functions
        if prim.variadic:
            rule, idx = prim.rule_list[0]
            args = [vals[j] for j in idx]
            return tuple(None if nf[i][0] is None else _call(rule, g, (i, *args)) for i in range(len(nf)))
        grads = []
        for k, (rule, idx) in enumerate(prim.rule_list):
            if nf[k][0] is None:
                grads.append(None)
            elif rule is None:
                raise RuntimeError(f"the derivative of {prim.name} with respect to its input "
                                   f"{prim.inputs[k]!r} is not implemented")
            else:
                grads.append(_call(rule, g, [vals[j] for j in idx]))
        shapes = self._shapes
        if shapes is not None:
            for k, shape in enumerate(shapes):
                if shape is not None and grads[k] is not None:
                    grads[k] = _sum_to(grads[k], shape)
        return grads


def _call(rule, g, args):
    try:
        return rule(g, *args)
    except (ZeroDivisionError, OverflowError):
        # Python floats raise where NumPy gives inf/nan (1/0.0, 0.0**-1): redo the rule in NumPy scalars.
        return rule(*[np.float64(v) if v.__class__ is float else v for v in (g, *args)])


def _modified_message(node, pos, now, expected):
    from .tensor import Tensor
    prim = node._prim
    value = node._saved[pos]
    if prim.sources[pos][0] == "out":
        desc, where = _describe(value), f"output 0 of {node.name()}"
    else:
        desc = _describe(value._data)
        fn = value._edge[0] if value._edge is not None else None
        where = ("a leaf" if fn is None or isinstance(fn, AccumulateGrad)
                 else f"output {value._edge[1]} of {fn.name()}")
        assert isinstance(value, Tensor)
    return (f"one of the variables needed for gradient computation has been modified by an inplace "
            f"operation: [{desc}], which is {where}, is at version {now}; expected version {expected} "
            f"instead. Hint: it was changed in place (+=, -=, *=, /=, x[i] = v, ...) after {node.name()} "
            f"saved it; compute a new tensor instead (y = y + 1) or modify a clone().")


def _describe(data):
    if data.__class__ is float:
        return "float64 ()"
    return f"{data.dtype} {tuple(data.shape)}"


def make_node_class(prim):
    """The Node subclass for a primitive, named like PyTorch's (MulBackward), bound to its rules."""
    prim.rule_list = tuple((prim.rules.get(name), prim.arg_index.get(name, ())) for name in prim.inputs)
    cls = type(prim.node_name, (OpNode,), {"__slots__": (), "_prim": prim,
                                           "__doc__": f"Backward of {prim.name} (runtime/ops.py)."})
    cls.__module__ = __name__
    return cls


# Late imports: tensor.py imports this module at its end, once Tensor exists (see runtime/__init__.py).
from .tensor import Tensor as _Tensor  # noqa: E402
from .ops import _sum_to  # noqa: E402
