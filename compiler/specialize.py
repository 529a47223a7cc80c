"""Specialising one gradient graph to the argument types of a call, like a jit cache.

The gradient graph is type-agnostic: broadcasting inputs get their contribution through an
`unbroadcast` equation, and operators say nothing about floats or arrays. For a call signature
(which arguments are floats, which are arrays of which shape and dtype) we learn the kind of every
value, then:
- `unbroadcast(g, x)` disappears where g and x have the same shape, and becomes one static
  `np.sum(g, axis=...)` where the shapes are known and differ (no runtime shape test);
- operators and elementary functions on Python floats are spelled with `math`, on arrays with NumPy.

Kinds come from the graph alone when it has no array in it (scalar code: every value is a float).
Otherwise the generic code is run once on the call's own arguments with every value recorded (an
"instrumented" run); a value seen with two different shapes (a loop-carried accumulator that grows
from a float to an array, say) stays "dynamic" and keeps the runtime helpers.
"""
from __future__ import annotations

import numpy as np

from .buildlog import stage
from .ir import (Builder, Const, Eqn, Graph, ReverseLoop, Var, loop_view, regions,
                 rename_var_params, use_counts)
from .passes import simplify
from .primitives import PRIMS, having

# Primitives that can turn scalars into arrays: with any of them, kinds need an instrumented run.
ARRAY_MAKERS = having("makes_arrays")
# Primitives whose output shape depends on the values of integer inputs (not only their types).
SHAPE_FROM_VALUES = having("shape_from_values")
# New arrays: a gradient made by one of these is the user's own already (no copy needed).
FRESH = having("fresh")
# Elementwise functions: on a scalar standing for an array of equal entries, the same scalar.
_ELEMENTWISE = having("elementwise") & having("differentiable")


def all_eqns(graph):
    for eqn in graph.eqns:
        yield eqn
        for sub in regions(eqn):
            yield from all_eqns(sub)


def needs_values(graph):
    """Whether integer arguments must be part of the cache key (they may decide shapes)."""
    return any(e.prim in SHAPE_FROM_VALUES for e in all_eqns(graph))


def statically_scalar(graph):
    return not any(e.prim in ARRAY_MAKERS for e in all_eqns(graph))


def kind_of(value):
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return ("array", value.shape)
    if isinstance(value, (bool, int, float, np.number, np.ndarray)):
        return ("scalar", ())
    return ("other", None)


class Recorder:
    """Collects the kind of each value an instrumented run assigns."""

    def __init__(self, variables):
        self.variables = variables
        self.seen = {}
        self.dtypes = {}
        self.ndarrays = set()  # values seen as NumPy arrays (0-d ones too)
        self.truth = {}        # bool value -> the truths it was seen with (branch tests)

    def __call__(self, index, value):
        var = self.variables[index]
        kind = kind_of(value)
        if isinstance(value, np.ndarray):
            self.ndarrays.add(var)
        elif isinstance(value, (bool, np.bool_)):
            self.truth.setdefault(var, set()).add(bool(value))
        if isinstance(value, np.ndarray):
            dtype = value.dtype
            if self.dtypes.setdefault(var, dtype) is None or self.dtypes[var] != dtype:
                self.dtypes[var] = None
        old = self.seen.get(var)
        if old is None:
            self.seen[var] = kind
        elif old != kind:
            self.seen[var] = ("dynamic", None)
        return value

    def kinds(self, params, args):
        out = {}
        for p, a in zip(params, args):
            self.seen.setdefault(p, kind_of(a))
            if isinstance(a, np.ndarray):
                self.ndarrays.add(p)
            if isinstance(a, np.ndarray):
                self.dtypes.setdefault(p, a.dtype)
        for var, (kind, shape) in self.seen.items():
            out[var] = kind if kind in ("array", "scalar") else "dynamic"
        shapes = {var: shape for var, (kind, shape) in self.seen.items() if kind in ("array", "scalar")}
        return out, shapes


