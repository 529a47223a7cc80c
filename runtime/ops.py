"""The primitives: one table of forward kernels and derivative rules (PyTorch's derivatives.yaml, in Python).

Notation. Each rule is a lambda returning the gradient of one input:

    g          the gradient flowing into the primitive's result (same shape as the result)
    x / a, b   the primitive's tensor inputs, by the names in its signature
    xs, i      a variadic primitive's inputs, and the position of the input whose gradient is wanted
    out        the primitive's result
    x_shape    the shape of input x (saved instead of x when the shape is all the rule needs)
    others     the primitive's non-tensor parameters (axis, keepdims, index, ...)

A rule names only what it reads; `_derive_saves` reads the names and so decides what the recorder keeps
for backward (never listed by hand), and keeps an input only when another input needs its gradient.
Rules of elementwise primitives return a gradient in the result's shape; the recorder sums it over the
axes along which that input was broadcast. Rules are written with operators and `F.*` (functional.py),
which take plain floats and arrays and also Tensors: under `create_graph=True` the engine hands rules
Tensors, so the backward pass is itself recorded and can be differentiated again.

Forward kernels (kernels.py) take raw values: a Python float for a float64 scalar, otherwise an ndarray.
The helpers the rules share are below the table.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from . import kernels as K

ndarray = np.ndarray
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


class Primitive:
    """One row of the table. The recorder (functional.py) and the node classes (graph.py) read it."""

    def __init__(self, name, inputs, forward, rules, params=(), elementwise=False, view=False,
                 variadic=False, node_name=None):
        self.name = name
        self.inputs = tuple(inputs)
        self.params = tuple(params)
        self.forward = forward
        self.rules = rules
        self.elementwise = elementwise
        self.view = view            # the result may share memory with the (first) input
        self.variadic = variadic    # one list input; a single rule takes the index `i`
        self.node_name = node_name or "".join(p.capitalize() for p in name.split("_")) + "Backward"
        _derive_saves(self)

    def __repr__(self):
        return f"<primitive {self.name}>"


def _derive_saves(prim):
    """Work out, from the rules' parameter names, which values each input's gradient needs saved."""
    names = []                      # every saved name, in a fixed order (the node keeps one tuple)
    per_input = {}
    for inp, rule in prim.rules.items():
        if inp not in prim.inputs:
            raise ValueError(f"{prim.name}: rule for unknown input {inp!r}")
        code = rule.__code__
        argnames = code.co_varnames[:code.co_argcount]
        if argnames[0] != "g":
            raise ValueError(f"{prim.name}: a rule's first parameter must be g, got {argnames[0]!r}")
        wanted = argnames[1:]
        if prim.variadic:
            if not wanted or wanted[0] != "i":
                raise ValueError(f"{prim.name}: a variadic rule takes (g, i, ...)")
            wanted = wanted[1:]
        for n in wanted:
            if not _known(prim, n):
                raise ValueError(f"{prim.name}: rule for {inp!r} reads unknown name {n!r}")
            if n not in names:
                names.append(n)
        per_input[inp] = wanted
    if "out" in names:                  # last, so that graph.py finds it next to its version counter
        names.remove("out")
        names.append("out")
    prim.saved_names = tuple(names)
    prim.arg_index = {inp: tuple(names.index(n) for n in wanted) for inp, wanted in per_input.items()}
    # Where each saved value comes from: ("input", k), ("out",), ("shape", k) or ("param", k).
    sources = []
    for n in names:
        if n in prim.inputs:
            sources.append(("input", prim.inputs.index(n)))
        elif n == "out":
            sources.append(("out",))
        elif n.endswith("_shape") and n[:-6] in prim.inputs:
            sources.append(("shape", prim.inputs.index(n[:-6])))
        elif n.endswith("_shapes") and n[:-7] in prim.inputs:
            sources.append(("shapes", prim.inputs.index(n[:-7])))
        else:
            sources.append(("param", prim.params.index(n)))
    prim.sources = tuple(sources)
    prim.out_pos = names.index("out") if "out" in names else -1


def _known(prim, n):
    return (n in prim.inputs or n == "out" or n in prim.params
            or (n.endswith("_shape") and n[:-6] in prim.inputs)
            or (n.endswith("_shapes") and n[:-7] in prim.inputs))


# --------------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------------

def unary(name, scalar_fn, array_fn, rule, node_name=None):
    prim = Primitive(name, ("x",), K.unary_kernel(scalar_fn, array_fn), {"x": rule}, elementwise=True,
                     node_name=node_name)
    prim.scalar_fn, prim.array_fn = scalar_fn, array_fn
    return prim


def binary(name, forward, rule_a, rule_b):
    return Primitive(name, ("a", "b"), forward, {"a": rule_a, "b": rule_b}, elementwise=True)


PRIMITIVES = [
    # Elementwise, one input. Rules in terms of the result where that is cheaper (exp, tanh, sqrt).
    Primitive("neg", ("x",), operator.neg, {"x": lambda g: -g}, elementwise=True),
    unary("exp", math.exp, np.exp, lambda g, out: g * out),
    unary("expm1", math.expm1, np.expm1, lambda g, out: g * (out + 1.0)),
    unary("log", math.log, np.log, lambda g, x: g / x),
    unary("log1p", math.log1p, np.log1p, lambda g, x: g / (x + 1.0), node_name="Log1PBackward"),
    unary("log2", math.log2, np.log2, lambda g, x: g / (x * _LN2)),
    unary("log10", math.log10, np.log10, lambda g, x: g / (x * _LN10)),
    unary("sqrt", math.sqrt, np.sqrt, lambda g, out: g / (2.0 * out)),  # inf at 0, as PyTorch
    unary("sin", math.sin, np.sin, lambda g, x: g * F.cos(x)),
    unary("cos", math.cos, np.cos, lambda g, x: -g * F.sin(x)),
    unary("tan", math.tan, np.tan, lambda g, out: g * (1.0 + out * out)),
    unary("arcsin", math.asin, np.arcsin, lambda g, x: g / F.sqrt(1.0 - x * x)),
    unary("arccos", math.acos, np.arccos, lambda g, x: -g / F.sqrt(1.0 - x * x)),
    unary("arctan", math.atan, np.arctan, lambda g, x: g / (1.0 + x * x)),
    unary("sinh", math.sinh, np.sinh, lambda g, x: g * F.cosh(x)),
    unary("cosh", math.cosh, np.cosh, lambda g, x: g * F.sinh(x)),
    unary("tanh", math.tanh, np.tanh, lambda g, out: g * (1.0 - out * out)),
    # abs'(0) = 0: the subgradient PyTorch picks (sign(0) = 0).
    unary("abs", abs, np.abs, lambda g, x: g * F.sign(x)),

    # Elementwise, two inputs (NumPy broadcasting; the recorder sums gradients back to each shape).
    binary("add", operator.add, lambda g: g, lambda g: g),
    binary("sub", operator.sub, lambda g: g, lambda g: -g),
    binary("mul", operator.mul, lambda g, b: g * b, lambda g, a: g * a),
    binary("div", K.div, lambda g, b: g / b, lambda g, a, b: -g * a / (b * b)),
    # x**0 has zero slope in x even at x = 0 (not 0 * 0**-1 = nan); a**b has zero slope in b where
    # a = 0 and b >= 0 (not 0 * log 0 = nan). Both as PyTorch; the safe stand-ins (a**0, log 1) avoid
    # computing the nan at all.
    binary("pow", K.pow,
           lambda g, a, b: g * b * F.pow(a, F.where(b == 0, 1.0, b - 1.0)),
           lambda g, a, b, out: g * out * F.log(F.where((a == 0) & (b >= 0), 1.0, a))),
    # Ties split the gradient in half between the two inputs (PyTorch's choice for maximum/minimum).
    binary("maximum", K.maximum,
           lambda g, a, b: g * ((a > b) + (a == b) * 0.5),
           lambda g, a, b: g * ((b > a) + (a == b) * 0.5)),
    binary("minimum", K.minimum,
           lambda g, a, b: g * ((a < b) + (a == b) * 0.5),
           lambda g, a, b: g * ((b < a) + (a == b) * 0.5)),
    binary("arctan2", K.binary_math(math.atan2, np.arctan2),
           lambda g, a, b: g * b / (a * a + b * b),
           lambda g, a, b: -g * a / (a * a + b * b)),
    binary("hypot", K.binary_math(math.hypot, np.hypot),
           lambda g, a, out: g * a / out,
           lambda g, b, out: g * b / out),
    binary("logaddexp", K.binary_math(K.logaddexp, np.logaddexp),
           lambda g, a, out: g * F.exp(a - out),
           lambda g, b, out: g * F.exp(b - out)),

    # Selection. The condition of `where` and the comparisons inside `clip` carry no gradient.
    Primitive("where", ("a", "b"), K.where,
              {"a": lambda g, cond: F.where(cond, g, 0.0),
               "b": lambda g, cond: F.where(cond, 0.0, g)},
              params=("cond",), elementwise=True),
    # clip passes g to x inside [lo, hi] (ends included, as PyTorch's clamp), to a bound beyond it.
    Primitive("clip", ("x", "lo", "hi"), K.clip,
              {"x": lambda g, x, lo, hi: g * ((x >= lo) & (x <= hi)),
               "lo": lambda g, x, lo: g * (x < lo),
               "hi": lambda g, x, hi: g * (x > hi)},
              elementwise=True),

    # Reductions over `axis` (None, an int or a tuple), NumPy's keepdims.
    Primitive("sum", ("x",), K.reduce(np.sum),
              {"x": lambda g, x_shape, axis, keepdims: _spread(g, x_shape, axis, keepdims)},
              params=("axis", "keepdims")),
    Primitive("mean", ("x",), K.reduce(np.mean),
              {"x": lambda g, x_shape, axis, keepdims:
                  _spread(g, x_shape, axis, keepdims) / _count(x_shape, axis)},
              params=("axis", "keepdims")),
    # max/min share the gradient evenly among tied entries (PyTorch's amax/amin).
    Primitive("max", ("x",), K.reduce(np.max),
              {"x": lambda g, x, out, axis, keepdims:
                  _keep(g, F.shape(x), axis, keepdims) * _argmax_mask(x, out, axis, keepdims)},
              params=("axis", "keepdims")),
    Primitive("min", ("x",), K.reduce(np.min),
              {"x": lambda g, x, out, axis, keepdims:
                  _keep(g, F.shape(x), axis, keepdims) * _argmax_mask(x, out, axis, keepdims)},
              params=("axis", "keepdims")),
    Primitive("prod", ("x",), K.reduce(np.prod),
              {"x": lambda g, x, out, axis, keepdims:
                  _keep(g, F.shape(x), axis, keepdims) * _prod_others(x, out, axis, keepdims)},
              params=("axis", "keepdims")),

    # Linear algebra: NumPy's matmul (1-D operands promoted, batch axes broadcast).
    Primitive("matmul", ("a", "b"), K.matmul,
              {"a": lambda g, a, b: _matmul_grad_a(g, a, b),
               "b": lambda g, a, b: _matmul_grad_b(g, a, b)}),

    # Shape and indexing. Views: the result may share the input's memory.
    Primitive("reshape", ("x",), K.reshape, {"x": lambda g, x_shape: F.reshape(g, x_shape)},
              params=("shape",), view=True),
    Primitive("transpose", ("x",), K.transpose,
              {"x": lambda g, axes: F.transpose(g, _inverse_axes(axes))},
              params=("axes",), view=True),
    Primitive("broadcast_to", ("x",), K.broadcast_to, {"x": lambda g, x_shape: _sum_to(g, x_shape)},
              params=("shape",), view=True),
    # Integer-array indices may repeat: their gradients add up (np.add.at), as for a gather.
    Primitive("getitem", ("x",), K.getitem,
              {"x": lambda g, x_shape, index: F.scatter_add(g, index, x_shape)},
              params=("index",), view=True),
    Primitive("scatter_add", ("x",), K.scatter_add,
              {"x": lambda g, index: F.getitem(g, index)},
              params=("index", "shape")),
    # x[index] = v, recorded by Tensor.__setitem__: x's old entries at index no longer matter.
    # With repeated indices the last write wins in NumPy; every repeat then gets v's gradient.
    Primitive("setitem", ("x", "v"), K.setitem,
              {"x": lambda g, x_shape, index: F.where(_mask_at(x_shape, index), 0.0, g),
               "v": lambda g, v_shape, index: _sum_to(F.getitem(g, index), v_shape)},
              params=("index",)),
    Primitive("concatenate", ("xs",), K.concatenate,
              {"xs": lambda g, i, axis, bounds: F.getitem(g, _span(axis, F.ndim(g), bounds[i], bounds[i + 1]))},
              params=("axis", "bounds"), variadic=True),
    Primitive("stack", ("xs",), K.stack,
              {"xs": lambda g, i, axis: F.getitem(g, _unit_slice(axis, F.ndim(g), i))},
              params=("axis",), variadic=True),
    Primitive("clone", ("x",), K.clone, {"x": lambda g: g}),
]

TABLE = {p.name: p for p in PRIMITIVES}

# --------------------------------------------------------------------------------------------------
# Helpers that rules share (each works on raw values and on Tensors)
# --------------------------------------------------------------------------------------------------

def _spread(g, x_shape, axis, keepdims):
    """Broadcast a reduction's gradient back over the reduced axes: g -> x's shape."""
    if not x_shape:
        return g
    g = _keep(g, x_shape, axis, keepdims)
    if g.__class__ is not Tensor:       # plain values: fill a new array (np.broadcast_to is slower)
        out = np.empty(x_shape, dtype=np.result_type(g))
        out[...] = g
        return out
    return F.broadcast_to(g, x_shape)


def _keep(g, x_shape, axis, keepdims):
    """A reduction's gradient with the reduced axes back as length 1 (so it broadcasts against x)."""
    if keepdims or axis is None or not x_shape:
        return g
    return F.reshape(g, _kept_shape(x_shape, axis))


