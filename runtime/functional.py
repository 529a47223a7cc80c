"""The differentiable functions: one per primitive of ops.py, the composites built from them, and the
recorder that runs a primitive and, in grad mode, puts its node on the tape.

Every function takes Tensors and plain values alike. Given a Tensor it returns a Tensor (recorded when an
input requires grad and grad mode is on); given only plain floats/arrays it returns a plain value. The
second case is what lets the backward code generated in ops.py run unchanged on raw values and, under
create_graph=True, on Tensors. These functions are `runtime.sin`, `runtime.sum`, ..., the Tensor methods
and operators (given to Tensor here, at import), and what NumPy's own functions call on Tensors
(numpy_api.py). A primitive's function is named as the `tape` fact of compiler/primitives.py says
(runtime.arcsin for asin, runtime.maximum for max, runtime.where for select), with the short and NumPy
aliases beside it; `FUNCTIONS` has them under the table's names.
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from compiler.library import ENTRIES as LIBRARY_ENTRIES
from compiler.primitives import PRIMS

from .grad_mode import STATE
from .graph import EPOCH, NO_EDGE, OP_KEYS
from .kernels import clip as _clip, select as _select
from .ops import TABLE, link
from .tensor import COMPLEX, Tensor, make, normalize, plain_index
from .views import register as register_view, root as _root

ndarray = np.ndarray
_new = object.__new__

next_key = OP_KEYS.__next__


def operand(v):
    """A non-Tensor operand as a raw value: numbers and arrays as they are, sequences as arrays."""
    c = v.__class__
    if c is float or c is int or c is ndarray or c is bool or isinstance(v, np.generic):
        return v
    return np.asarray(v)


def raw(x):
    """The value of a Tensor, or x itself."""
    return x._data if x.__class__ is Tensor else x


def shape(x):
    if x.__class__ is Tensor:
        return x.shape
    return () if x.__class__ is float else np.shape(x)


def ndim(x):
    return len(shape(x))


def _plan(prim, mask):
    """Positions in prim.saved_names that the inputs needing a gradient (bits of mask) will read."""
    needed = set()
    for k, name in enumerate(prim.inputs):
        if prim.variadic or mask >> k & 1:
            needed.update(prim.arg_index.get(name, ()))
    plan = tuple(sorted(needed))
    prim.plans[mask] = plan
    return plan


def _result(out):
    """A new Tensor for a primitive's raw result (normalized: a float64 scalar becomes a float)."""
    if out.__class__ is not float:
        out = normalize(out)
    res = _new(Tensor)
    res._data = out
    res._edge = None
    res._grad = None
    res._vc = None
    return res


def record(prim, inputs, params=()):
    """Run `prim` on the inputs' values; when an input requires grad and grad mode is on, record it.

    `inputs` are Tensors or raw operands (a list of them for a variadic primitive); `params` are the
    primitive's non-tensor parameters. Returns the result as a Tensor. (Elementwise primitives with one
    or two inputs have faster copies of this below; they keep the same layout as graph.py expects.)
    """
    datas = []
    mask = 0
    bit = 1
    for t in inputs:
        if t.__class__ is Tensor:
            datas.append(t._data)
            if t._edge is not None:
                mask |= bit
        else:
            datas.append(t)
        bit <<= 1
    res = _result(prim.forward(datas, *params) if prim.variadic else prim.forward(*datas, *params))
    out = res._data
    if prim.view and out.__class__ is ndarray and inputs[0].__class__ is Tensor:
        x = datas[0]
        if x.__class__ is ndarray and (out is x or _root(out) is _root(x)):    # NumPy made a view
            register_view(res, inputs[0], prim, params)
    if not mask or not STATE.enabled:
        return res
    if out.__class__ is not float and out.dtype.kind == "c":
        raise RuntimeError(COMPLEX)

    node = _new(prim.node_class)
    node.next_functions = tuple(t._edge if t.__class__ is Tensor and t._edge is not None else NO_EDGE
                                for t in inputs)
    node._epoch = EPOCH[0]
    node._key = next_key()
    node._buf = None
    n = len(prim.saved_names)
    meta = [None] * n
    saved = None
    vc = None
    sources = prim.sources
    for pos in prim.plans.get(mask) or _plan(prim, mask):
        src = sources[pos]
        kind = src[0]
        if kind == "input":         # a Tensor, or a constant (also freed after backward, as PyTorch)
            if saved is None:
                saved = [None] * n
            saved[pos] = inputs[src[1]]
        elif kind == "inputs":      # every array of a variadic primitive
            if saved is None:
                saved = [None] * n
            saved[pos] = tuple(inputs)
        elif kind == "out":
            if saved is None:
                saved = [None] * n
            saved[pos] = out
            vc = res._vc = [0, 0]
        elif kind == "param":
            meta[pos] = params[src[1]]
        elif kind == "shape":
            meta[pos] = shape(datas[src[1]])
        else:
            meta[pos] = tuple(shape(d) for d in datas)
    if prim.elementwise:
        meta.append(_broadcast_shapes(datas, out))
    if saved is None:
        node._saved = ()
    else:
        if vc is not None:
            saved.append(vc)
        node._saved = tuple(saved)
    node._meta = tuple(meta)
    res._edge = (node, 0)
    return res


