"""The tape's primitives: forward kernels (kernels.py) and backward functions generated from the derivative
table of compiler/rules.py, the one table both designs use (PyTorch generates its autograd nodes from
derivatives.yaml the same way).

For each primitive the tape records, this module reads the table's entry (the inputs' names, one formula
per input in terms of `g`, the inputs and `out`) and, when runtime is imported, writes Python source for

  - one rule function per input, `rule(g, <the values its formula reads>)` (`rule(g, i, ...)` for the
    arrays of a join), which the generic node `apply` calls, and
  - for elementwise primitives of one or two inputs (the scalar hot path), the node's whole `apply`, with
    the formulas inlined,

and compiles it once (`SOURCE` holds the text; tracebacks show its lines). The names a formula calls are
the tape's functions: a primitive's is named by its `tape` fact in compiler/primitives.py (`select` is
`runtime.where`, `cos` is `runtime.cos`), a helper's is the tape implementation below, with the meaning of
compiler/support.py's (`sum_grad`, `extreme_grad`, ...). Those take plain floats and arrays, and Tensors:
under create_graph=True the engine hands rules Tensors, so the backward pass is itself recorded and can be
differentiated again.

What the tape adds to a table entry (the list at the end): the forward kernel on raw values (a Python
float for a float64 scalar, otherwise an ndarray), which of the table's inputs are tensors (the others,
an index or a shape, are parameters, with the keyword parameters of the formulas), and the node's name as
PyTorch spells it. Whether a primitive is elementwise (its gradients summed back over broadcast axes) or
a view comes from its facts in compiler/primitives.py.

Saved values. What a node keeps for backward is what its formulas read (`_derive_saves`), never listed by
hand, and only for the inputs that need a gradient. Where a helper takes `<name>_shape` for an argument
(`sum_grad(g, x_shape, ...)`), the node keeps x's shape instead of x, as PyTorch's sum does, so x may
change in place afterwards.
"""
from __future__ import annotations

import ast
import inspect
import linecache
import math
import operator

import numpy as np

from compiler.library import ENTRIES as LIBRARY, HELPERS as LIBRARY_HELPERS
from compiler.primitives import PRIMS, UNARY
from compiler.rules import TABLE as RULES
from compiler.support import clip_masks, kept_writes

from . import kernels as K
from .graph import EPOCH, FREED, Node, check_saved
from .tensor import Tensor, make

ndarray = np.ndarray


class Primitive:
    """One primitive of the tape: a row of compiler/rules.py's table plus what the tape adds to it. The
    recorder (functional.py) and the node classes below read it."""

    def __init__(self, name, forward, inputs=None, params="", node_name=None):
        rule = RULES[name]
        facts = PRIMS[name]
        self.name = name
        self.forward = forward
        self.variadic = rule.rest_formula is not None and not rule.names   # one list input (a join)
        if self.variadic:
            self.inputs = (rule.rest,)
            formulas = {rule.rest: rule.rest_formula}
        else:
            self.inputs = tuple(inputs.split()) if inputs else tuple(rule.names)
            formulas = {n: f for n, f in zip(rule.names, rule.formulas) if n in self.inputs}
        self.params = tuple(params.split())
        self.elementwise = facts.elementwise or facts.broadcasts
        self.view = facts.view is not None      # the result may share memory with the (first) input
        self.node_name = node_name or "".join(p.capitalize() for p in name.split("_")) + "Backward"
        self.formulas = {n: _for_tape(self, rule, f) for n, f in formulas.items() if f is not None}
        self.reads = {n: _reads(f) for n, f in self.formulas.items()}
        for inp, reads in self.reads.items():
            for n in reads:
                if not _known(self, n):
                    raise ValueError(f"{name}: the formula for {inp!r} reads {n!r}, which the tape does "
                                     f"not keep (an input, out, a parameter or <input>_shape)")
        _derive_saves(self)
        self.plans = {}

    def __repr__(self):
        return f"<primitive {self.name}>"


def _for_tape(prim, rule, formula):
    """A table formula as the tape runs it: an index's or a shape's `*parts` are one parameter here (the
    tape passes them whole); an input a helper reads only the shape of is `<input>_shape`; a keyword
    whose value the tape does not have keeps its default; `a ** b` is the tape's pow (Python's float
    power goes complex for a negative base, where the tape's kernels, as NumPy, give nan)."""
    tree = _ForTape(prim, rule.rest).visit(ast.parse(ast.unparse(formula), mode="eval").body)
    return ast.fix_missing_locations(tree)