def specialize(graph, kinds, shapes, default="dynamic", ndarrays=None, truth=None,
               simplify=simplify):
    """The graph with `unbroadcast` resolved wherever the shapes are known. `ndarrays`: the
    values an instrumented run saw as NumPy arrays (None: no value is one, as in scalar code);
    aliasing checks on values that are never arrays are dropped."""
    def never_array(a):
        if isinstance(a, Const):
            return True
        if ndarrays is None:
            return default == "scalar"
        return a in kinds and a not in ndarrays

    def kind(a):
        if isinstance(a, Const):
            return "scalar"
        return kinds.get(a, default)

    def shape(a):
        if isinstance(a, Const):
            return ()
        if kind(a) == "scalar":
            return ()
        return shapes.get(a)

    made = {v: e for e in all_eqns(graph) for v in e.outs}

    def view_decided(value, base):
        """Whether NumPy's view-or-copy choice for `value` (taken from `base` by indexing,
        slicing, transposing) is known from kinds alone: integers and slices index an array
        into a view when the result is an array, into a number when every axis was taken."""
        v = value
        while v is not base:
            eqn = made.get(v)
            if eqn is None or eqn.prim not in ("getitem", "transpose", "squeeze", "expand_dims"):
                return None
            if eqn.prim == "getitem" and any(isinstance(a, Var) and kind(a) != "scalar" or
                                             isinstance(a, Const) and isinstance(a.value, list)
                                             for a in eqn.ins[1:]):
                return None  # an index array copies or not by its dtype: left to run
            v = eqn.ins[0]
        if kind(base) != "array" or kind(value) == "dynamic":
            return None
        return kind(value) == "array"

    def walk(g, subst):
        b = Builder(simplify=simplify)
        for eqn in g.eqns:
            ins = tuple(subst.get(a, a) if isinstance(a, Var) else a for a in eqn.ins)
            if eqn.prim == "cond" and truth is not None and eqn.ins[0] in truth:
                eqn = _unseen_branches_deopt(eqn, truth[eqn.ins[0]])
            if regions(eqn):
                params = {k: walk(v, subst) if isinstance(v, Graph) else v
                          for k, v in eqn.params.items()}
                params = rename_var_params(params, outer=lambda v: subst.get(v, v))
                b.eqns.append(Eqn(eqn.prim, ins, eqn.outs, params, eqn.loc))
                continue
            if eqn.prim == "zero_like":
                xs = shape(ins[0])
                if kind(ins[0]) == "scalar":
                    subst[eqn.out] = Const(0.0)
                    continue
                if xs is not None:
                    b.loc = eqn.loc
                    z = b.emit("zeros", [Const(n) for n in xs], lib="np", hint=eqn.out.hint,
                           _owned=True)
                    kinds[z], shapes[z] = "array", xs
                    subst[eqn.out] = z
                    continue
            if eqn.prim == "unbroadcast":
                gval, x = ins
                gs, xs = shape(gval), shape(x)
                if gs is not None and xs is not None:
                    if gs == xs:
                        subst[eqn.out] = gval
                        if isinstance(gval, Var) and not gval.hint and eqn.out.hint \
                                and not _hint_reaches(eqn.out.hint, gval):
                            gval.hint = eqn.out.hint  # keep the adjoint's name (dx)
                        continue
                    b.loc = eqn.loc
                    lead = len(gs) - len(xs)
                    if lead < 0 or any(g_ < x_ for g_, x_ in zip(gs[lead:], xs)):
                        # g is smaller than x (a zero or a value that never met x's shape):
                        # spread it over x's shape
                        out = b.emit("sum_grad", [gval, x])
                        kinds[out], shapes[out] = "array", xs
                        subst[eqn.out] = out
                        continue
                    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(xs)
                                                      if n == 1 and gs[i + lead] != 1)
                    if lead and len(axes) > lead:
                        summed = b.emit("sum", [gval], lib="np", axis=axes, keepdims=True)
                        out = b.emit("reshape", [summed] + [Const(n) for n in xs])
                    elif lead and xs:
                        out = b.emit("sum", [gval], lib="np", axis=axes)
                    elif lead:
                        out = b.emit("sum", [gval], lib="np")
                    else:
                        out = b.emit("sum", [gval], lib="np", axis=axes, keepdims=True)
                    if isinstance(out, Var):
                        kinds[out] = "array" if xs else "scalar"
                        shapes[out] = xs
                        out.hint = eqn.out.hint
                    subst[eqn.out] = out
                    continue
            if eqn.prim == "shares":
                a, c = ins
                if never_array(a) or never_array(c):
                    subst[eqn.out] = Const(False)
                    continue
                if a is c and kind(a) == "array":
                    subst[eqn.out] = Const(True)
                    continue
                decided = view_decided(eqn.ins[0], eqn.ins[1])
                if decided is not None:
                    subst[eqn.out] = Const(decided)
                    continue
            if eqn.prim == "write_check":
                check = eqn.params["_check"]
                kept = [(n, v) for n, v in zip(check.others, ins[1:]) if not never_array(v)]
                if never_array(ins[0]) or not kept:
                    continue
                if len(kept) < len(check.others):
                    check = type(check)(check.location, check.target, [n for n, _ in kept],
                                        check.reason, check.arguments)
                b.eqns.append(Eqn(eqn.prim, [ins[0]] + [v for _, v in kept], (),
                                  {**eqn.params, "_check": check}, eqn.loc))
                continue
            if eqn.prim in ("matmul_grad_a", "matmul_grad_b"):
                out = _matmul_adjoint(b, eqn, ins, shape)
                if out is not None:
                    subst[eqn.out] = out
                    continue
            b.eqns.append(Eqn(eqn.prim, ins, eqn.outs, eqn.params, eqn.loc))
        results = [subst.get(a, a) if isinstance(a, Var) else a for a in g.results]
        return Graph(g.name, g.params, b.eqns, results)

    return walk(graph, {})


