"""What each primitive of the IR means: how to evaluate it and how generated Python spells it.

A primitive is a name plus, for functions that exist in several libraries, a `lib` parameter
("math", "np", or None for Python's operators and builtins). Keeping the library the user chose means
the generated code has the user's semantics exactly: `math.log(-1.0)` raises, `np.log(-1.0)` is nan.
Derivative rules (rules.py) build their adjoints from the same primitives, in the same library.

`PRIMS[name]` is a `Prim`: its arity, an evaluator `impl(lib)(*values)` (used by the reference
evaluator and by constant folding) and its spelling (`infix` operator, or a call to `callee(lib)`).
`RESOLVE` maps the Python objects a user may call (math.sin, np.sin, abs, max...) to (prim, lib).
"""
from __future__ import annotations

import ast
import builtins
import math
import operator

import numpy as np


class Prim:
    __slots__ = ("name", "arity", "infix", "funcs", "differentiable", "kwargs", "internal")

    def __init__(self, name, arity, infix=None, funcs=None, differentiable=True, kwargs=(),
                 internal=False):
        self.name = name
        self.arity = arity          # number of inputs, or None for any number
        self.infix = infix          # an ast operator class, or None for a call
        self.funcs = funcs or {}    # lib -> callable
        self.differentiable = differentiable
        self.kwargs = kwargs        # params passed to the callable as keyword arguments
        self.internal = internal    # made by the reverse pass only (adjoint helpers)

    def impl(self, lib):
        """The callable for `lib`; with no library named, the operator's own, else math's for
        Python numbers, else NumPy's (as the code generator would choose for floats)."""
        for key in ((lib,) if lib is not None else (None, "math", "np")):
            fn = self.funcs.get(key)
            if fn is not None:
                return fn
        if lib is not None and self.funcs.get(None) is not None:
            return self.funcs[None]
        raise KeyError(f"primitive {self.name} has no implementation for lib={lib!r}")


PRIMS = {}


def _prim(name, arity, infix=None, differentiable=True, kwargs=(), internal=False, **funcs):
    by_lib = {(None if k == "py" else k): v for k, v in funcs.items()}
    PRIMS[name] = Prim(name, arity, infix, by_lib, differentiable, kwargs, internal)


def _select(c, a, b):
    if isinstance(c, np.ndarray):
        return np.where(c, a, b)
    return a if c else b


def _py_max(a, b):
    # Python's max(a, b) keeps a unless b > a: the same rule the emitted `b if b > a else a` follows.
    return b if b > a else a


def _py_min(a, b):
    return b if b < a else a


def _sign(x):
    if isinstance(x, np.ndarray):
        return np.sign(x)
    return (x > 0) - (x < 0)


# Arithmetic: Python operators, the same spelling for floats and arrays.
_prim("add", 2, ast.Add, py=operator.add, np=np.add)
_prim("sub", 2, ast.Sub, py=operator.sub, np=np.subtract)
_prim("mul", 2, ast.Mult, py=operator.mul, np=np.multiply)
_prim("div", 2, ast.Div, py=operator.truediv, np=np.true_divide)
_prim("pow", 2, ast.Pow, py=operator.pow, math=math.pow, np=np.power)
_prim("mod", 2, ast.Mod, py=operator.mod, np=np.mod)
_prim("floordiv", 2, ast.FloorDiv, differentiable=False, py=operator.floordiv,
      np=np.floor_divide)
_prim("neg", 1, ast.USub, py=operator.neg, np=np.negative)

# Comparisons and logic: not differentiable; their results steer `select` and control flow.
for _name, _op, _fn in [("lt", ast.Lt, operator.lt), ("le", ast.LtE, operator.le),
                        ("gt", ast.Gt, operator.gt), ("ge", ast.GtE, operator.ge),
                        ("eq", ast.Eq, operator.eq), ("ne", ast.NotEq, operator.ne)]:
    _prim(_name, 2, _op, differentiable=False, py=_fn)
_prim("and", 2, ast.And, differentiable=False, py=lambda a, b: a and b, np=np.logical_and)
_prim("or", 2, ast.Or, differentiable=False, py=lambda a, b: a or b, np=np.logical_or)
_prim("not", 1, ast.Not, differentiable=False, py=operator.not_, np=np.logical_not)
_prim("sign", 1, differentiable=False, py=_sign, math=_sign, np=np.sign)
_prim("select", 3, py=_select, np=np.where)

