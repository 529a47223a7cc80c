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


# The facts every primitive states, none of them defaulted (tests/compiler/test_primitives.py
# checks each is declared); every list the passes use is derived from them below.
FACTS = {
    "differentiable": "inputs can receive a gradient (otherwise the rule table needs no formula)",
    "internal": "made by the compiler only (adjoint helpers, buffers), never by the user's code",
    "elementwise": "each output entry depends on the same entry of each input",
    "broadcasts": "array inputs broadcast against each other (adjoints are summed back)",
    "fresh": "returns a new array nothing else holds (never an input or a view of one)",
    "makes_arrays": "can turn numbers into an array (kinds then need an instrumented run)",
    "shape_from_values": "the output's shape depends on the values of integer inputs",
    "view": "None, or 'always' / 'maybe' when NumPy may return a view of the first input, 'opaque'"
            " for a view a write cannot be replayed through (writes near it are checked at run time)",
    "unshared": "each equation makes its own mutable object: never merged with another",
    "keeps_lib": "the equation keeps the library the user called (math or NumPy semantics)",
    "static_args": "its keyword arguments (axis, keepdims, shape) are read when the graph is built",
    "tape": "the name of the tape's function (runtime) computing it, or None",
    "raises": "may raise on values it has no result for (LinAlgError): kept when nothing reads it",
}


class Prim:
    __slots__ = ("name", "arity", "infix", "funcs", "kwargs", "parts") + tuple(FACTS)

    def __init__(self, name, arity, infix, funcs, kwargs, facts):
        missing = set(FACTS) - set(facts)
        extra = set(facts) - set(FACTS)
        if missing or extra:
            raise TypeError(f"primitive {name}: facts missing {sorted(missing)}, unknown {sorted(extra)}")
        self.name = name
        self.arity = arity          # number of inputs, or None for any number
        self.infix = infix          # an ast operator class, or None for a call
        self.funcs = funcs          # lib -> callable
        self.kwargs = kwargs        # params passed to the callable as keyword arguments
        self.parts = None           # a library function returning a tuple: its equations pick `part`
        for key, value in facts.items():
            setattr(self, key, value)

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

    def evaluate(self, lib, values, params):
        """The value of one equation: the callable for `lib` with the equation's keyword parameters
        (and, for a function returning a tuple, the part the equation picks)."""
        kw = {k: params[k] for k in self.kwargs if k in params}
        part = kw.pop("part", None) if self.parts else None
        value = self.impl(lib)(*values, **kw)
        return value if part is None else value[part]

    @property
    def np_name(self):
        """How generated code spells it in NumPy (np.<name>): the primitive's own name where NumPy
        has it, else the NumPy function's name (np.arcsin for asin, np.maximum for max)."""
        fn = self.funcs.get("np")
        if fn is None or getattr(np, self.name, None) is fn:
            return self.name
        name = getattr(fn, "__name__", None)
        return name if name and getattr(np, name, None) is fn else self.name


PRIMS = {}


def _prim(name, arity, family, *, infix=None, kwargs=(), **funcs_and_facts):
    """Declare a primitive: its implementations by library (py=, math=, np=) and its facts, from a
    named family (below) with any fact stated again for this primitive."""
    facts = dict(family)
    funcs = {}
    for key, value in funcs_and_facts.items():
        if key in FACTS:
            facts[key] = value
        else:
            funcs[None if key == "py" else key] = value
    PRIMS[name] = Prim(name, arity, infix, funcs, kwargs, facts)


# Families of primitives: the facts they share, stated once.
_NONE = dict(differentiable=False, internal=False, elementwise=False, broadcasts=False,
             fresh=False, makes_arrays=False, shape_from_values=False, view=None, unshared=False,
             keeps_lib=False, static_args=False, tape=None, raises=False)
ELEMENTWISE = {**_NONE, "differentiable": True, "elementwise": True, "broadcasts": True,
               "fresh": True, "keeps_lib": True}
UNARY_ELEMENTWISE = {**ELEMENTWISE, "broadcasts": False}
STEPWISE = {**ELEMENTWISE, "differentiable": False}       # comparisons, floor: no gradient
UNARY_STEPWISE = {**STEPWISE, "broadcasts": False}
REDUCTION = {**_NONE, "differentiable": True, "fresh": True, "static_args": True}
LINEAR_ALGEBRA = {**_NONE, "differentiable": True, "fresh": True, "makes_arrays": True}
VIEW = {**_NONE, "differentiable": True, "view": "always", "static_args": True}
CONSTRUCTOR = {**_NONE, "fresh": True, "makes_arrays": True, "shape_from_values": True,
               "static_args": True}