def _unseen_branches_deopt(eqn, seen):
    """A branch the instrumented run never took, in a version specialised on the other one:
    its kinds and shapes are unknown, so reaching it leaves the version (support.deopt)."""
    params = dict(eqn.params)
    for key, truth in (("then", True), ("else", False)):
        if truth not in seen:
            region = params[key]
            params[key] = Graph(region.name, region.params,
                                [Eqn("deopt", (), (), {"_effect": True}, eqn.loc)],
                                [Const(0.0)] * len(region.results))
    return Eqn(eqn.prim, eqn.ins, eqn.outs, params, eqn.loc)


def _hint_reaches(hint, var):
    seen = set()
    while isinstance(hint, Var) and hint not in seen:
        if hint is var:
            return True
        seen.add(hint)
        hint = hint.hint
    return False


def _matmul_adjoint(b, eqn, ins, shape):
    """The adjoint of `a @ b` spelled with `@` and `.T` when both operands are 1-D or 2-D."""
    g, x, y = ins
    xs, ys = shape(x), shape(y)
    if xs is None or ys is None or not (1 <= len(xs) <= 2 and 1 <= len(ys) <= 2):
        return None
    b.loc = eqn.loc
    if eqn.prim == "matmul_grad_a":
        if len(ys) == 1:
            return b.emit("outer", [g, y], hint=eqn.out.hint) if len(xs) == 2 else \
                b.emit("mul", [g, y], hint=eqn.out.hint)
        if len(xs) == 1:
            return b.emit("matmul", [y, g], hint=eqn.out.hint)
        return b.emit("matmul", [g, b.emit("transpose", [y])], hint=eqn.out.hint)
    if len(xs) == 1:
        return b.emit("outer", [x, g], hint=eqn.out.hint) if len(ys) == 2 else \
            b.emit("mul", [g, x], hint=eqn.out.hint)
    return b.emit("matmul", [b.emit("transpose", [x]), g], hint=eqn.out.hint)


VIEWS = {"sum_grad", "mean_grad"}  # adjoints returned as read-only broadcast views (no copy)


def materialize_results(graph):
    """A gradient the user receives is an array of its own, never a broadcast view."""
    defined = {v: e for e in graph.eqns for v in e.outs}
    b = Builder(list(graph.eqns), simplify=simplify)
    results = []
    for r in graph.results:
        if isinstance(r, Var) and r in defined and defined[r].prim in VIEWS:
            r = b.emit("copy", [r], hint=r.hint)
        results.append(r)
    return Graph(graph.name, graph.params, b.eqns, results)