def _broadcast_shapes(datas, out):
    """Each input's shape where it differs from the result's (its gradient is summed back), else None."""
    if out.__class__ is float:
        return None
    oshape = out.shape
    shapes = None
    for k, d in enumerate(datas):
        s = d.shape if d.__class__ is ndarray else np.shape(d)
        if s != oshape:
            if shapes is None:
                shapes = [None] * len(datas)
            shapes[k] = s
    return tuple(shapes) if shapes is not None else None


# --------------------------------------------------------------------------------------------------
# One function per primitive
# --------------------------------------------------------------------------------------------------

def _unary_function(prim):
    """fn(x) for an elementwise primitive: the recorder specialised to one input (the scalar hot path).
    Saved layout (graph.py): (x, out, out's version counter)."""
    forward = prim.forward
    cls = prim.node_class
    reads = prim.reads[prim.inputs[0]]
    save_x, save_out = prim.inputs[0] in reads, "out" in reads
    scalar_fn = getattr(prim, "scalar_fn", None)
    array_fn = getattr(prim, "array_fn", forward)

    def fn(x):
        if x.__class__ is not Tensor:
            if x.__class__ is float and scalar_fn is not None:     # the rules' scalar path: math.*
                try:
                    return scalar_fn(x)
                except (ValueError, OverflowError):
                    return float(array_fn(x))
            return forward(x)
        out = forward(x._data)
        if out.__class__ is not float:
            out = normalize(out)
        res = _new(Tensor)
        res._data = out
        res._grad = None
        res._vc = None
        e = x._edge
        if e is None or not STATE.enabled:
            res._edge = None
            return res
        node = _new(cls)
        node.next_functions = (e,)
        node._epoch = EPOCH[0]
        node._key = next_key()
        node._buf = None
        node._meta = None
        if save_out:
            vc = res._vc = [0, 0]
            node._saved = (x if save_x else None, out, vc)
        elif save_x:
            node._saved = (x, None, None)
        else:
            node._saved = ()
        res._edge = (node, 0)
        return res

    fn.__name__ = fn.__qualname__ = PRIMS[prim.name].tape
    fn.__doc__ = f"Elementwise {fn.__name__}; differentiable (its rule: {prim.name} in compiler/rules.py)."
    return fn