INSPECT = {**_NONE}                                        # shape, len: numbers about arrays
ADJOINT = {**_NONE, "internal": True}                      # support.py's helpers


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
    # a float, never a bool difference (NumPy refuses np.bool_ - np.bool_): the spelling emit.py
    # writes inline, so the instrumented and the plain versions agree
    if isinstance(x, np.ndarray):
        return np.sign(x)
    return 1.0 if x > 0 else -1.0 if x < 0 else 0.0


# Arithmetic: Python operators, the same spelling for floats and arrays.
_prim("add", 2, ELEMENTWISE, infix=ast.Add, py=operator.add, np=np.add, tape="add")
_prim("sub", 2, ELEMENTWISE, infix=ast.Sub, py=operator.sub, np=np.subtract, tape="subtract")
_prim("mul", 2, ELEMENTWISE, infix=ast.Mult, py=operator.mul, np=np.multiply, tape="multiply")
_prim("div", 2, ELEMENTWISE, infix=ast.Div, py=operator.truediv, np=np.true_divide,
      tape="true_divide")
_prim("pow", 2, ELEMENTWISE, infix=ast.Pow, py=operator.pow, math=math.pow, np=np.power,
      tape="power")
_prim("mod", 2, ELEMENTWISE, infix=ast.Mod, py=operator.mod, np=np.mod)
_prim("floordiv", 2, STEPWISE, infix=ast.FloorDiv, py=operator.floordiv, np=np.floor_divide)
_prim("neg", 1, UNARY_ELEMENTWISE, infix=ast.USub, py=operator.neg, np=np.negative,
      tape="negative")

# Comparisons and logic: no gradient; their results steer `select` and control flow.
for _name, _op, _fn in [("lt", ast.Lt, operator.lt), ("le", ast.LtE, operator.le),
                        ("gt", ast.Gt, operator.gt), ("ge", ast.GtE, operator.ge),
                        ("eq", ast.Eq, operator.eq), ("ne", ast.NotEq, operator.ne)]:
    _prim(_name, 2, STEPWISE, infix=_op, py=_fn, keeps_lib=False)
_prim("and", 2, STEPWISE, infix=ast.And, py=lambda a, b: a and b, np=np.logical_and,
      keeps_lib=False)
_prim("or", 2, STEPWISE, infix=ast.Or, py=lambda a, b: a or b, np=np.logical_or, keeps_lib=False)
_prim("not", 1, UNARY_STEPWISE, infix=ast.Not, py=operator.not_, np=np.logical_not,
      keeps_lib=False)
_prim("sign", 1, UNARY_STEPWISE, py=_sign, math=_sign, np=np.sign, tape="sign")
_prim("select", 3, ELEMENTWISE, py=_select, np=np.where, tape="where")

# Elementary functions, in `math` for Python floats and in NumPy for both; the tape spells them
# as NumPy does.
UNARY = {
    "sin": (math.sin, np.sin), "cos": (math.cos, np.cos), "tan": (math.tan, np.tan),
    "asin": (math.asin, np.arcsin), "acos": (math.acos, np.arccos), "atan": (math.atan, np.arctan),
    "sinh": (math.sinh, np.sinh), "cosh": (math.cosh, np.cosh), "tanh": (math.tanh, np.tanh),
    "exp": (math.exp, np.exp), "expm1": (math.expm1, np.expm1), "log": (math.log, np.log),
    "log1p": (math.log1p, np.log1p), "log2": (math.log2, np.log2), "log10": (math.log10, np.log10),
    "sqrt": (math.sqrt, np.sqrt), "abs": (math.fabs, np.abs),
}
for _name, (_m, _n) in UNARY.items():
    _prim(_name, 1, UNARY_ELEMENTWISE, math=_m, np=_n, tape=_n.__name__)
PRIMS["abs"].funcs[None] = builtins.abs
PRIMS["sqrt"].funcs[None] = math.sqrt  # unused spelling, kept so every prim evaluates with lib=None