def environment(graph):
    """Getters for the globals and closure values a graph reads (their kinds are part of a
    version's signature: a global array may change shape between calls)."""
    getters, seen = [], set()
    for eqn in all_eqns(graph):
        if eqn.prim == "global":
            ns, name = eqn.params["_ns"], eqn.params["name"]
            key = (id(ns), name)
            getter = (lambda ns=ns, name=name: ns.get(name))
        elif eqn.prim == "cell":
            cell = eqn.params["_cell"]
            key = id(cell)
            getter = (lambda cell=cell: cell.cell_contents)
        else:
            continue
        if key not in seen:
            seen.add(key)
            getters.append(getter)
    return getters


def signature_key(values, by_value):
    """The cache key of a call: per argument, its type, and for arrays shape and dtype."""
    key = []
    for v in values:  # the arguments, then the globals and closure values read
        t = type(v)
        if t is np.float64:  # its own versions: NumPy's arithmetic, NumPy scalars out
            key.append("n")
        elif t is float or isinstance(v, np.floating):
            key.append("f")
        elif t is int or t is bool or isinstance(v, (np.integer, np.bool_)):
            key.append(("i", int(v)) if by_value else "i")
        elif isinstance(v, np.ndarray):
            key.append(("a", v.shape, v.dtype.str))
        else:
            key.append(t)
    return tuple(key)


def scalar_seeds(graph, kinds, shapes):
    """Keep the adjoint of a full sum a scalar for as long as it can stay one.

    `np.sum(expr)` hands its adjoint g to every entry of expr: an array full of g. Until that
    array meets an array operand of the same shape, the scalar g itself computes the same thing,
    and `1.0 * t` folds away to `t`. A value kept scalar this way is "lazy" (it stands for an array
    of a known shape); it is made a real array only where something needs one."""
    lazy = {}    # original var -> (shape, the x whose shape it has)
    subst = {}
    b = Builder(simplify=simplify)
    from .passes import rebuild_region_eqn  # noqa: PLC0415

    def look(a):
        return subst.get(a, a) if isinstance(a, Var) else a

    def materialize(a):
        shape, like = lazy.pop(a)
        view = b.emit("sum_grad", [look(a), like], hint=a.hint)
        kinds[view], shapes[view] = "array", shape
        subst[a] = view
        return view

    def put(eqn, ins):
        found = simplify(eqn.prim, tuple(ins), eqn.params)
        if isinstance(found, tuple):
            b.eqns.append(Eqn(found[0], found[1], eqn.outs, {}, eqn.loc))
        elif found is not None:
            subst[eqn.out] = found
        else:
            b.eqns.append(Eqn(eqn.prim, tuple(ins), eqn.outs, eqn.params, eqn.loc))

    def shape_of(a):
        if isinstance(a, Const) or kinds.get(a) == "scalar":
            return ()
        return shapes.get(a) if kinds.get(a) == "array" else None

    for eqn in graph.eqns:
        b.loc = eqn.loc
        if eqn.prim in ("sum_grad", "mean_grad") and eqn.params.get("axis") is None and \
                not eqn.params.get("keepdims") and shape_of(eqn.ins[0]) == () and \
                shape_of(eqn.ins[1]) not in (None, ()):
            shape = shape_of(eqn.ins[1])
            lazy[eqn.out] = (shape, look(eqn.ins[1]))
            value = look(eqn.ins[0])
            if eqn.prim == "mean_grad":  # the mean's adjoint: g / size in every entry
                value = b.emit("div", [value, Const(float(np.prod(shape)))])
                kinds[value] = "scalar"
            subst[eqn.out] = value
            continue
        lazy_ins = [a for a in eqn.ins if a in lazy]
        if not lazy_ins:
            if regions(eqn):
                free = set()
                for sub in regions(eqn):
                    from .ir import free_vars
                    free.update(free_vars(sub))
                for v in free:
                    if v in lazy:
                        materialize(v)
                b.eqns.append(rebuild_region_eqn(eqn, tuple(look(a) for a in eqn.ins), subst))
            else:
                put(eqn, [look(a) for a in eqn.ins])
            continue
        target = lazy[lazy_ins[0]][0]
        if eqn.prim in _ELEMENTWISE and PRIMS[eqn.prim].arity == 1 and len(eqn.outs) == 1:
            lazy[eqn.out] = lazy[eqn.ins[0]]
            kinds[eqn.out] = "scalar"
            put(eqn, [look(a) for a in eqn.ins])
            continue
        if eqn.prim in _ELEMENTWISE and PRIMS[eqn.prim].arity == 2 and shape_of(eqn.out) in (target, None) and all(
                a in lazy or shape_of(a) in (target, ()) for a in eqn.ins):
            if all(a in lazy or shape_of(a) == () for a in eqn.ins):
                lazy[eqn.out] = lazy[lazy_ins[0]]   # still a scalar standing for the array
                kinds[eqn.out] = "scalar"
            put(eqn, [look(a) for a in eqn.ins])
            continue
        if eqn.prim == "unbroadcast" and shape_of(eqn.ins[1]) == () and eqn.ins[0] in lazy:
            size = 1
            for n in lazy[eqn.ins[0]][0]:
                size *= n
            out = b.emit("mul", [look(eqn.ins[0]), Const(float(size))])
            subst[eqn.out] = out
            kinds[out] = "scalar"
            continue
        for a in lazy_ins:
            if a in lazy:
                materialize(a)
        put(eqn, [look(a) for a in eqn.ins])
    results = []
    for r in graph.results:
        if r in lazy:
            view = materialize(r)
            r = b.emit("copy", [view], hint=r.hint)
            kinds[r], shapes[r] = "array", shapes[view]
        results.append(look(r))
    return Graph(graph.name, graph.params, b.eqns, results)