# Elementary functions, in `math` for Python floats and in NumPy for both.
UNARY = {
    "sin": (math.sin, np.sin), "cos": (math.cos, np.cos), "tan": (math.tan, np.tan),
    "asin": (math.asin, np.arcsin), "acos": (math.acos, np.arccos), "atan": (math.atan, np.arctan),
    "sinh": (math.sinh, np.sinh), "cosh": (math.cosh, np.cosh), "tanh": (math.tanh, np.tanh),
    "exp": (math.exp, np.exp), "expm1": (math.expm1, np.expm1), "log": (math.log, np.log),
    "log1p": (math.log1p, np.log1p), "log2": (math.log2, np.log2), "log10": (math.log10, np.log10),
    "sqrt": (math.sqrt, np.sqrt), "abs": (math.fabs, np.abs),
}
for _name, (_m, _n) in UNARY.items():
    _prim(_name, 1, math=_m, np=_n)
PRIMS["abs"].funcs[None] = builtins.abs
PRIMS["sqrt"].funcs[None] = math.sqrt  # unused spelling, kept so every prim evaluates with lib=None

_prim("square", 1, np=np.square)
_prim("atan2", 2, math=math.atan2, np=np.arctan2)
_prim("hypot", 2, math=math.hypot, np=np.hypot)
_prim("max", 2, py=_py_max, np=np.maximum)
_prim("min", 2, py=_py_min, np=np.minimum)

# Piecewise-constant functions: defined everywhere, derivative zero almost everywhere.
_prim("floor", 1, differentiable=False, math=math.floor, np=np.floor)
_prim("ceil", 1, differentiable=False, math=math.ceil, np=np.ceil)
_prim("trunc", 1, differentiable=False, math=math.trunc, np=np.trunc)
_prim("round", 1, differentiable=False, py=builtins.round, np=np.round)
_prim("int", 1, differentiable=False, py=int)
_prim("float", 1, py=float)
_prim("range_len", 3, differentiable=False, py=lambda a, b, c: len(range(a, b, c)))

# Reads of the user's environment at call time, as plain Python would: a module global, a closure cell.
_prim("global", 0, differentiable=False, py=None)
_prim("cell", 0, differentiable=False, py=None)


# --- arrays ----------------------------------------------------------------------------------------

from . import support  # noqa: E402
from .indexing import build_index  # noqa: E402

_REDUCE = ("axis", "keepdims")
_prim("sum", 1, kwargs=_REDUCE, np=np.sum)
_prim("mean", 1, kwargs=_REDUCE, np=np.mean)
_prim("amax", 1, kwargs=_REDUCE, np=np.max)
_prim("amin", 1, kwargs=_REDUCE, np=np.min)
_prim("prod", 1, kwargs=_REDUCE, np=np.prod)
_prim("matmul", 2, ast.MatMult, py=operator.matmul, np=np.matmul)
_prim("outer", 2, np=np.outer)
_prim("transpose", 1, kwargs=("axes",), np=np.transpose)
_prim("reshape", None, np=lambda x, *shape: np.reshape(x, shape))
_prim("expand_dims", 1, kwargs=("axis",), np=np.expand_dims)
_prim("squeeze", 1, kwargs=("axis",), np=np.squeeze)
_prim("concatenate", None, kwargs=("axis",), np=lambda *xs, axis=0: np.concatenate(xs, axis=axis))
_prim("stack", None, kwargs=("axis",), np=lambda *xs, axis=0: np.stack(xs, axis=axis))
_prim("clip", 3, np=np.clip)
_prim("logaddexp", 2, np=np.logaddexp)
_prim("copy", 1, np=np.copy)
_prim("astype", 1, kwargs=("dtype",), internal=True, differentiable=False,
      py=lambda x, dtype=None: np.asarray(x).astype(dtype, copy=False))
_prim("getitem", None, py=lambda x, *parts, index=None: x[build_index(index, parts)],
      kwargs=("index",))
_prim("setitem", None, kwargs=("index",),
      py=lambda x, v, *parts, index=None: support.setitem(x, build_index(index, parts), v))