class _ForTape(ast.NodeTransformer):
    def __init__(self, prim, rest):
        self.prim = prim
        self.rest = rest

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Pow):
            return ast.Call(ast.Name("pow", ast.Load()), [node.left, node.right], [])
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        prim = self.prim
        node.args = [a for a in node.args
                     if not (isinstance(a, ast.Starred) and a.value.id == self.rest and not prim.variadic)]
        helper = HELPERS.get(node.func.id)
        if helper is not None:
            names = [p.name for p in inspect.signature(helper).parameters.values()
                     if p.kind is p.POSITIONAL_OR_KEYWORD]
            for k, a in enumerate(node.args):
                if k < len(names) and names[k].endswith("_shape") and isinstance(a, ast.Name) \
                        and a.id in prim.inputs:
                    node.args[k] = ast.Name(a.id + "_shape", ast.Load())
        known = set(prim.params) | ({"i"} if prim.variadic else set())
        node.keywords = [k for k in node.keywords
                         if not isinstance(k.value, ast.Name) or k.value.id in known]
        return node


def _reads(tree):
    """The names a formula reads besides g and i, in order of first appearance."""
    names = []

    class Visitor(ast.NodeVisitor):
        def visit_Call(self, node):
            for child in node.args + node.keywords:
                self.visit(child)

        def visit_Name(self, node):
            if node.id not in names and node.id not in ("g", "i"):
                names.append(node.id)

    Visitor().visit(tree)
    return tuple(names)


def _known(prim, n):
    return (n in prim.inputs or n == "out" or n in prim.params
            or (n.endswith("_shape") and n[:-6] in prim.inputs)
            or (n.endswith("_shapes") and n[:-7] in prim.inputs))


def _derive_saves(prim):
    """From what the formulas read, the values a node keeps (`saved_names`, one tuple per node), where
    each comes from (`sources`: ("input", k), ("out",), ("shape", k), ("shapes", k) or ("param", k)), and
    which of them each input's rule takes (`arg_index`)."""
    names = []
    for reads in prim.reads.values():
        names += [n for n in reads if n not in names]
    if "out" in names:                  # last, so that graph.py finds it next to its version counter
        names.remove("out")
        names.append("out")
    prim.saved_names = tuple(names)
    prim.arg_index = {inp: tuple(names.index(n) for n in reads) for inp, reads in prim.reads.items()}
    sources = []
    for n in names:
        if n in prim.inputs and prim.variadic:
            sources.append(("inputs",))      # the arrays of a join or an einsum, all of them
        elif n in prim.inputs:
            sources.append(("input", prim.inputs.index(n)))
        elif n == "out":
            sources.append(("out",))
        elif n in prim.params:
            sources.append(("param", prim.params.index(n)))
        elif n.endswith("_shapes"):
            sources.append(("shapes", prim.inputs.index(n[:-7])))
        else:
            sources.append(("shape", prim.inputs.index(n[:-6])))
    prim.sources = tuple(sources)
    prim.out_pos = names.index("out") if "out" in names else -1


# --------------------------------------------------------------------------------------------------
# Generated code: rule functions and the hot path's apply
# --------------------------------------------------------------------------------------------------

_FILENAME = "<runtime.ops: backward functions generated from compiler/rules.py>"
_RAISING = (ast.Div, ast.Pow, ast.Mod, ast.FloorDiv)


def _may_raise(trees):
    """Whether Python float arithmetic in these formulas can raise (1 / 0.0, 0.0 ** -1): such code runs
    again in NumPy scalars, which give inf or nan, as the forward kernels do."""
    return any(isinstance(n, ast.BinOp) and isinstance(n.op, _RAISING) for t in trees for n in ast.walk(t))


def _rule_source(prim, inp, fname):
    tree = prim.formulas[inp]
    args = ["g"] + (["i"] if prim.variadic else []) + list(prim.reads[inp])
    return [f"def {fname}({', '.join(args)}):", f"    return {ast.unparse(tree)}", ""]