def _kept_shape(shape, axis):
    """The shape a reduction over `axis` gives with keepdims=True."""
    if axis is None:
        return (1,) * len(shape)
    axes = axis if isinstance(axis, tuple) else (axis,)
    nd = len(shape)
    axes = {a % nd for a in axes}
    return tuple(1 if k in axes else n for k, n in enumerate(shape))


def _count(x_shape, axis):
    if axis is None:
        return math.prod(x_shape)
    axes = axis if isinstance(axis, tuple) else (axis,)
    return math.prod(x_shape[a] for a in axes)


def _argmax_mask(x, out, axis, keepdims):
    """Where x attains its max/min along axis, divided by how many entries tie (a constant)."""
    x_raw = F.raw(x)
    out_raw = F.raw(out)
    if x_raw.__class__ is float:
        return 1.0
    kept = out_raw if keepdims or axis is None else np.reshape(out_raw, _kept_shape(x_raw.shape, axis))
    mask = (x_raw == kept)
    return mask / np.sum(mask, axis=axis, keepdims=True)


def _prod_others(x, out, axis, keepdims):
    """d prod / d x_k = product of the other entries; out/x where x has no zero (then recordable)."""
    x_raw = F.raw(x)
    kept = out if keepdims or axis is None else F.reshape(out, _kept_shape(np.shape(x_raw), axis))
    if np.all(x_raw != 0):
        return kept / x
    # With zeros, out/x is 0/0: take the product of the others directly (exclusive cumulative products).
    # This branch is a constant to the tape, so a second derivative through a zero is not recorded.
    a = np.asarray(x_raw, dtype=np.float64)
    if a.ndim == 0:
        return 1.0
    axes = tuple(range(a.ndim)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    axes = tuple(sorted(k % a.ndim for k in axes))
    keep = [k for k in range(a.ndim) if k not in axes]
    moved = np.transpose(a, keep + list(axes))
    flat = moved.reshape(moved.shape[:len(keep)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,))
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = (left * right).reshape(moved.shape)
    return np.transpose(others, np.argsort(keep + list(axes)))


def _matmul_grad_a(g, a, b):
    """d(a @ b)/da: g @ b^T, with NumPy's promotion of 1-D operands undone and batch axes summed."""
    a_nd, b_nd = F.ndim(a), F.ndim(b)
    if a_nd == 1 and b_nd == 1:
        return g * b
    if b_nd == 1:                                   # (..., m, n) @ (n,) -> (..., m)
        return F.expand_dims(g, -1) * b
    if a_nd == 1:                                   # (n,) @ (..., n, p) -> (..., p)
        ga = F.matmul(b, F.expand_dims(g, -1))[..., 0]
        return _sum_to(ga, (F.shape(a)[0],))
    return _sum_to(F.matmul(g, F.swapaxes(b, -1, -2)), F.shape(a))


def _matmul_grad_b(g, a, b):
    a_nd, b_nd = F.ndim(a), F.ndim(b)
    if a_nd == 1 and b_nd == 1:
        return g * a
    if a_nd == 1:                                   # (n,) @ (..., n, p) -> (..., p)
        return F.expand_dims(a, -1) * F.expand_dims(g, -2)
    if b_nd == 1:                                   # (..., m, n) @ (n,) -> (..., m)
        gb = F.matmul(F.swapaxes(a, -1, -2), F.expand_dims(g, -1))[..., 0]
        return _sum_to(gb, (F.shape(b)[0],))
    return _sum_to(F.matmul(F.swapaxes(a, -1, -2), g), F.shape(b))


def _sum_to(g, shape):
    """Sum g over the axes that broadcasting added or stretched, giving `shape`."""
    gshape = g.shape if g.__class__ is ndarray or g.__class__ is Tensor else np.shape(g)
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + k for k, n in enumerate(shape)
                                      if n == 1 and gshape[lead + k] != 1)
    if g.__class__ is Tensor:
        return F.reshape(F.sum(g, axis=axes, keepdims=True), shape)
    r = np.sum(g, axis=axes)
    return r if r.shape == shape else r.reshape(shape)


def _unit_slice(axis, ndim, k):
    """An index that takes position k along `axis` (dropping the axis)."""
    return (slice(None),) * (axis % ndim) + (k,)


def _span(axis, ndim, start, stop):
    return (slice(None),) * (axis % ndim) + (slice(start, stop),)


def _inverse_axes(axes):
    return None if axes is None else tuple(np.argsort(axes))


def _mask_at(shape, index):
    mask = np.zeros(shape, dtype=bool)
    mask[index] = True
    return mask


# The rules call back into the public functions, which dispatch on raw values versus Tensors.
from . import functional as F  # noqa: E402  (circular by design: F is only used inside rules)
from .tensor import Tensor  # noqa: E402