# Values that carry no gradient: shapes and constructors.
_prim("shape", 1, differentiable=False, py=np.shape)
_prim("len", 1, differentiable=False, py=len)
_prim("ndim", 1, differentiable=False, py=np.ndim)
_prim("size", 1, differentiable=False, py=np.size)
_prim("zeros", None, differentiable=False, np=lambda *s: np.zeros(s))
_prim("ones", None, differentiable=False, np=lambda *s: np.ones(s))
_prim("eye", 1, differentiable=False, np=np.eye)
_prim("zeros_like", 1, differentiable=False, np=np.zeros_like)
_prim("ones_like", 1, differentiable=False, np=np.ones_like)
_prim("full", None, differentiable=False, np=lambda value, *s: np.full(s, value))
_prim("arange", None, differentiable=False, np=np.arange)
_prim("tuple", None, differentiable=False, py=lambda *xs: xs)


def _list_append(items, value, position):
    return list(items) + [value]


# Lists built with append(): a value in the IR (functional), appended in place in generated code.
_prim("list_new", 0, differentiable=False, py=lambda: [])
_prim("list_append", 3, py=_list_append)
_prim("stack_list", 1, kwargs=("axis",), py=lambda items, axis=0: np.stack(items, axis=axis))
# Adjoint helpers (compiler/support.py): made by the reverse pass, never by the user.
for _name in ("unbroadcast", "sum_grad", "mean_grad", "extreme_grad", "prod_grad",
              "matmul_grad_a", "matmul_grad_b", "index_grad", "cleared", "written_grad", "transpose_grad",
              "reshape_grad", "concat_grad", "stack_grad", "clip_grad", "outer_grad_a",
              "outer_grad_b", "moveaxis_grad"):
    _fn = getattr(support, _name)
    _kw = {"sum_grad": _REDUCE, "mean_grad": _REDUCE, "extreme_grad": _REDUCE,
           "prod_grad": _REDUCE, "transpose_grad": ("axes",), "concat_grad": (),
           "stack_grad": ("axis", "index_"), "index_grad": ("index",), "cleared": ("index",), "written_grad": ("index",),
           "moveaxis_grad": ("axis",)}
    _prim(_name, None, kwargs=_kw.get(_name, ()), internal=True, differentiable=False, py=_fn)
def _index_add(acc, g, *parts, index=None):
    out = np.array(acc, dtype=np.result_type(acc, g), copy=True)
    np.add.at(out, build_index(index, parts), g)
    return out


# Accumulation into a buffer the generated code owns (made by specialisation only).
_prim("index_add", None, kwargs=("index",), internal=True, differentiable=False, py=_index_add)
_prim("iadd", 2, internal=True, differentiable=False, py=operator.add)
# A zero adjoint shaped like a value: 0.0 for a number, zeros for an array (resolved by specialisation).
_prim("zero_like", 1, internal=True, differentiable=False,
      py=lambda x: 0.0 if np.ndim(x) == 0 else np.zeros(np.shape(x)))
# Aliasing (aliasing.py): whether NumPy made a view, and a check before a write that may be shared.
_prim("shares", 2, differentiable=False, np=np.may_share_memory)
_prim("write_check", None, internal=True, differentiable=False, kwargs=("_check",),
      py=lambda *values, _check=None: _check(*values))
_prim("user_vjp", None, internal=True, differentiable=False,
      py=lambda g, out, *args, vjp=None: vjp(g, out, *args), kwargs=("vjp",))
PRIMS["index_grad"].funcs[None] = lambda g, x, *parts, index=None: support.index_grad(
    g, x, build_index(index, parts))
PRIMS["cleared"].funcs[None] = lambda g, *parts, index=None: support.cleared(
    g, build_index(index, parts))
PRIMS["written_grad"].funcs[None] = lambda g, *parts, index=None: support.written_grad(
    g, build_index(index, parts))
PRIMS["stack_grad"].funcs[None] = lambda g, axis=0, index_=0: support.stack_grad(g, axis, index_)
PRIMS["concat_grad"].funcs[None] = lambda g, *shapes, axis=0, index_=0: support.concat_grad(
    g, axis, index_, *shapes)
PRIMS["concat_grad"].kwargs = ("axis", "index_")

# NumPy functions that exist as methods of arrays: x.sum(axis=0) is np.sum(x, axis=0).
METHODS = {"sum": "sum", "mean": "mean", "max": "amax", "min": "amin", "prod": "prod",
           "reshape": "reshape", "transpose": "transpose", "dot": "matmul", "copy": "copy",
           "squeeze": "squeeze", "clip": "clip"}