def _unary_apply_source(prim, fname):
    """apply() of a one-input elementwise node. `_saved` is (x, out, out's version counter), (x, None,
    None) or () (functional.py's recorder)."""
    x, = prim.inputs
    tree = prim.formulas[x]
    reads = prim.reads[x]
    body = f"return ({ast.unparse(tree)},)"
    lines = [f"def {fname}(self, g, graph):",
             "    _saved = self._saved",
             "    if _saved is None:",
             "        raise RuntimeError(FREED)"]
    if not reads:
        return lines + [f"    {body}", ""]
    lines += ["    if EPOCH[0] != self._epoch:",
              "        check_saved(self)"]
    if x in reads:
        lines.append(f"    {x} = _saved[0]")
    if "out" in reads:
        lines += ["    out = _saved[1]",
                  "    if graph:",
                  "        out = make(out, (self, 0))"]
    if x in reads:
        lines += [f"    {'elif' if 'out' in reads else 'if'} not graph and {x}.__class__ is Tensor:",
                  f"        {x} = {x}._data"]
    return lines + _guarded([body], ("g",) + reads, [tree], "    ") + [""]


def _binary_apply_source(prim, fname):
    """apply() of a two-input elementwise node with NumPy broadcasting. `_saved` is (a, b, out, out's
    version counter) or (); `_meta` is None or the inputs' shapes where they differ from the result's."""
    a, b = prim.inputs
    trees = [prim.formulas[a], prim.formulas[b]]
    reads = tuple(dict.fromkeys(prim.reads[a] + prim.reads[b]))
    lines = [f"def {fname}(self, g, graph):",
             "    _saved = self._saved",
             "    if _saved is None:",
             "        raise RuntimeError(FREED)"]
    if reads:
        lines += ["    if _saved:",
                  "        if EPOCH[0] != self._epoch:",
                  "            check_saved(self)"]
        lines += [f"        {n} = _saved[{pos}]" for pos, n in enumerate((a, b, "out")) if n in reads]
        if "out" in reads:
            lines += ["        if graph:",
                      "            if out is not None:",
                      "                out = make(out, (self, 0))"]
        unwrap = [n for n in (a, b) if n in reads]
        if unwrap:
            lines.append("        else:" if "out" in reads else "        if not graph:")
            for n in unwrap:
                lines += [f"            if {n}.__class__ is Tensor:",
                          f"                {n} = {n}._data"]
        lines += ["    else:",
                  f"        {' = '.join(reads)} = None"]
    body = ["if _nf[0][0] is not None:",
            f"    d{a} = {ast.unparse(trees[0])}",
            "if _nf[1][0] is not None:",
            f"    d{b} = {ast.unparse(trees[1])}"]
    lines += [f"    d{a} = d{b} = None",
              "    _nf = self.next_functions"]
    lines += _guarded(body, ("g",) + reads, trees, "    ")
    lines += ["    _shapes = self._meta",
              "    if _shapes is not None:",
              f"        if d{a} is not None and _shapes[0] is not None:",
              f"            d{a} = unbroadcast(d{a}, _shapes[0])",
              f"        if d{b} is not None and _shapes[1] is not None:",
              f"            d{b} = unbroadcast(d{b}, _shapes[1])",
              f"    return (d{a}, d{b})", ""]
    return lines


def _guarded(body, names, trees, indent):
    """`body`, run again in NumPy scalars if Python's float arithmetic raises in it."""
    if not _may_raise(trees):
        return [indent + line for line in body]
    convert = f"{', '.join(names)} = {', '.join(f'numpy_scalar({n})' for n in names)}"
    return ([indent + "try:"] + [indent + "    " + line for line in body]
            + [indent + "except (ZeroDivisionError, OverflowError):", indent + "    " + convert]
            + [indent + "    " + line for line in body])


def numpy_scalar(v):
    """A Python float as a NumPy float64 (whose arithmetic gives inf and nan where Python's raises)."""
    return np.float64(v) if v.__class__ is float else v