# Primitives whose result is a new array (never a view of an input, never an input itself).
def _dtype_of(var, dtypes, defined, kinds, floats, depth=0):
    """The dtype of an array value: recorded, or worked out from its inputs by NumPy's promotion
    (Python floats are weak, as in NumPy 2); None when unknown."""
    if isinstance(var, Const):
        return None
    known = dtypes.get(var)
    if known is not None or depth > 50:
        return known
    eqn = defined.get(var)
    if eqn is None or regions(eqn) or eqn.prim not in FRESH and eqn.prim not in (
            "sum_grad", "mean_grad", "copy", "transpose", "reshape", "getitem", "unbroadcast"):
        return None
    # a broadcast adjoint has the dtype of g, not of the array it takes its shape from
    ins = eqn.ins[:1] if eqn.prim in ("sum_grad", "mean_grad", "unbroadcast") else eqn.ins
    found = []
    for a in ins:
        if isinstance(a, Const) or kinds.get(a) == "scalar":
            if isinstance(a, Const) and isinstance(a.value, float) or a in floats:
                continue  # a Python float: weak, it does not change an array's dtype
            return None  # an int or bool may decide the dtype
        d = _dtype_of(a, dtypes, defined, kinds, floats, depth + 1)
        if d is None:
            return None
        found.append(d)
    if not found:
        return None
    result = np.result_type(*found)
    if eqn.prim in ("div", "sqrt", "exp", "log", "sin", "cos", "tanh", "mean_grad"):
        result = np.result_type(result, np.float16)  # true division and ufuncs give floats
    return result


def finalize_gradients(graph, kinds, shapes, dtypes, gradient_of, fresh=()):
    """Each array gradient the user receives: its own new array (never an input, a view or another
    gradient), zeros of the input's shape when nothing reached it, in the input's dtype."""
    defined = {}
    for e in graph.eqns:
        for v in e.outs:
            defined[v] = e
    b = Builder(list(graph.eqns), simplify=simplify)
    results = list(graph.results)
    handed_out = set()
    floats = {p for p in graph.params if kinds.get(p) == "scalar" and
              str(dtypes.get(p, "")) in ("", "float64")} & {p for _, p in gradient_of}
    _float_values(graph.eqns, floats)
    for index, param in gradient_of:
        if kinds.get(param) != "array":
            continue
        r = results[index]
        if isinstance(r, Const):
            r = b.emit("zeros_like", [param], lib="np", hint=param)
        else:
            producer = defined.get(r)
            if r not in fresh and (producer is None or producer.prim not in FRESH or
                                   len(producer.outs) != 1) or r in handed_out:
                r = b.emit("copy", [r], hint=r.hint)
            want, have = dtypes.get(param), _dtype_of(results[index], dtypes, defined, kinds,
                                                      floats)
            # (`dtype == None` is true in NumPy: None means float64 there, so test for it first)
            if want is not None and (have is None or want != have):  # astype(copy=False) is free
                r = b.emit("astype", [r], dtype=str(want), hint=r.hint)
        kinds[r] = "array"
        shapes[r] = shapes.get(param)
        dtypes[r] = dtypes.get(param)
        handed_out.add(r)
        results[index] = r
    return Graph(graph.name, graph.params, b.eqns, results)