def _resolve_table():
    table = {}

    def add(obj, prim, lib):
        try:
            table[obj] = (prim, lib)
        except TypeError:
            pass

    for name, (m, n) in UNARY.items():
        add(m, name, "math")
        add(n, name, "np")
    add(np.absolute, "abs", "np")
    add(np.fabs, "abs", "np")
    add(builtins.abs, "abs", None)
    add(math.atan2, "atan2", "math")
    add(np.arctan2, "atan2", "np")
    add(math.hypot, "hypot", "math")
    add(np.hypot, "hypot", "np")
    add(builtins.pow, "pow", None)
    add(math.pow, "pow", "math")
    add(np.power, "pow", "np")
    add(np.add, "add", "np")
    add(np.subtract, "sub", "np")
    add(np.multiply, "mul", "np")
    add(np.divide, "div", "np")
    add(np.negative, "neg", "np")
    add(np.maximum, "max", "np")
    add(np.minimum, "min", "np")
    add(np.fmax, "max", "np")
    add(np.fmin, "min", "np")
    add(np.square, "square", "np")
    add(np.sign, "sign", "np")
    add(math.floor, "floor", "math")
    add(math.ceil, "ceil", "math")
    add(math.trunc, "trunc", "math")
    add(np.floor, "floor", "np")
    add(np.ceil, "ceil", "np")
    add(np.trunc, "trunc", "np")
    add(builtins.round, "round", None)
    add(np.round, "round", "np")
    add(builtins.int, "int", None)
    add(builtins.float, "float", None)
    add(np.float64, "float", None)
    for fn, prim in [(np.sum, "sum"), (np.mean, "mean"), (np.max, "amax"), (np.amax, "amax"),
                     (np.min, "amin"), (np.amin, "amin"), (np.prod, "prod"),
                     (np.matmul, "matmul"), (np.dot, "matmul"), (np.outer, "outer"),
                     (np.transpose, "transpose"), (np.reshape, "reshape"),
                     (np.expand_dims, "expand_dims"), (np.squeeze, "squeeze"),
                     (np.concatenate, "concatenate"), (np.stack, "stack"), (np.clip, "clip"),
                     (np.logaddexp, "logaddexp"), (np.where, "select"), (np.copy, "copy"),
                     (np.zeros, "zeros"), (np.ones, "ones"), (np.eye, "eye"),
                     (np.zeros_like, "zeros_like"), (np.ones_like, "ones_like"),
                     (np.full, "full"), (np.arange, "arange"), (np.shape, "shape"),
                     (np.ndim, "ndim"), (np.size, "size"), (builtins.len, "len")]:
        add(fn, prim, "np")
    add(math.fabs, "abs", "math")
    return table


# Python callables the frontend maps onto primitives (by identity, never by spelling).
RESOLVE = _resolve_table()

# Builtins that take any number of arguments and fold onto a binary primitive.
VARIADIC = {builtins.max: "max", builtins.min: "min"}

# Numeric constants a user may read from a module (folded into the graph as literals).
MODULE_CONSTANTS = {id(math), id(np)}

# Callee spellings in generated code: (prim, lib) -> the name to bind and the object bound to it.
_NP_NAMES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "atan2": "arctan2",
             "max": "maximum", "min": "minimum", "pow": "power", "round": "round",
             "amax": "max", "amin": "min", "select": "where", "not": "logical_not",
             "sub": "subtract", "mul": "multiply", "div": "true_divide", "neg": "negative",
             "and": "logical_and", "or": "logical_or", "shares": "may_share_memory"}


def callee(prim, lib):
    """(module-or-None, attribute name, object) a generated call to this primitive uses."""
    if lib == "np":
        attr = _NP_NAMES.get(prim, prim)
        return ("np", attr, getattr(np, attr))
    if lib == "math":
        return (None, prim if prim != "abs" else "fabs", PRIMS[prim].impl("math"))
    return (None, prim, PRIMS[prim].impl(None))


def evaluate_prim(name, lib, values, params=None):
    prim = PRIMS[name]
    kwargs = {k: params[k] for k in prim.kwargs if params and k in params}
    return prim.impl(lib)(*values, **kwargs)