def _generate(prims):
    """Write and compile the backward code of every primitive; returns the source text."""
    lines = []
    names = {}
    for prim in prims:
        for inp in prim.inputs:
            if inp in prim.formulas:
                fname = f"{prim.name}__d{inp}"
                names[(prim.name, inp)] = fname
                lines += _rule_source(prim, inp, fname)
        if _fast_path(prim):
            fname = f"{prim.node_name}_apply"
            names[(prim.name, "apply")] = fname
            gen = _unary_apply_source if len(prim.inputs) == 1 else _binary_apply_source
            lines += gen(prim, fname)
    source = "\n".join(lines)
    linecache.cache[_FILENAME] = (len(source), None, source.splitlines(True), _FILENAME)
    exec(compile(source, _FILENAME, "exec"), NAMESPACE)
    for prim in prims:
        prim.rules = {inp: NAMESPACE[names[(prim.name, inp)]] for inp in prim.inputs
                      if (prim.name, inp) in names}
        prim.rule_list = tuple((prim.rules.get(name), prim.arg_index.get(name, ())) for name in prim.inputs)
        prim.node_class = _node_class(prim, NAMESPACE.get(names.get((prim.name, "apply"))))
    return source


def _fast_path(prim):
    return (prim.elementwise and not prim.params and not prim.variadic and len(prim.inputs) in (1, 2)
            and all(inp in prim.formulas for inp in prim.inputs))


# --------------------------------------------------------------------------------------------------
# Nodes of primitives
# --------------------------------------------------------------------------------------------------

class OpNode(Node):
    """The node of a tape primitive; one subclass per primitive (e.g. MulBackward). This generic `apply`
    serves the primitives without a generated one: it calls each input's rule function."""

    __slots__ = ("_meta",)
    _prim = None

    def apply(self, g, graph):
        saved = self._saved
        if saved is None:
            raise RuntimeError(FREED)
        if EPOCH[0] != self._epoch:
            check_saved(self)
        prim = self._prim
        meta = self._meta
        if saved:
            vals = [m if s is None else s for s, m in zip(saved, meta)]
            if graph:
                if prim.out_pos >= 0 and saved[prim.out_pos] is not None:
                    vals[prim.out_pos] = make(saved[prim.out_pos], (self, 0))
            else:
                vals = [v._data if v.__class__ is Tensor else
                        tuple(x._data if x.__class__ is Tensor else x for x in v)
                        if v.__class__ is tuple else v for v in vals]
        else:
            vals = meta
        nf = self.next_functions
        if prim.variadic:
            rule, idx = prim.rule_list[0]
            args = [vals[j] for j in idx]
            return tuple(None if nf[i][0] is None else call_rule(rule, g, (i, *args)) for i in range(len(nf)))
        grads = []
        for k, (rule, idx) in enumerate(prim.rule_list):
            if nf[k][0] is None:
                grads.append(None)
            elif rule is None:
                raise RuntimeError(f"the derivative of {prim.name} with respect to its input "
                                   f"{prim.inputs[k]!r} is not implemented")
            else:
                grads.append(call_rule(rule, g, [vals[j] for j in idx]))
        if prim.elementwise:        # broadcast shapes, kept after the saved values' parameters
            shapes = self._meta[-1]
            if shapes is not None:
                for k, shape in enumerate(shapes):
                    if shape is not None and grads[k] is not None:
                        grads[k] = unbroadcast(grads[k], shape)
        return grads


def call_rule(rule, g, args):
    try:
        return rule(g, *args)
    except (ZeroDivisionError, OverflowError):
        # Python floats raise where NumPy gives inf/nan (1/0.0, 0.0**-1): redo the rule in NumPy scalars.
        return rule(*[numpy_scalar(v) for v in (g, *args)])


def _node_class(prim, apply):
    """The Node subclass of a primitive, named like PyTorch's (MulBackward)."""
    body = {"__slots__": (), "_prim": prim,
            "__doc__": f"Backward of {prim.name} (formulas in compiler/rules.py; code generated in runtime/ops.py)."}
    if apply is not None:
        apply.__qualname__ = f"{prim.node_name}.apply"
        body["apply"] = apply
    cls = type(prim.node_name, (OpNode,), body)
    cls.__module__ = __name__
    return cls


# --------------------------------------------------------------------------------------------------
# The helpers formulas call, as the tape computes them (compiler/support.py is the compiler's): plain
# values in, plain values out; Tensors in (create_graph=True), recorded operations.
# --------------------------------------------------------------------------------------------------