_prim("square", 1, UNARY_ELEMENTWISE, np=np.square, tape="square")
_prim("atan2", 2, ELEMENTWISE, math=math.atan2, np=np.arctan2, tape="arctan2")
_prim("hypot", 2, ELEMENTWISE, math=math.hypot, np=np.hypot, tape="hypot")
_prim("max", 2, ELEMENTWISE, py=_py_max, np=np.maximum, tape="maximum")
_prim("min", 2, ELEMENTWISE, py=_py_min, np=np.minimum, tape="minimum")
_prim("logaddexp", 2, ELEMENTWISE, np=np.logaddexp, tape="logaddexp", keeps_lib=False)
_prim("clip", 3, ELEMENTWISE, np=np.clip, tape="clip", keeps_lib=False)

# Piecewise-constant functions: defined everywhere, derivative zero almost everywhere.
_prim("floor", 1, UNARY_STEPWISE, math=math.floor, np=np.floor)
_prim("ceil", 1, UNARY_STEPWISE, math=math.ceil, np=np.ceil)
_prim("trunc", 1, UNARY_STEPWISE, math=math.trunc, np=np.trunc)
_prim("round", 1, UNARY_STEPWISE, py=builtins.round, np=np.round)
_prim("int", 1, UNARY_STEPWISE, py=int, keeps_lib=False)
_prim("float", 1, UNARY_ELEMENTWISE, py=float, keeps_lib=False)
_prim("range_len", 3, INSPECT, py=lambda a, b, c: len(range(a, b, c)))

# Reads of the user's environment at call time, as plain Python would: a module global, a closure cell.
_prim("global", 0, INSPECT, py=None)
_prim("cell", 0, INSPECT, py=None)


# --- arrays ----------------------------------------------------------------------------------------

from . import support  # noqa: E402
from .indexing import build_index  # noqa: E402

_REDUCE = ("axis", "keepdims")
_prim("sum", 1, REDUCTION, kwargs=_REDUCE, np=np.sum, tape="sum")
_prim("mean", 1, REDUCTION, kwargs=_REDUCE, np=np.mean, tape="mean")
_prim("amax", 1, REDUCTION, kwargs=_REDUCE, np=np.max, tape="amax")
_prim("amin", 1, REDUCTION, kwargs=_REDUCE, np=np.min, tape="amin")
_prim("prod", 1, REDUCTION, kwargs=_REDUCE, np=np.prod, tape="prod")
_prim("matmul", 2, LINEAR_ALGEBRA, infix=ast.MatMult, py=operator.matmul, np=np.matmul,
      tape="matmul")
_prim("outer", 2, LINEAR_ALGEBRA, np=np.outer, tape="outer")
# Shapes: NumPy returns views of the input (a reshape may copy; NumPy decides when the code runs).
_prim("transpose", 1, VIEW, kwargs=("axes",), np=np.transpose, tape="transpose")
_prim("reshape", None, VIEW, np=lambda x, *shape: np.reshape(
    x, shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape),
    view="maybe", makes_arrays=True, shape_from_values=True, tape="reshape")
_prim("expand_dims", 1, VIEW, kwargs=("axis",), np=np.expand_dims, makes_arrays=True,
      tape="expand_dims")
_prim("squeeze", 1, VIEW, kwargs=("axis",), np=np.squeeze, tape="squeeze")
# The tape's (runtime.broadcast_to); the compiler does not lower np.broadcast_to from your code.
_prim("broadcast_to", None, VIEW, np=lambda x, *shape: np.broadcast_to(
    x, shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape),
    makes_arrays=True, shape_from_values=True, tape="broadcast_to")
_prim("getitem", None, VIEW, kwargs=("index",), view="maybe", shape_from_values=True,
      static_args=False, py=lambda x, *parts, index=None: x[build_index(index, parts)])
_prim("setitem", None, ELEMENTWISE, kwargs=("index",), elementwise=False, keeps_lib=False,
      shape_from_values=True,
      py=lambda x, v, *parts, index=None: support.setitem(x, build_index(index, parts), v))
_prim("concatenate", None, LINEAR_ALGEBRA, kwargs=("axis",), static_args=True,
      np=lambda *xs, axis=0: np.concatenate(xs, axis=axis), tape="concatenate")