def _binary_function(prim):
    """fn(a, b) for an elementwise primitive with NumPy broadcasting: the recorder specialised to two
    inputs. Saved layout (graph.py): (a, b, out, out's version counter); `_meta`: broadcast shapes."""
    forward = prim.forward
    cls = prim.node_class
    a_name, b_name = prim.inputs
    ra, rb = set(prim.reads[a_name]), set(prim.reads[b_name])
    plans = {}
    for mask, reads in ((1, ra), (2, rb), (3, ra | rb)):
        plans[mask] = (a_name in reads, b_name in reads, "out" in reads)

    def fn(a, b):
        if a.__class__ is Tensor:
            ad = a._data
            ea = a._edge
            if b.__class__ is Tensor:
                bd = b._data
                eb = b._edge
            else:
                if b.__class__ is not float and b.__class__ is not int:
                    b = operand(b)
                bd = b
                eb = None
        elif b.__class__ is Tensor:
            if a.__class__ is not float and a.__class__ is not int:
                a = operand(a)
            ad = a
            ea = None
            bd = b._data
            eb = b._edge
        else:
            return forward(a, b)
        out = forward(ad, bd)
        if out.__class__ is not float:
            out = normalize(out)
        res = _new(Tensor)
        res._data = out
        res._grad = None
        res._vc = None
        if ea is None:
            if eb is None or not STATE.enabled:
                res._edge = None
                return res
            sa, sb, so = plans[2]
            edges = (NO_EDGE, eb)
        elif eb is None:
            if not STATE.enabled:
                res._edge = None
                return res
            sa, sb, so = plans[1]
            edges = (ea, NO_EDGE)
        else:
            if not STATE.enabled:
                res._edge = None
                return res
            sa, sb, so = plans[3]
            edges = (ea, eb)
        node = _new(cls)
        node.next_functions = edges
        node._epoch = EPOCH[0]
        node._key = next_key()
        node._buf = None
        if sa or sb or so:
            vc = res._vc = [0, 0] if so else None
            node._saved = (a if sa else None, b if sb else None, out if so else None, vc)
        else:
            node._saved = ()
        if out.__class__ is float:
            node._meta = None
        else:
            if out.dtype.kind == "c":
                raise RuntimeError(COMPLEX)
            node._meta = _broadcast_shapes((ad, bd), out)
        res._edge = (node, 0)
        return res

    fn.__name__ = fn.__qualname__ = PRIMS[prim.name].tape
    fn.__doc__ = (f"Elementwise {fn.__name__} with NumPy broadcasting; differentiable (its rule: {prim.name} "
                  f"in compiler/rules.py).")
    return fn


# The table's primitive name -> the differentiable function that records it (for the elementwise ones,
# the recorder specialised to one or two inputs)
FUNCTIONS = {}
for _prim in TABLE.values():
    if _prim.elementwise and not _prim.params and len(_prim.inputs) == 1:
        FUNCTIONS[_prim.name] = _unary_function(_prim)
    elif _prim.elementwise and not _prim.params and len(_prim.inputs) == 2:
        FUNCTIONS[_prim.name] = _binary_function(_prim)

# ... under the runtime's names, NumPy's and the short ones
neg = negative = FUNCTIONS["neg"]
exp, expm1, log, log1p, log2, log10, sqrt = (FUNCTIONS[n] for n in ("exp", "expm1", "log", "log1p", "log2",
                                                                   "log10", "sqrt"))
sin, cos, tan, sinh, cosh, tanh = (FUNCTIONS[n] for n in ("sin", "cos", "tan", "sinh", "cosh", "tanh"))
arcsin = asin = FUNCTIONS["asin"]
arccos = acos = FUNCTIONS["acos"]
arctan = atan = FUNCTIONS["atan"]
abs = absolute = FUNCTIONS["abs"]
add = FUNCTIONS["add"]
sub = subtract = FUNCTIONS["sub"]
mul = multiply = FUNCTIONS["mul"]
div = divide = true_divide = FUNCTIONS["div"]
pow = power = FUNCTIONS["pow"]
maximum = FUNCTIONS["max"]
minimum = FUNCTIONS["min"]
arctan2 = atan2 = FUNCTIONS["atan2"]
hypot = FUNCTIONS["hypot"]
logaddexp = FUNCTIONS["logaddexp"]


def _any_tensor(*xs):
    for x in xs:
        if x.__class__ is Tensor:
            return True
    return False


def where(cond, a, b):
    """a where cond else b (cond carries no gradient)."""
    cond = raw(cond)
    if cond.__class__ is not bool:
        cond = np.asarray(cond, dtype=bool)
    if _any_tensor(a, b):
        return record(SELECT, (cond, _op(a), _op(b)))
    return _select(cond, a, b)


def clip(x, lo=None, hi=None, **kwargs):
    """Clip to [lo, hi] (either may be None); gradient to x inside, to the bound outside."""
    lo = kwargs.pop("a_min", kwargs.pop("min", lo))
    hi = kwargs.pop("a_max", kwargs.pop("max", hi))
    if kwargs:
        raise TypeError(f"clip() got unexpected arguments {sorted(kwargs)}")
    lo = -math.inf if lo is None else lo
    hi = math.inf if hi is None else hi
    if _any_tensor(x, lo, hi):
        return record(CLIP, (_op(x), _op(lo), _op(hi)))
    return _clip(x, lo, hi)