def unbroadcast(g, x_shape):
    """Sum g over the axes that broadcasting added or stretched, giving x's shape."""
    gshape = g.shape if g.__class__ is ndarray or g.__class__ is Tensor else np.shape(g)
    if gshape == x_shape:
        return g
    lead = len(gshape) - len(x_shape)
    axes = tuple(range(lead)) + tuple(lead + k for k, n in enumerate(x_shape)
                                      if n == 1 and gshape[lead + k] != 1)
    if g.__class__ is Tensor:
        return F.reshape(F.sum(g, axis=axes, keepdims=True), x_shape)
    r = np.sum(g, axis=axes)
    return r if r.shape == x_shape else r.reshape(x_shape)


def sum_grad(g, x_shape, axis=None, keepdims=False):
    """A reduction's gradient spread back over the reduced axes: g -> x's shape."""
    if not x_shape:
        return g
    g = _keep(g, x_shape, axis, keepdims)
    if g.__class__ is not Tensor:       # plain values: fill a new array (np.broadcast_to is slower)
        out = np.empty(x_shape, dtype=np.result_type(g))
        out[...] = g
        return out
    return F.broadcast_to(g, x_shape)


def mean_grad(g, x_shape, axis=None, keepdims=False):
    return sum_grad(g, x_shape, axis, keepdims) / _count(x_shape, axis)


def extreme_grad(g, x, out, axis=None, keepdims=False):
    """max/min: g to the entries that hold the extreme, shared evenly among ties."""
    return _keep(g, F.shape(x), axis, keepdims) * _tie_share(x, out, axis, keepdims)


def prod_grad(g, x, axis=None, keepdims=False):
    """The product of the other entries."""
    return _keep(g, F.shape(x), axis, keepdims) * _prod_others(x, axis)


def matmul_grad_a(g, x, y):
    """d(x @ y)/dx: g @ y^T, with NumPy's promotion of 1-D operands undone and batch axes summed."""
    a_nd, b_nd = F.ndim(x), F.ndim(y)
    if a_nd == 1 and b_nd == 1:
        return g * y
    if b_nd == 1:                                   # (..., m, n) @ (n,) -> (..., m)
        return F.expand_dims(g, -1) * y
    if a_nd == 1:                                   # (n,) @ (..., n, p) -> (..., p)
        ga = F.matmul(y, F.expand_dims(g, -1))[..., 0]
        return unbroadcast(ga, (F.shape(x)[0],))
    return unbroadcast(F.matmul(g, F.swapaxes(y, -1, -2)), F.shape(x))


def matmul_grad_b(g, x, y):
    a_nd, b_nd = F.ndim(x), F.ndim(y)
    if a_nd == 1 and b_nd == 1:
        return g * x
    if a_nd == 1:                                   # (n,) @ (..., n, p) -> (..., p)
        return F.expand_dims(x, -1) * F.expand_dims(g, -2)
    if b_nd == 1:                                   # (..., m, n) @ (n,) -> (..., m)
        gb = F.matmul(F.swapaxes(x, -1, -2), F.expand_dims(g, -1))[..., 0]
        return unbroadcast(gb, (F.shape(y)[0],))
    return unbroadcast(F.matmul(F.swapaxes(x, -1, -2), g), F.shape(y))


def transpose_grad(g, axes=None):
    return F.transpose(g, None if axes is None else tuple(np.argsort(axes)))


def reshape_grad(g, x_shape):
    return F.reshape(g, x_shape)


def index_grad(g, x_shape, *parts, index=None):
    """zeros shaped like x with g added at index (repeated integer indices add up, as for a gather)."""
    return F.scatter_add(g, index, x_shape)


def getitem(g, *parts, index=None):
    return F.getitem(g, index)


def cleared(g, *parts, index=None):
    """g with zeros where an assignment wrote (those entries no longer reach the result)."""
    mask = np.zeros(F.shape(g), dtype=bool)
    mask[index] = True
    return F.where(mask, 0.0, g)


def written_grad(g, *parts, index=None):
    """g at the places an assignment wrote; of a place an index array writes twice, only the write
    NumPy kept gets it (compiler/support.py's kept_writes asks NumPy)."""
    picked = F.getitem(g, index)
    kept = kept_writes(F.shape(g), index)
    return picked if kept is None else F.where(kept, picked, 0.0)