_prim("stack", None, LINEAR_ALGEBRA, kwargs=("axis",), static_args=True,
      np=lambda *xs, axis=0: np.stack(xs, axis=axis), tape="stack")
# np.copy of a number is a 0-d array: an array operation, not an elementwise one
_prim("copy", 1, UNARY_ELEMENTWISE, np=np.copy, keeps_lib=False, elementwise=False, tape="clone")
_prim("astype", 1, ADJOINT, kwargs=("dtype",),
      py=lambda x, dtype=None: np.asarray(x).astype(dtype, copy=False))
# Values that carry no gradient: shapes and constructors.
_prim("shape", 1, INSPECT, py=np.shape)
_prim("len", 1, INSPECT, py=len)
_prim("ndim", 1, INSPECT, py=np.ndim)
_prim("size", 1, INSPECT, py=np.size)
_prim("zeros", None, CONSTRUCTOR, np=lambda *s: np.zeros(s))
_prim("ones", None, CONSTRUCTOR, np=lambda *s: np.ones(s))
_prim("eye", 1, CONSTRUCTOR, np=np.eye)
_prim("zeros_like", 1, CONSTRUCTOR, np=np.zeros_like, shape_from_values=False)
_prim("ones_like", 1, CONSTRUCTOR, np=np.ones_like, shape_from_values=False)
# np.full(shape, v): v reaches every entry (so it has a gradient), the shape none
_prim("full", None, CONSTRUCTOR, np=lambda value, *s: np.full(s, value), differentiable=True)
_prim("arange", None, CONSTRUCTOR, np=np.arange)
_prim("tuple", None, INSPECT, py=lambda *xs: xs)


def _list_append(items, value, position):
    return list(items) + [value]


# Lists built with append(): a value in the IR (functional), appended in place in generated code.
_prim("list_new", 0, INSPECT, unshared=True, py=lambda: [])
_prim("list_append", 3, INSPECT, differentiable=True, py=_list_append)
_prim("stack_list", 1, LINEAR_ALGEBRA, kwargs=("axis",),
      py=lambda items, axis=0: np.stack(items, axis=axis))
# Adjoint helpers (compiler/support.py): made by the reverse pass, never by the user.
_HELPERS = {"unbroadcast": (), "sum_grad": _REDUCE, "mean_grad": _REDUCE,
            "extreme_grad": _REDUCE, "prod_grad": _REDUCE, "matmul_grad_a": (),
            "matmul_grad_b": (), "index_grad": ("index",), "cleared": ("index",),
            "written_grad": ("index",), "transpose_grad": ("axes",), "reshape_grad": (),
            "concat_grad": ("axis", "index_"), "stack_grad": ("axis", "index_"), "clip_grad": (),
            "clip_lo_grad": (), "clip_hi_grad": (), "outer_grad_a": (), "outer_grad_b": (),
            "moveaxis_grad": ("axis",)}
# ... and which of them return a new array (sum_grad and mean_grad return a read-only broadcast
# view; unbroadcast may return its input, the others a reshaped or transposed view)
_FRESH_HELPERS = {"extreme_grad", "prod_grad", "matmul_grad_a", "matmul_grad_b", "index_grad",
                  "cleared", "clip_grad", "clip_lo_grad", "clip_hi_grad", "outer_grad_a",
                  "outer_grad_b"}
# ... and which have a rule of their own (rules.py): the tape records index_grad as a primitive,
# so that a gradient computed with create_graph=True can be differentiated again
_DIFFERENTIABLE_HELPERS = {"index_grad"}
for _name, _kw in _HELPERS.items():
    _prim(_name, None, ADJOINT, kwargs=_kw, py=getattr(support, _name),
          fresh=_name in _FRESH_HELPERS, differentiable=_name in _DIFFERENTIABLE_HELPERS)


def _index_add(acc, g, *parts, index=None):
    out = np.array(acc, dtype=np.result_type(acc, g), copy=True)
    np.add.at(out, build_index(index, parts), g)
    return out