clamp = clip


def _op(x):
    return x if x.__class__ is Tensor else operand(x)


def _axis(axis, dim):
    if dim is not None:
        axis = dim
    if isinstance(axis, list):
        axis = tuple(axis)
    return axis


def _reduction(prim):
    forward = prim.forward

    def fn(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
        axis = _axis(axis, dim)
        keepdims = bool(keepdim if keepdim is not None else keepdims)
        if x.__class__ is Tensor:
            return record(prim, (x,), (axis, keepdims))
        return forward(operand(x), axis, keepdims)

    fn.__name__ = fn.__qualname__ = prim.name
    fn.__doc__ = (f"{prim.name} over axis (None, an int or a tuple; `dim` also accepted), NumPy's keepdims; "
                  f"differentiable.")
    return fn


sum = _reduction(TABLE["sum"])
mean = _reduction(TABLE["mean"])
max = amax = _reduction(TABLE["amax"])
min = amin = _reduction(TABLE["amin"])
prod = _reduction(TABLE["prod"])


def matmul(a, b):
    """NumPy's matmul (1-D operands promoted, batch axes broadcast); differentiable."""
    if _any_tensor(a, b):
        return record(MATMUL, (_op(a), _op(b)))
    return np.matmul(a, b)


def dot(a, b):
    """np.dot for scalars, vectors and matrices (a product, an inner product or a matmul)."""
    na, nb = ndim(a), ndim(b)
    if na == 0 or nb == 0:
        return mul(a, b)
    if na > 2 or nb > 2:
        raise NotImplementedError("dot of arrays with more than 2 dimensions: use matmul (its batching "
                                  "rule differs from np.dot's)")
    return matmul(a, b)


def outer(a, b):
    """The outer product of the flattened inputs."""
    return mul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def _shape_arg(shape):
    if len(shape) == 1:
        shape = shape[0]
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(n) for n in shape)


def reshape(x, *shape, newshape=None):
    """x with a new shape (one -1 is inferred), as np.reshape; gradient reshaped back."""
    shape = _shape_arg(shape if newshape is None else (newshape,))
    if x.__class__ is Tensor:
        if shape == x.shape:
            return x if x._edge is None or not STATE.enabled else record(RESHAPE, (x,), (shape,))
        return record(RESHAPE, (x,), (shape,))
    return RESHAPE.forward(operand(x), shape)


def transpose(x, *axes):
    """Axes permuted (reversed by default), as np.transpose."""
    if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], (int, np.integer))):
        axes = axes[0]
    axes = None if axes is None or axes == () else tuple(int(a) % builtins.max(ndim(x), 1) for a in axes)
    if x.__class__ is Tensor:
        return record(TRANSPOSE, (x,), (axes,))
    return TRANSPOSE.forward(operand(x), axes)


def swapaxes(x, axis1, axis2):
    n = ndim(x)
    perm = list(range(n))
    a, b = axis1 % n, axis2 % n
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, tuple(perm))


def _normalize_axes(axis, n):
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        if not -n <= a < n:
            raise np.exceptions.AxisError(a, n)
        out.append(a % n)
    if len(set(out)) != len(out):
        raise ValueError("repeated axis")
    return out


def expand_dims(x, axis):
    """New length-1 axes at `axis` (an int or a tuple), as np.expand_dims (torch's unsqueeze)."""
    old = shape(x)
    n = len(old) + (len(axis) if isinstance(axis, (tuple, list)) else 1)
    axes = set(_normalize_axes(axis, n))
    it = iter(old)
    return reshape(x, tuple(1 if k in axes else next(it) for k in range(n)))


unsqueeze = expand_dims


def squeeze(x, axis=None, *, dim=None):
    """x without length-1 axes (all of them, or those in `axis`), as np.squeeze."""
    axis = _axis(axis, dim)
    old = shape(x)
    if axis is None:
        new = tuple(n for n in old if n != 1)
    else:
        axes = _normalize_axes(axis, builtins.max(len(old), 1)) if old else []
        for a in axes:
            if old[a] != 1:
                raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
        new = tuple(n for k, n in enumerate(old) if k not in axes)
    return reshape(x, new)


def flatten(x):
    return reshape(x, (-1,))


ravel = flatten