def concat_grad(g, *shapes, axis=0, index_=0):
    nd = F.ndim(g)
    ax = axis % nd
    start = sum(s[ax] for s in shapes[:index_])
    return F.getitem(g, (slice(None),) * ax + (slice(start, start + shapes[index_][ax]),))


def stack_grad(g, axis=0, index_=0):
    return F.getitem(g, (slice(None),) * (axis % F.ndim(g)) + (index_,))


def clip_grad(g, x, lo, hi):
    return g * clip_masks(F.raw(x), F.raw(lo), F.raw(hi))[0]


def clip_lo_grad(g, x, lo, hi):
    return g * clip_masks(F.raw(x), F.raw(lo), F.raw(hi))[1]


def clip_hi_grad(g, x, lo, hi):
    return g * clip_masks(F.raw(x), F.raw(lo), F.raw(hi))[2]


HELPERS = {fn.__name__: fn for fn in (
    unbroadcast, sum_grad, mean_grad, extreme_grad, prod_grad, matmul_grad_a, matmul_grad_b,
    transpose_grad, reshape_grad, index_grad, getitem, cleared, written_grad, concat_grad, stack_grad,
    clip_grad, clip_lo_grad, clip_hi_grad)}
# The library's helpers (compiler/library/) are written once in NumPy: on values here as in the
# compiler's code, and on Tensors under create_graph=True through NumPy's dispatch (numpy_api.py).
HELPERS.update({name: h.fn for name, h in LIBRARY_HELPERS.items()})


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


def _tie_share(x, out, axis, keepdims):
    """Where x attains its max/min along axis, divided by how many entries tie (a constant)."""
    x_raw = F.raw(x)
    out_raw = F.raw(out)
    if x_raw.__class__ is float:
        return 1.0
    kept = out_raw if keepdims or axis is None else np.reshape(out_raw, _kept_shape(x_raw.shape, axis))
    mask = (x_raw == kept)
    return mask / np.sum(mask, axis=axis, keepdims=True)


def _prod_others(x, axis):
    """d prod / d x_k = product of the other entries; prod/x where x has no zero (then recordable)."""
    x_raw = F.raw(x)
    if np.all(x_raw != 0):
        return F.prod(x, axis=axis, keepdims=True) / x
    # With zeros, prod/x is 0/0: take the product of the others directly (exclusive cumulative products).
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


# The generated code's globals: the helpers now, the tape's functions once functional.py has made them.
NAMESPACE = {"FREED": FREED, "EPOCH": EPOCH, "check_saved": check_saved, "Tensor": Tensor, "make": make,
             "numpy_scalar": numpy_scalar, **HELPERS}


# --------------------------------------------------------------------------------------------------
# The table: what the tape adds to compiler/rules.py for each primitive it records
# --------------------------------------------------------------------------------------------------

def _unary(name, scalar_fn, array_fn, node_name=None):
    prim = Primitive(name, K.unary_kernel(scalar_fn, array_fn), node_name=node_name)
    prim.scalar_fn, prim.array_fn = scalar_fn, array_fn
    return prim


_REDUCE = "axis keepdims"