def _tangent_by_rows(dot, out, *values, of=None, which=0, params=()):
    """A tangent with no closed form in the table: J x_dot assembled from the reverse rule of input
    `which`, one output entry at a time (rules.ROWS)."""
    from .rules import evaluate_formula  # noqa: PLC0415  (rules imports this module)
    params = {**dict(params), "_out": out}
    shape = np.shape(out)
    if not shape:
        return float(np.sum(evaluate_formula(of, which, values, params, 1.0) * dot))
    result = np.zeros(shape)
    for k in np.ndindex(shape):
        seed = np.zeros(shape)
        seed[k] = 1.0
        result[k] = np.sum(evaluate_formula(of, which, values, params, seed) * dot)
    return result


_prim("tangent_by_rows", None, ADJOINT, kwargs=("of", "which", "params"), py=_tangent_by_rows,
      fresh=True)

# fresh(x): a copy of an array, a number as it is (a result that would be the caller's own array)
_prim("fresh", 1, ADJOINT, py=support.fresh, fresh=True)

# float64(g): the gradient of a NumPy float64 argument is one too (NumPy scalars in, out)
_prim("float64", 1, ADJOINT, py=np.float64)

# stop_gradient(x): x's value, with no gradient through it (a view of x, as NumPy would see it)
_prim("stop_gradient", 1, {**VIEW, "differentiable": False, "static_args": False},
      py=support.stop_gradient, tape=None)  # the tape: Tensor.detach()

# Accumulation into a buffer the generated code owns (made by specialisation only).
_prim("index_add", None, ADJOINT, kwargs=("index",), py=_index_add)
_prim("iadd", 2, ADJOINT, py=operator.add)
# A zero adjoint shaped like a value: 0.0 for a number, zeros for an array (resolved by specialisation).
_prim("zero_like", 1, ADJOINT, py=lambda x: 0.0 if np.ndim(x) == 0 else np.zeros(np.shape(x)))
# Aliasing (aliasing.py): whether NumPy made a view, and a check before a write that may be shared.
_prim("shares", 2, INSPECT, np=np.may_share_memory, keeps_lib=True)
_prim("write_check", None, ADJOINT, kwargs=("_check",),
      py=lambda *values, _check=None: _check(*values))
_prim("deopt", 0, ADJOINT, py=support.deopt)  # a branch never seen when specialising (api.py)
_prim("user_vjp", None, ADJOINT, kwargs=("vjp",),
      py=lambda g, out, *args, vjp=None: vjp(g, out, *args))
PRIMS["index_grad"].funcs[None] = lambda g, x, *parts, index=None: support.index_grad(
    g, x, build_index(index, parts))
PRIMS["cleared"].funcs[None] = lambda g, *parts, index=None: support.cleared(
    g, build_index(index, parts))
PRIMS["written_grad"].funcs[None] = lambda g, *parts, index=None: support.written_grad(
    g, build_index(index, parts))
PRIMS["stack_grad"].funcs[None] = lambda g, axis=0, index_=0: support.stack_grad(g, axis, index_)
PRIMS["concat_grad"].funcs[None] = lambda g, *shapes, axis=0, index_=0: support.concat_grad(
    g, axis, index_, *shapes)


# The library (compiler/library/): one entry per function, its facts from a family named here.
FAMILIES = {"elementwise": ELEMENTWISE, "unary": UNARY_ELEMENTWISE, "stepwise": STEPWISE,
            "unary_stepwise": UNARY_STEPWISE, "reduction": REDUCTION, "linalg": LINEAR_ALGEBRA,
            # a NumPy view the aliasing analysis cannot replay a write through: a write into it, or
            # into its base while it lives, is checked when the code runs (refused if they share)
            "view": {**VIEW, "view": "opaque"},
            "constructor": CONSTRUCTOR}

from . import library  # noqa: E402

for _entry in library.ENTRIES:
    _facts = {**FAMILIES[_entry.family], "static_args": True, "tape": _entry.tape or None,
              # (an elementwise function of floats gives floats: scalar code stays scalar)
              "makes_arrays": not FAMILIES[_entry.family]["elementwise"],
              "raises": getattr(_entry.fn, "__module__", "").startswith("numpy.linalg"),
              **_entry.facts}
    if "math" in _entry.impls and _facts["elementwise"]:
        _facts["keeps_lib"] = True
    _arity = None if _entry.inputs.startswith("*") else len(_entry.inputs.split())
    _prim(_entry.name, _arity, _facts, kwargs=_entry.params + (("part",) if _entry.parts else ()),
          **_entry.impls)
    PRIMS[_entry.name].parts = _entry.parts