_ARITHMETIC = {"add", "sub", "mul", "pow", "mod", "neg", "max", "min", "abs", "floordiv"}
_NOT_FLOAT = {"global", "cell", "int", "round", "floor", "ceil", "trunc", "len", "shape", "getitem",
              "sign", "range_len", "lt", "le", "gt", "ge", "eq", "ne", "not", "and", "or",
              "list_new", "list_append", "tuple"}


def _is_float(a, floats):
    return isinstance(a, Const) and isinstance(a.value, float) or a in floats


def _float_values(eqns, floats):
    """Add to `floats` the values sure to be Python floats (a loop-carried value is one when it
    starts as one and each iteration keeps it one)."""
    for eqn in eqns:
        prim, ins = eqn.prim, eqn.ins
        if prim == "cond":
            then, other = eqn.params["then"], eqn.params["else"]
            _float_values(then.eqns, floats)
            _float_values(other.eqns, floats)
            for out, a, b in zip(eqn.outs, then.results, other.results):
                if _is_float(a, floats) and _is_float(b, floats):
                    floats.add(out)
            continue
        if prim in ("for", "while", "loop_reverse"):
            loop = loop_view(eqn)
            body = loop.body
            params, inits, results = loop.carried, loop.inits, loop.next
            trial = set(floats) | {p for p, i in zip(params, inits) if _is_float(i, floats)}
            if "test" in eqn.params:
                _float_values(eqn.params["test"].eqns, trial)
            _float_values(body.eqns, trial)
            steady = {p for p, r in zip(params, results) if p in trial and _is_float(r, trial)}
            if steady == {p for p in params if p in trial}:
                floats.update(trial)  # the assumption held: every iteration keeps them floats
                floats.update(o for o, p in zip(eqn.outs, params) if p in steady)
            continue
        known = [_is_float(a, floats) for a in ins]
        if prim in _ARITHMETIC:
            is_float = any(known)
        elif prim == "select":
            is_float = known[1] and known[2]
        elif prim in _NOT_FLOAT:
            is_float = False
        else:  # division and the functions of math: always float
            is_float = True
        if is_float:
            floats.update(eqn.outs)


# Operators whose Python spelling on a NumPy scalar is NumPy's own arithmetic (the same IEEE
# operation, the same inf and nan with the same warnings, a NumPy scalar out).
NUMPY_OPERATORS = {"add", "sub", "mul", "div", "neg", "iadd"}


def _ufunc(eqn):
    return eqn.params.get("lib") == "np" and isinstance(PRIMS[eqn.prim].funcs.get("np"), np.ufunc)


def numpy_scalars(graph, found=None):
    """The values sure to be NumPy scalars, whatever the arguments' types: a ufunc's result
    (`np.sin(x)` is a NumPy scalar even for a Python float x), and `+ - *` or `/` with one of
    them. Where NumPy's arithmetic is wanted on such a value (`np.multiply(c, c)` in the rule of
    `np.tanh`), the operator `c * c` gives it at a tenth of the cost of the ufunc call."""
    found = set() if found is None else found
    for eqn in graph.eqns:
        if eqn.prim == "cond":
            then, other = eqn.params["then"], eqn.params["else"]
            numpy_scalars(then, found)
            numpy_scalars(other, found)
            found.update(out for out, a, b in zip(eqn.outs, then.results, other.results)
                         if a in found and b in found)
            continue
        loop = loop_view(eqn)
        if loop is not None:
            # assume the carried values that start as NumPy scalars stay so, then check it
            trial = set(found) | {p for p, i in zip(loop.carried, loop.inits) if i in found}
            for sub in regions(eqn):
                numpy_scalars(sub, trial)
            assumed = {p for p in loop.carried if p in trial}
            if all(r in trial for p, r in zip(loop.carried, loop.next) if p in assumed):
                found.update(trial)
                found.update(o for o, p in zip(eqn.outs, loop.carried) if p in assumed)
            else:  # the assumption failed: only what holds without it
                for sub in regions(eqn):
                    numpy_scalars(sub, found)
            continue
        if len(eqn.outs) != 1:
            continue
        if _ufunc(eqn) or eqn.prim in NUMPY_OPERATORS and any(a in found for a in eqn.ins):
            found.add(eqn.out)
    return found