PRIMITIVES = [
    # Elementwise, one input: math for a Python float, NumPy otherwise.
    Primitive("neg", operator.neg),
    # (the math and NumPy spellings are the compiler's: primitives.UNARY; abs of a float is
    # Python's own abs, which keeps ints ints as the compiler's lib=None spelling does)
    *(_unary(name, abs if name == "abs" else fns[0], fns[1],
             node_name="Log1PBackward" if name == "log1p" else None)
      for name, fns in UNARY.items()),
    # Elementwise, two inputs, NumPy broadcasting (gradients summed back to each input's shape).
    Primitive("add", operator.add),
    Primitive("sub", operator.sub),
    Primitive("mul", operator.mul),
    Primitive("div", K.div),
    Primitive("pow", K.pow),
    Primitive("max", K.maximum, node_name="MaximumBackward"),
    Primitive("min", K.minimum, node_name="MinimumBackward"),
    Primitive("atan2", K.binary_math(math.atan2, np.arctan2)),
    Primitive("hypot", K.binary_math(math.hypot, np.hypot)),
    Primitive("logaddexp", K.binary_math(K.logaddexp, np.logaddexp)),
    # Selection: the condition carries no gradient; clip's bounds may be tensors.
    Primitive("select", K.select, node_name="WhereBackward"),
    Primitive("clip", K.clip),
    # Reductions over `axis` (None, an int or a tuple), NumPy's keepdims.
    Primitive("sum", K.reduce(np.sum), params=_REDUCE),
    Primitive("mean", K.reduce(np.mean), params=_REDUCE),
    Primitive("amax", K.reduce(np.max), params=_REDUCE, node_name="MaxBackward"),
    Primitive("amin", K.reduce(np.min), params=_REDUCE, node_name="MinBackward"),
    Primitive("prod", K.reduce(np.prod), params=_REDUCE),
    # Linear algebra: NumPy's matmul (1-D operands promoted, batch axes broadcast).
    Primitive("matmul", K.matmul),
    # Shapes and indexing (views when NumPy makes one: views.py). A shape or an index is a parameter.
    Primitive("reshape", K.reshape, inputs="x", params="shape"),
    Primitive("transpose", K.transpose, params="axes"),
    Primitive("broadcast_to", K.broadcast_to, inputs="x", params="shape"),
    Primitive("getitem", K.getitem, inputs="x", params="index"),
    # getitem's gradient, recorded so that it can be differentiated again (runtime.scatter_add)
    Primitive("index_grad", K.scatter_add, inputs="h", params="x_shape index",
              node_name="ScatterAddBackward"),
    # x[index] = v, recorded by Tensor.__setitem__ (inplace.py)
    Primitive("setitem", K.setitem, inputs="x v", params="index"),
    Primitive("concatenate", K.concatenate, params="axis"),
    Primitive("stack", K.stack, params="axis"),
    Primitive("copy", K.clone, node_name="CloneBackward"),
]



def _library_primitive(entry):
    """The tape's primitive for a library function (compiler/library/): NumPy's (or math's) own
    callable as the forward kernel, its static parameters passed by keyword."""
    fn = entry.fn
    if PRIMS[entry.name].elementwise and not entry.params:
        scalar = entry.impls.get("math", fn)
        if len(entry.inputs.split()) == 1:
            return _unary(entry.name, scalar, fn)
        return Primitive(entry.name, K.binary_math(scalar, fn))
    names = entry.params + (("part",) if entry.parts else ())
    variadic = entry.inputs.startswith("*")

    def forward(*values):
        k = 1 if variadic else len(values) - len(names)
        xs = values[0] if variadic else values[:k]
        kw = dict(zip(names, values[k:]))
        part = kw.pop("part", None)
        value = fn(*xs, **kw)
        return value if part is None else value[part]

    forward.__name__ = entry.name
    prim = Primitive(entry.name, forward, params=" ".join(names))
    prim.entry = entry
    if prim.view and any(src[0] in ("input", "inputs", "out") for src in prim.sources):
        # a view whose gradient reads values (np.linalg.matrix_power(a, 1) is a itself) cannot be
        # replayed by inplace.py: the tape returns a new array there, as PyTorch does
        def fresh_forward(*values, _forward=forward):
            out = _forward(*values)
            x = values[0]
            if out.__class__ is ndarray and x.__class__ is ndarray and np.shares_memory(out, x):
                out = out.copy()
            return out

        fresh_forward.__name__ = entry.name
        prim.forward = fresh_forward
        prim.view = False
    return prim


PRIMITIVES += [_library_primitive(e) for e in LIBRARY if e.tape]

TABLE = {p.name: p for p in PRIMITIVES}
SOURCE = _generate(PRIMITIVES)
CALLED = sorted({n.func.id for p in PRIMITIVES for f in p.formulas.values() for n in ast.walk(f)
                 if isinstance(n, ast.Call)} - set(HELPERS))


def link(functions):
    """Give the generated code the tape's functions it calls (functional.py's, by each primitive's
    `tape` fact: select -> where), once they exist."""
    for name in CALLED:
        public = PRIMS[name].tape
        fn = functions.get(public) if public else None
        if fn is None:
            raise ImportError(f"a formula in compiler/rules.py calls {name}, which the tape has no function "
                              f"for (its `tape` fact in compiler/primitives.py names runtime's)")
        NAMESPACE[name] = fn


# The helpers call back into the public functions, which dispatch on raw values versus Tensors.
from . import functional as F  # noqa: E402  (ops <-> functional: F is only used when rules run)