def broadcast_to(x, shape):
    """x broadcast to `shape` (a read-only view); the gradient is summed back."""
    shape = _shape_arg((shape,))
    if x.__class__ is Tensor:
        if x.shape == shape:
            return x
        return record(BROADCAST_TO, (x,), (shape,))
    if np.shape(x) == shape:
        return x
    return np.broadcast_to(x, shape)


def getitem(x, index):
    """x[index]: basic, negative, integer-array (repeats allowed) and boolean-mask indexing."""
    if x.__class__ is Tensor:
        return record(GETITEM, (x,), (index,))
    return x[index]


def scatter_add(x, index, shape):
    """zeros(shape) with x added at index (the gradient of getitem, and differentiable itself)."""
    if x.__class__ is Tensor:
        return record(SCATTER_ADD, (x,), (tuple(shape), index))
    return SCATTER_ADD.forward(x, tuple(shape), index)


def concatenate(seq, axis=0, out=None, **kwargs):
    """Join along an existing axis (axis=None: flattened first), as np.concatenate."""
    if out is not None or kwargs:
        raise TypeError("concatenate() supports only (seq, axis)")
    seq = [_op(x) for x in seq]
    if axis is None:
        seq = [reshape(x, (-1,)) for x in seq]
        axis = 0
    if not _any_tensor(*seq):
        return np.concatenate(seq, axis=axis)
    if not shape(seq[0]):
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    return record(CONCATENATE, seq, (axis,))


def stack(seq, axis=0, out=None, **kwargs):
    """Join along a new axis, as np.stack."""
    if out is not None or kwargs:
        raise TypeError("stack() supports only (seq, axis)")
    seq = [_op(x) for x in seq]
    if not _any_tensor(*seq):
        return np.stack(seq, axis=axis)
    return record(STACK, seq, (axis,))


def clone(x):
    """A copy that stays in the graph (the gradient passes through unchanged)."""
    if x.__class__ is Tensor:
        return record(CLONE, (x,))
    return CLONE.forward(x)


def square(x):
    return mul(x, x)


def reciprocal(x):
    return div(1.0, x)


def sign(x):
    """The sign, as a constant: it has zero gradient wherever it is differentiable."""
    if x.__class__ is Tensor:
        return make(normalize(np.sign(x._data)), None)
    if x.__class__ is float:
        return (x > 0.0) - (x < 0.0) + 0.0 if x == x else x
    return np.sign(x)


SELECT, CLIP, MATMUL = TABLE["select"], TABLE["clip"], TABLE["matmul"]
RESHAPE, TRANSPOSE, BROADCAST_TO = TABLE["reshape"], TABLE["transpose"], TABLE["broadcast_to"]
GETITEM, SCATTER_ADD, CONCATENATE, STACK, CLONE = (TABLE["getitem"], TABLE["index_grad"],
                                                   TABLE["concatenate"], TABLE["stack"], TABLE["copy"])

# --------------------------------------------------------------------------------------------------
# The library (compiler/library/): one function per entry, bound by the NumPy callable's own signature
# --------------------------------------------------------------------------------------------------

def _plain(prim, xs, values):
    return prim.forward(list(xs), *values) if prim.variadic else prim.forward(*xs, *values)


class _TapeBind:
    """What a library entry's `bind` asks of the tape: values are taken as they are."""

    @staticmethod
    def const(value, what="argument"):
        return raw(value)

    @staticmethod
    def items(value):
        return list(value)


