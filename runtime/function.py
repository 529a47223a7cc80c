"""Custom differentiable operations: `Function` with static `forward(ctx, ...)` and `backward(ctx, ...)`.

As in PyTorch, `MyOp.apply(*args)` runs `forward` with grad mode off and, when an input requires grad,
records one node whose class is named `MyOpBackward`; that node is the `ctx` both methods receive, so
attributes set on it in forward are there in backward. `ctx.save_for_backward(*tensors)` keeps tensors
(checked against in-place changes, freed after backward unless retain_graph); `ctx.saved_tensors`
returns them; `ctx.needs_input_grad[i]` says whether input i wants a gradient. `backward` receives one
gradient per output (Tensors; zeros for outputs that got none) and returns one per input of forward
(None for non-tensors). Under create_graph=True it runs with grad mode on, so Tensor operations inside
it record and can be differentiated again.

Example:

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = np.exp(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            y, = ctx.saved_tensors
            return g * y
"""
from __future__ import annotations

import numpy as np

from .grad_mode import STATE, no_grad
from .graph import FREED, NO_EDGE, OP_KEYS, Node
from .ops import unbroadcast as _sum_to
from .tensor import COMPLEX, Tensor, make, normalize, _from_user


class FunctionCtx(Node):
    """The node recorded by `Function.apply`, and the `ctx` of its forward and backward."""

    # No __slots__: a ctx carries whatever attributes forward sets on it.
    _function = None

    def __init__(self):
        self.next_functions = ()
        self._key = next(OP_KEYS)
        self._buf = None
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._to_save = ()
        self._saved = ()
        self._checks = None
        self._non_differentiable = ()
        self._n_outputs = 1

    def save_for_backward(self, *tensors):
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError("save_for_backward can only save tensors (or None); set other values as "
                                "attributes of ctx")
        self._to_save = tensors

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable = tensors

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors):
        raise NotImplementedError("in-place custom Functions (mark_dirty) are not supported; return a new tensor")

    @property
    def saved_tensors(self):
        saved = self._saved
        if saved is None:
            raise RuntimeError(FREED)
        checks = self._checks
        if checks is not None:
            for vc, version, k in checks:
                if vc[0] != version:
                    raise RuntimeError(
                        f"one of the variables needed for gradient computation has been modified by an "
                        f"inplace operation: saved tensor {k} of {self.name()} is at version {vc[0]}; "
                        f"expected version {version} instead. Hint: it was changed in place after "
                        f"save_for_backward; modify a clone() instead.")
        graph = STATE.enabled
        out = []
        for kind, value, nr in saved:
            if kind == "tensor" or value is None:
                out.append(value)
            else:       # one of our outputs: rebuilt, so the output and its node do not form a cycle
                out.append(make(value, (self, nr) if graph else None))
        return tuple(out)

    def apply(self, g, graph):
        grads = list(g) if self._n_outputs > 1 else [g]
        for k, gk in enumerate(grads):
            if gk is None:
                if self.materialize_grads:
                    shape, dtype = self._output_meta[k]
                    grads[k] = make(normalize(np.zeros(shape, dtype)), None)
            elif gk.__class__ is not Tensor:
                grads[k] = make(gk, None)
        result = self._function.backward(self, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        n = len(self.next_functions)
        if len(result) > n and all(r is None for r in result[n:]):
            result = result[:n]
        if len(result) != n:
            raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                               f"(expected {n}, got {len(result)})")
        out = []
        for k, ((child, _), r) in enumerate(zip(self.next_functions, result)):
            if child is None or r is None:
                out.append(None)
                continue
            if not isinstance(r, Tensor):
                r = make(_from_user(r), None)
            want = self._input_shapes[k]
            if r.shape != want:
                if not _sums_to(r.shape, want):
                    raise RuntimeError(f"Function {self.name()} returned an invalid gradient at index {k} - "
                                       f"got {list(r.shape)} but expected shape compatible with {list(want)}")
                r = _sum_to(r if graph else r._data, want)
            out.append(r if graph or r.__class__ is not Tensor else r._data)
        return out


def _sums_to(have, want):
    """Whether a gradient of shape `have` can be summed to `want` (want broadcasts to have)."""
    try:
        return np.broadcast_shapes(want, have) == tuple(have)
    except ValueError:
        return False


class Function:
    """Base class of a custom operation; subclass it with static forward and backward."""

    _ctx_class = FunctionCtx

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._ctx_class = type(cls.__name__ + "Backward", (FunctionCtx,), {"_function": cls})

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function must define a static forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function must define a static backward(ctx, ...)")

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = cls._ctx_class()
        needs = tuple(isinstance(a, Tensor) and a._edge is not None for a in args)
        ctx.needs_input_grad = needs
        with no_grad():
            result = cls.forward(ctx, *args, **kwargs)
        multi = isinstance(result, tuple)
        outs = list(result) if multi else [result]
        for k, o in enumerate(outs):
            if isinstance(o, (np.ndarray, float, int, np.generic)) and not isinstance(o, bool):
                outs[k] = make(_from_user(o), None)
        if STATE.enabled and any(needs):
            ctx.next_functions = tuple(a._edge if needs[k] else NO_EDGE for k, a in enumerate(args))
            ctx._input_shapes = tuple(a.shape if isinstance(a, Tensor) else () for a in args)
            ctx._n_outputs = len(outs)
            ctx._output_meta = [(o.shape, o.dtype) if isinstance(o, Tensor) else ((), np.float64)
                                for o in outs]
            skip = {id(t) for t in ctx._non_differentiable}
            inputs = {id(a) for a in args if isinstance(a, Tensor)}
            for k, o in enumerate(outs):
                if not isinstance(o, Tensor) or id(o) in skip:
                    continue
                d = o._data
                if d.__class__ is not float and d.dtype.kind == "c":
                    raise RuntimeError(COMPLEX)
                if id(o) in inputs or o._edge is not None:
                    o = outs[k] = make(o._data, None)     # an input returned as is: a new output tensor
                o._edge = (ctx, k)
            ctx._saved, ctx._checks = _save(ctx._to_save, outs)
        ctx._to_save = ()
        return tuple(outs) if multi else outs[0]


def _save(tensors, outs):
    saved, checks = [], []
    for k, t in enumerate(tensors):
        if t is None:
            saved.append(("tensor", None, 0))
            continue
        nr = next((i for i, o in enumerate(outs) if o is t), None)
        vc = t._share_vc()
        checks.append((vc, vc[0], k))
        if nr is None:
            saved.append(("tensor", t, 0))
        else:
            saved.append(("output", t._data, nr))
    return tuple(saved), (tuple(checks) if checks else None)