def float_gradients(graph, gradient_of, float_params, numpy_params=()):
    """Scalar code: a gradient of a float argument is a float, as `1.0 * n` would be in Python
    (the optimiser folds `1.0 * n` to `n`, which may be an int or a bool), and the gradient of
    a NumPy float64 is a NumPy float64."""
    floats = set(float_params)
    _float_values(graph.eqns, floats)
    numpy = numpy_scalars(graph, set(numpy_params))
    b = Builder(list(graph.eqns), simplify=simplify)
    results = list(graph.results)
    for index, param in gradient_of:
        r = results[index]
        if isinstance(r, Const) and not isinstance(r.value, float):
            r = Const(float(r.value))
        elif isinstance(r, Var) and r not in floats:
            r = b.emit("float", [r], hint=r.hint)
        if param in numpy_params and r not in numpy:  # np.float64 in, np.float64 out
            r = Builder(b.eqns).emit("float64", [r], hint=r.hint if isinstance(r, Var) else "")
            # (not folded: a folded constant is a Python float)
        results[index] = r
    return Graph(graph.name, graph.params, b.eqns, results)


def _defined(graph, out):
    out.update(graph.params)
    for eqn in graph.eqns:
        out.update(eqn.outs)
        for region in regions(eqn):
            _defined(region, out)
    return out


def accumulate_in_place(graph, kinds, shapes, fresh=None, defined=None):
    """Reverse loops accumulate the gradient of an array they read into one buffer: it starts as
    zeros of the array's shape, each iteration adds into it (`dX[k] += g`, `dW += t`), instead of
    a new array per iteration. The loop's outputs for those buffers are added to `fresh`."""
    fresh = set() if fresh is None else fresh
    defined = _defined(graph, set()) if defined is None else defined
    b = Builder(simplify=simplify)
    for eqn in graph.eqns:
        params = eqn.params
        if regions(eqn):
            params = {k: accumulate_in_place(v, kinds, shapes, fresh, defined)
                      if isinstance(v, Graph) else v for k, v in params.items()}
        ins = list(eqn.ins)
        if eqn.prim == "loop_reverse" and params.get("accumulates"):
            # the closed-over adjoints are the last carried values (see reverse.Backprop.loop)
            targets = params["accumulates"]
            body = params["body"]
            n = len(targets)
            acc_params = ReverseLoop(eqn).carried[-n:]
            owned = set()
            for j, v in enumerate(targets):
                init = ins[len(ins) - n + j]
                if kinds.get(v) == "array" and isinstance(init, Const) and init.value == 0.0 and (
                        v in defined or shapes.get(v) is not None):
                    b.loc = eqn.loc
                    # zeros like the array; of its shape where the array itself is gone (only a
                    # branch never taken computed it: that branch became a deopt)
                    zeros = b.emit("zeros_like", [v], lib="np") if v in defined else \
                        b.emit("zeros", [Const(int(d)) for d in shapes[v]], lib="np")
                    kinds[zeros], shapes[zeros] = "array", shapes.get(v)
                    ins[len(ins) - n + j] = zeros
                    p = acc_params[j]
                    kinds[p], shapes[p] = "array", shapes.get(v)
                    owned.add(p)
                    fresh.add(eqn.outs[len(eqn.outs) - n + j])
            if owned:
                params = {**params, "body": _accumulate_body(body, owned, kinds, shapes),
                          "buffers": tuple(v for v in ins[len(ins) - n:] if isinstance(v, Var))}
        b.eqns.append(Eqn(eqn.prim, ins, eqn.outs, params, eqn.loc))
    return Graph(graph.name, graph.params, b.eqns, graph.results)