def _library_function(prim):
    entry = prim.entry
    sig = entry.signature()
    params = entry.params
    fn_np = entry.fn
    parts = entry.parts

    def run(xs, values):
        if prim.variadic:
            xs = [list(_op(x) for x in xs)]
        else:
            xs = tuple(_op(x) for x in xs)
        if parts:
            return tuple(record(prim, xs[0] if prim.variadic else xs, values + (k,))
                         for k in range(parts))
        return record(prim, xs[0] if prim.variadic else xs, values)

    if entry.bind is not None:
        def fn(*args, **kwargs):
            xs, bound = entry.bind(list(args), dict(kwargs), _TapeBind)
            values = tuple(bound[n] for n in params)
            if not _any_tensor(*xs):
                if parts:
                    return tuple(_plain(prim, xs, values + (k,)) for k in range(parts))
                return _plain(prim, xs, values)
            return run(xs, values)
        fn.__name__ = fn.__qualname__ = entry.tape
        return fn

    order = list(sig.parameters)
    inputs = order[:len(prim.inputs)]

    def fn(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        values = bound.arguments
        xs = [values[n] for n in inputs]
        if not _any_tensor(*xs):
            return fn_np(*args, **kwargs)
        for name, value in values.items():
            kind = sig.parameters[name].kind
            if kind is kind.VAR_KEYWORD or kind is kind.VAR_POSITIONAL:
                if value:
                    raise TypeError(f"{entry.tape}() on a Tensor does not support {sorted(value) if kind is kind.VAR_KEYWORD else 'more arguments'}")
                continue
            if name not in inputs and name not in params and value is not sig.parameters[name].default:
                raise TypeError(f"{entry.tape}() on a Tensor does not support {name}= (leave it at its "
                                f"default)")
        return run(xs, tuple(values[n] for n in params))

    fn.__name__ = fn.__qualname__ = entry.tape
    fn.__doc__ = f"{entry.tape}, as NumPy's {getattr(fn_np, '__module__', 'numpy')}.{fn_np.__name__}; differentiable."
    return fn


LIBRARY = {}    # the tape's name -> the function (runtime.det, runtime.erf, ...)
for _entry in LIBRARY_ENTRIES:
    if not _entry.tape:
        continue
    _prim = TABLE[_entry.name]
    if _entry.name not in FUNCTIONS:
        FUNCTIONS[_entry.name] = _library_function(_prim)
    LIBRARY[_entry.tape] = FUNCTIONS[_entry.name]
globals().update(LIBRARY)


# The differentiable functions that are not primitives (the tests check each one's gradient too).
COMPOSITES = {"dot": dot, "outer": outer, "expand_dims": expand_dims, "squeeze": squeeze,
              "swapaxes": swapaxes, "flatten": flatten, "square": square, "reciprocal": reciprocal}


# --------------------------------------------------------------------------------------------------
# Tensor methods and operators
# --------------------------------------------------------------------------------------------------

def install_methods(cls):
    """Give Tensor its operators and NumPy/PyTorch-style methods, each one of the functions above."""
    def swap(f):
        def reflected(self, other):
            return f(other, self)
        reflected.__name__ = f"__r{f.__name__}__"
        return reflected

    ops = {"__add__": add, "__sub__": sub, "__mul__": mul, "__truediv__": div, "__pow__": pow,
           "__matmul__": matmul}
    for name, f in ops.items():
        setattr(cls, name, f)
        setattr(cls, "__r" + name[2:], swap(f))
    cls.__neg__ = neg
    cls.__abs__ = abs
    cls.__pos__ = lambda self: self

    for name in ("exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "sin", "cos", "tan", "arcsin",
                 "arccos", "arctan", "sinh", "cosh", "tanh", "abs", "neg", "square", "reciprocal",
                 "asin", "acos", "atan", "sum", "mean", "max", "min", "prod", "amax", "amin",
                 "matmul", "dot", "squeeze", "flatten", "ravel", "clone", "swapaxes", "clip", "clamp",
                 "expand_dims", "unsqueeze", "sign", "maximum", "minimum", "logaddexp", "hypot",
                 "arctan2", "atan2", "pow", "add", "sub", "mul", "div", "outer", "broadcast_to"):
        setattr(cls, name, globals()[name])

    def reshape_method(self, *shape, newshape=None):
        return reshape(self, *shape, newshape=newshape)

    def transpose_method(self, *axes):
        return transpose(self, *axes)

    def where_method(self, cond, other):       # torch: x.where(cond, y)
        return where(cond, self, other)

    cls.copy = clone                            # NumPy's name (np.copy(t) is clone too)
    cls.T = property(transpose, doc="The axes reversed (a view when NumPy makes one).")
    cls.__getitem__ = lambda self, index: getitem(self, plain_index(index))
    cls.reshape = cls.view = reshape_method
    cls.transpose = cls.permute = transpose_method
    cls.where = where_method
    for entry in LIBRARY_ENTRIES:  # the library's methods (x.var(), x.cumsum()), where NumPy has them
        if entry.method and entry.tape and entry.tape in LIBRARY and not hasattr(cls, entry.method):
            setattr(cls, entry.method, LIBRARY[entry.tape])


install_methods(Tensor)
link(globals())         # the generated backward code calls these functions (ops.py)