for _helper in library.HELPERS.values():
    _prim(_helper.name, None, ADJOINT, kwargs=_helper.kwargs, py=_helper.fn, fresh=_helper.fresh,
          differentiable=_helper.rule is not None)


class MethodCall:
    """A method with no rule called on a value (rng.normal(size=3), labels.argmax()): the callable
    of a `call` equation whose first argument is the receiver."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __call__(self, receiver, *args, **kwargs):
        return getattr(receiver, self.name)(*args, **kwargs)

    def __repr__(self):
        return f".{self.name}()"


def _call(*values, fn=None, layout=None, zero_gradient=False):
    args, kwargs = rebuild_arguments(layout, values)
    return fn(*args, **kwargs)


def rebuild_arguments(layout, values):
    """The positional and keyword arguments of an opaque call from its layout (what each argument
    is: ("in", k) the k-th input, ("const", v) a constant, ("tuple", [...]) a tuple of those)."""
    def one(item):
        kind, value = item
        if kind == "in":
            return values[value]
        if kind == "const":
            return value
        return tuple(one(i) for i in value)

    positional, keywords = layout
    return [one(i) for i in positional], {k: one(i) for k, i in keywords}


# A call of any callable with no rule (a SciPy function, the user's class, a C extension), evaluated
# as written: its result is a constant for the gradient, so no argument may carry one (reverse.py
# refuses the call where one does), unless it is piecewise constant (np.argmax: `zero_gradient`).
# Never merged with another call nor folded when the code is built: it may not be pure (np.random).
_prim("call", None, _NONE, kwargs=("fn", "layout", "zero_gradient"), py=_call, unshared=True,
      makes_arrays=True, shape_from_values=True, view="opaque", raises=True)


def user_primitive(name, fn):
    """A function the user registered with a rule (compiler.register): called as it is."""
    _prim(name, None, ADJOINT, py=fn)
    return PRIMS[name]


def having(fact, value=True):
    """The names of the primitives whose `fact` is `value`: every list the passes use."""
    return frozenset(name for name, p in PRIMS.items() if getattr(p, fact) == value)


# NumPy functions that exist as methods of arrays: x.sum(axis=0) is np.sum(x, axis=0).
METHODS = {"sum": "sum", "mean": "mean", "max": "amax", "min": "amin", "prod": "prod",
           "reshape": "reshape", "transpose": "transpose", "dot": "matmul", "copy": "copy",
           "squeeze": "squeeze", "clip": "clip",
           **{e.method: e.name for e in library.ENTRIES if e.method}}


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
    add(support.stop_gradient, "stop_gradient", None)
    for entry in library.ENTRIES:
        for lib, fn in entry.impls.items():
            add(fn, entry.name, lib)
        for fn in entry.also:
            add(fn, entry.name, "np")
    return table


# Python callables the frontend maps onto primitives (by identity, never by spelling).
RESOLVE = _resolve_table()

# Builtins that take any number of arguments and fold onto a binary primitive.
VARIADIC = {builtins.max: "max", builtins.min: "min"}

# Numeric constants a user may read from a module (folded into the graph as literals).
MODULE_CONSTANTS = {id(math), id(np)}

def numpy_path(fn):
    """How generated code reaches a NumPy function from `np` ("argmax", "linalg.det",
    "random.seed"), or None when it is not NumPy's."""
    name = getattr(fn, "__name__", None)
    if not name:
        return None
    for module in ("", "linalg", "random", "fft"):
        if getattr(getattr(np, module) if module else np, name, None) is fn:
            return f"{module}.{name}" if module else name
    return None


def callee(prim, lib):
    """(module-or-None, attribute name, object) a generated call to this primitive uses."""
    if lib == "np":
        attr = PRIMS[prim].np_name
        fn = PRIMS[prim].funcs.get("np")
        if getattr(np, attr, None) is not fn and fn is not None:
            path = numpy_path(fn)
            if path is not None:  # spelled np.linalg.det
                return ("np", path, fn)
            return (None, getattr(fn, "__name__", ""), fn)  # SciPy's: bound by name
        return ("np", attr, getattr(np, attr))
    if lib == "math":
        return (None, prim if prim != "abs" else "fabs", PRIMS[prim].impl("math"))
    return (None, prim, PRIMS[prim].impl(None))