def index_grads_from_shapes(graph, kinds, shapes, dtypes):
    """`index_grad(g, x, ...)` with x's shape known: zeros of that shape with g added at the
    index. x itself is then no longer read, so a loop that writes into an array need not tape
    every version of it (prune_saves drops them)."""
    b = Builder(simplify=simplify)
    for eqn in graph.eqns:
        if regions(eqn):
            params = {k: index_grads_from_shapes(v, kinds, shapes, dtypes)
                      if isinstance(v, Graph) else v
                      for k, v in eqn.params.items()}
            b.eqns.append(Eqn(eqn.prim, eqn.ins, eqn.outs, params, eqn.loc))
            continue
        x = eqn.ins[1] if eqn.prim == "index_grad" else None
        if isinstance(x, Var) and kinds.get(x) == "array" and shapes.get(x) is not None \
                and dtypes.get(eqn.out) == np.float64:
            b.loc = eqn.loc
            xs = shapes[x]
            z = b.emit("zeros", [Const(n) for n in xs], lib="np", hint=eqn.out.hint, _owned=True)
            b.eqns.append(Eqn("index_add", (z, eqn.ins[0], *eqn.ins[2:]), eqn.outs,
                              {"index": eqn.params["index"]}, eqn.loc))
            kinds[z] = kinds[eqn.out] = "array"
            shapes[z] = shapes[eqn.out] = xs
            continue
        b.eqns.append(eqn)
    return Graph(graph.name, graph.params, b.eqns, graph.results)


def _accumulate_body(body, owned, kinds, shapes):
    uses = use_counts(body)
    made = {e.out: e for e in body.eqns if len(e.outs) == 1}
    drop = set()
    eqns = []
    for e in body.eqns:
        if e.prim == "add" and any(a in owned for a in e.ins):
            acc = e.ins[0] if e.ins[0] in owned else e.ins[1]
            other = e.ins[1] if acc is e.ins[0] else e.ins[0]
            src = made.get(other)
            if src is not None and src.prim == "index_grad" and uses.get(other) == 1:
                drop.add(src)
                new = Eqn("index_add", (acc, src.ins[0]) + tuple(src.ins[2:]), e.outs,
                          {"index": src.params["index"]}, e.loc)
            else:
                new = Eqn("iadd", (acc, other), e.outs, {}, e.loc)
            kinds[e.out], shapes[e.out] = "array", shapes.get(acc)
            eqns.append(new)
            continue
        eqns.append(e)
    eqns = [e for e in eqns if e not in drop]
    return Graph(body.name, body.params, eqns, body.results)


@stage("specialise")
def specialise_gradient(grad_graph, gradient_of, kinds=None, shapes=None, dtypes=None,
                        ndarrays=None, simplify=None, truth=None, numpy_params=()):
    """The gradient graph made into one version, by the one pipeline both paths share: scalar
    code (no kinds: every value a float) and a call signature's version (kinds, shapes and
    dtypes from an instrumented run). Each step is a no-op where it has nothing to do.

    specialize (kinds and shapes resolve unbroadcast, zeros, aliasing checks) -> scalar seeds ->
    optimize -> prune saved values -> [SymPy] -> accumulate in place -> index adjoints of known
    shape -> each gradient the user's own array in its dtype -> float gradients of floats."""
    from .passes import optimize, prune_saves  # noqa: PLC0415  (passes imports this module)
    scalar_code = kinds is None
    kinds = {} if kinds is None else kinds
    shapes = {} if shapes is None else shapes
    dtypes = {} if dtypes is None else dtypes
    default = "scalar" if scalar_code else "dynamic"
    graph = specialize(grad_graph, kinds, shapes, default=default, ndarrays=ndarrays, truth=truth)
    graph = prune_saves(optimize(scalar_seeds(graph, kinds, shapes)))
    if simplify is not None:
        graph = optimize(simplify(graph))
    buffers = set()
    graph = accumulate_in_place(graph, kinds, shapes, buffers)
    graph = prune_saves(index_grads_from_shapes(graph, kinds, shapes, dtypes))
    graph = finalize_gradients(graph, kinds, shapes, dtypes, gradient_of, buffers)
    floats = [(i, p) for i, p in gradient_of if scalar_code or kinds.get(p) == "scalar"]
    return float_gradients(graph, floats, [p for _, p in floats], numpy_params)

