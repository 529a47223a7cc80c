"""IR -> Python source: one assignment per equation, built as an AST and printed with astor.

The emitted module is a factory whose parameters are everything the gradient reads besides its own
arguments and the user's globals: the functions it calls (`sin`, `np`...) and the user's closure
cells. The loader never calls the factory; it takes the inner function's code and gives it those
values as closure cells, so a name lookup costs one LOAD_DEREF and the user's cells stay live.

    def make_f_grad(type, float, respecialize):
        def f_grad(x, y, z):
            if type(x) is not float:
                return respecialize(x, y, z)
            ...
            # line 3: q = x + y
            q = x + y
            # gradient of line 4: return q * z
            ...
            return z, z, q
        return f_grad

Every value is named from the user's names (see ir.Namer); none shadows a name the code reads.
"""
from __future__ import annotations

import ast
import builtins
import math
import re

import astor
import numpy as np

from . import indexing, support
from .buildlog import stage
from .ir import VAR_PARAMS, Const, Dot, Graph, Loop, Namer, ReverseLoop, Var, regions
from .primitives import PRIMS, MethodCall, callee, numpy_path
from .specialize import NUMPY_OPERATORS, numpy_scalars
from .storage import StoragePlan, push_position

_COMMENT = "__comment__"
_COMMENT_LINE = re.compile(r"^(\s*)__comment__\((\d+)\)\s*$", re.M)


_STATEMENTS = {"cond": "emit_cond", "for": "emit_loop", "while": "emit_loop",
               "list_append": "emit_list_append",
               "index_add": "emit_accumulate", "iadd": "emit_accumulate",
               "loop_reverse": "emit_loop_reverse", "setitem": "emit_setitem",
               "cleared": "emit_setitem", "index_grad": "emit_index_grad"}


class Built:
    """A node of a result tree that is not a tuple of results: a list, a dict, a namedtuple, an
    object or a constant (has_aux's aux, returned as the function made it)."""

    __slots__ = ("kind", "meta", "children")

    def __init__(self, kind, meta=None, children=()):
        self.kind, self.meta, self.children = kind, meta, tuple(children)

    def offset(self, by):
        """The same tree with every result index moved by `by`."""
        return Built(self.kind, self.meta, [c + by if isinstance(c, int) else c.offset(by)
                                            if isinstance(c, Built) else c for c in self.children])


def _literal(value):
    if isinstance(value, tuple) and len(value) == 1:
        return ast.Constant(value[0])
    if isinstance(value, tuple):
        return ast.Tuple([_literal(v) for v in value], ast.Load())
    return ast.Constant(value)


def _reads(graph, found=None):
    """Every variable some equation, region or result reads (or a loop saves)."""
    found = set() if found is None else found
    for eqn in graph.eqns:
        found.update(a for a in eqn.ins if isinstance(a, Var))
        found.update(eqn.params.get("save") or ())
        for sub in eqn.params.values():
            if isinstance(sub, Graph):
                _reads(sub, found)
    found.update(a for a in graph.results if isinstance(a, Var))
    return found


def _env_reads(graph):
    """The `global` and `cell` equations of a graph and its regions, in order."""
    for eqn in graph.eqns:
        if eqn.prim in ("global", "cell"):
            yield eqn
        for sub in eqn.params.values():
            if isinstance(sub, Graph):
                yield from _env_reads(sub)


# Scalar operations a temporary may be written inline for: `a_dot = x_dot * y + y_dot * x`
# rather than three lines (pure, and spelled the same wherever they stand).
_INLINE = {"add", "sub", "mul", "div", "neg", "sin", "cos", "tan", "exp", "log", "tanh", "sqrt",
           "atan", "sinh", "cosh", "log1p", "expm1", "square"}


_INLINE_SIZE = 5  # operations in one generated expression, at most


def _inlinable(graph, is_array, root):
    """The temporaries (no name of the user's or derived from one) of numbers that exactly one
    later equation of the same block and the same user line reads, with only plain equations in
    between: each is written inside that equation's expression."""
    uses = {}

    def count(g):
        for eqn in g.eqns:
            for a in eqn.ins:
                if isinstance(a, Var):
                    uses[a] = uses.get(a, 0) + 1
            for key in VAR_PARAMS:
                for v in eqn.params.get(key) or ():
                    uses[v] = uses.get(v, 2) + 2  # read by name: never inlined
            for sub in eqn.params.values():
                if isinstance(sub, Graph):
                    for p in sub.params:
                        uses[p] = uses.get(p, 0) + 2
                    count(sub)
        for a in g.results:
            if isinstance(a, Var):
                uses[a] = uses.get(a, 0) + 2

    count(graph)
    found = set()

    def block(eqns):
        position = {}
        reads = {}   # an inlinable value -> the storage (plan roots) its expression reads
        sizes = {}   # ... and how many operations its expression holds
        writes = {}  # position -> the storage its equation writes (None: a statement or region)

        def written(k):
            found = writes.get(k, False)
            if found is False:
                e = eqns[k]
                found = None if e.prim in _STATEMENTS or e.params and regions(e) else \
                    [root(o) for o in e.outs]
                writes[k] = found
            return found

        for j, eqn in enumerate(eqns):
            if eqn.params:
                for sub in eqn.params.values():
                    if isinstance(sub, Graph):
                        block(sub.eqns)
            plain = eqn.prim not in _STATEMENTS and not (eqn.params and regions(eqn))
            mine, start, size = set(), j, 1
            for a in eqn.ins:
                if not isinstance(a, Var):
                    continue
                i = position.get(a)
                inlined = i is not None and plain and uses.get(a) == 1 and eqns[i].loc == eqn.loc
                if inlined:
                    first = min(i, position.get(("start", a), i))
                    # nothing in between may be a statement, or write storage it reads (a loop's
                    # carried value is named as its next value: `s = s + t` then reads the new s)
                    if j - first > 12:
                        inlined = False
                    else:
                        for k in range(first + 1, j):
                            roots = written(k)
                            if roots is None or any(r in reads[a] for r in roots):
                                inlined = False
                                break
                if inlined and size + sizes[a] > _INLINE_SIZE:
                    inlined = False  # small expressions only: they read well (and build fast)
                if inlined:
                    found.add(a)
                    mine |= reads[a]
                    size += sizes[a]
                    start = min(start, position.get(("start", a), position[a]))
                else:
                    mine.add(root(a))
            if len(eqn.outs) == 1 and plain and eqn.prim in _INLINE and \
                    eqn.params.get("lib") in (None, "math", "np") and \
                    not any(is_array(a) for a in eqn.ins) and not is_array(eqn.out) and \
                    _temporary(eqn.out):
                position[eqn.out] = j
                position[("start", eqn.out)] = start
                reads[eqn.out] = mine
                sizes[eqn.out] = size

    block(graph.eqns)
    return found


def _temporary(var):
    hint = var.hint
    while isinstance(hint, Dot):
        hint = hint.var.hint
    return hint == ""


def _is_int(atom, value):
    return isinstance(atom, Const) and type(atom.value) is int and atom.value == value


class Emitter:
    def __init__(self, graph, func_name, param_names, kwonly, user_blocked, user_owned,
                 user_globals, kinds=None, guard=None, result_tree=None, default_kind=None,
                 record=False, numpy_params=()):
        self.graph = graph
        self.numpy_params = set(numpy_params)  # parameters known to be NumPy float64s
        self.func_name = func_name
        self.param_names = param_names
        self.kwonly = kwonly
        self.user_globals = user_globals
        self.kinds = kinds if kinds is not None else {}
        self.result_tree = result_tree
        self.bindings = {}      # name in the factory -> object (or a cell, see `cells`)
        self.cells = {}         # name -> the user's own cell object
        self._bound = {}        # (kind, key) -> name
        self.user_blocked = set(user_blocked)
        self.namer = Namer(blocked=self.user_blocked | {self.func_name, _COMMENT},
                           owned=set(user_owned) - self.user_blocked)
        self.comments = []
        self.default_kind = default_kind or ("scalar" if kinds is not None else "dynamic")
        self.dtypes = None   # per array value, when known: enables in-place updates and `del`
        self.shapes = {}
        self.inplace = set()
        self.frees = {}
        self.guard = guard or {}
        # An instrumented run records each value: (the helper's name, the variables in order).
        self.recorder = (self.bind("record", None, key=("record",)), []) if record else None
        self.alias = {}         # set by the storage plan (storage.py) when the source is made
        self.user_name = graph.name.removesuffix("_grad")
        self.inline = set()     # temporaries written into the one expression that reads them
        self.inlined = {}       # ... their expressions, until that expression is made
        self.numpy = set()      # values sure to be NumPy scalars (set when the source is made)
        self.lazy = False       # a version for lazy arrays (compiler/lazy.py): no `+=` into buffers

    # -- names --

    def bind(self, preferred, obj, key=None):
        """A factory parameter holding `obj`, named `preferred` unless that would shadow a user name."""
        key = ("obj", id(obj)) if key is None else key
        if not preferred.isidentifier():  # a lambda, say
            preferred = "helper"
        name = self._bound.get(key)
        if name is not None:
            return name
        candidate = preferred
        same_as_user = self.user_globals.get(preferred, getattr(builtins, preferred, None)) is obj
        if candidate in self.namer.used or (candidate in self.user_blocked and not same_as_user) \
                or candidate in self.namer.owned:
            candidate = None
        if candidate is None:
            saved = self.namer.blocked
            self.namer.blocked = saved | {preferred}
            candidate = self.namer.fresh(preferred)
            self.namer.blocked = saved
        else:
            self.namer.used.add(candidate)
        self._bound[key] = candidate
        self.bindings[candidate] = obj
        return candidate

    def name(self, atom):
        return self.namer(self.plan.root(atom))

    # -- expressions --

    def atom(self, a):
        if a in self.inlined:  # a temporary read once: its expression, in place of its name
            return self.inlined.pop(a)
        if isinstance(a, Const):
            v = a.value
            if isinstance(v, list):  # an index list written in the code
                return ast.List([ast.Constant(e) for e in v], ast.Load())
            if isinstance(v, float) and (v != v or v in (math.inf, -math.inf)):
                return ast.Call(ast.Name(self.bind("float", float), ast.Load()), [ast.Constant(repr(v))], [])
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
                return ast.UnaryOp(ast.USub(), ast.Constant(-v))
            return ast.Constant(v)
        return ast.Name(self.name(a), ast.Load())

    def is_array(self, a):
        """Whether a value may be an array here (then NumPy spells the operation)."""
        return isinstance(a, Var) and self.kinds.get(a, self.default_kind) != "scalar"

    def known_array(self, a):
        return isinstance(a, Var) and self.kinds.get(a, self.default_kind) == "array"

    def numpy_operands(self, eqn):
        """Whether the operator's own spelling gives NumPy's arithmetic here: an operand is sure
        to be a NumPy scalar (see specialize.numpy_scalars)."""
        return eqn.prim in NUMPY_OPERATORS and any(a in self.numpy for a in eqn.ins)

    def lib_of(self, eqn):
        lib = eqn.params.get("lib")
        if lib is None:
            return "np" if any(self.is_array(a) for a in eqn.ins) else "math"
        return lib

    def call(self, prim, lib, args, keywords=()):
        module, attr, obj = callee(prim, lib)
        if module == "np":
            func = ast.Name(self.bind("np", np), ast.Load())
            for part in attr.split("."):  # np.linalg.det
                func = ast.Attribute(func, part, ast.Load())
        else:
            func = ast.Name(self.bind(attr, obj), ast.Load())
        return ast.Call(func, args, list(keywords))

    def expression(self, eqn):
        prim = eqn.prim
        ins = [self.atom(a) for a in eqn.ins]
        p = PRIMS[prim]
        array = any(self.is_array(a) for a in eqn.ins)
        if prim == "global":
            if eqn.params.get("_root"):
                return ast.Name(eqn.params["name"], ast.Load())
            ns = self.bind(f"{eqn.params['module'] or 'module'}_globals".replace(".", "_"),
                           eqn.params["_ns"])
            return ast.Subscript(ast.Name(ns, ast.Load()), ast.Constant(eqn.params["name"]), ast.Load())
        if prim == "cell":
            name = self.bind(eqn.params["name"], eqn.params["_cell"], key=("cell", id(eqn.params["_cell"])))
            self.cells[name] = eqn.params["_cell"]
            return ast.Name(name, ast.Load())
        if p.infix is not None and not (prim in ("and", "or", "not") and array):
            op = p.infix()
            lib = eqn.params.get("lib")
            if lib is not None and (prim == "pow" or lib == "np" and not array and
                                    not self.numpy_operands(eqn)):
                return self.call(prim, lib, ins)  # NumPy's semantics on floats: inf, not an error
            if prim in ("neg", "not"):
                return ast.UnaryOp(op, ins[0])
            if prim in ("and", "or"):
                return ast.BoolOp(op, ins)
            if isinstance(op, ast.cmpop):
                return ast.Compare(ins[0], [op], [ins[1]])
            return ast.BinOp(ins[0], op, ins[1])
        if prim == "call":
            return self.opaque_call(eqn, ins)
        if prim == "range_len":
            rng = ast.Call(ast.Name(self.bind("range", range), ast.Load()), ins, [])
            return ast.Call(ast.Name(self.bind("len", len), ast.Load()), [rng], [])
        if prim == "getitem":
            return ast.Subscript(ins[0], indexing.to_ast(eqn.params["index"], ins[1:]), ast.Load())
        if prim == "tuple":
            return ast.Tuple(ins, ast.Load())
        if prim == "list_new":
            return ast.List([], ast.Load())
        if prim == "stack_list":
            return self.np_call("stack", ins, self.keywords(eqn))
        if prim == "astype":
            return ast.Call(ast.Attribute(ins[0], "astype", ast.Load()),
                            [ast.Constant(eqn.params["dtype"])],
                            [ast.keyword("copy", ast.Constant(False))])
        if prim == "shape" and self.known_array(eqn.ins[0]):
            return ast.Attribute(ins[0], "shape", ast.Load())
        if prim == "len":
            return ast.Call(ast.Name(self.bind("len", len), ast.Load()), ins, [])
        if prim == "transpose" and "axes" not in eqn.params and self.known_array(eqn.ins[0]):
            return ast.Attribute(ins[0], "T", ast.Load())
        if prim in ("zeros", "ones"):
            return self.np_call(prim, [self.shape_tuple(ins)])
        if prim == "full":
            return self.np_call("full", [self.shape_tuple(ins[1:]), ins[0]])
        if prim == "reshape":
            return self.np_call("reshape", [ins[0], self.shape_tuple(ins[1:])])
        if prim in ("concatenate", "stack"):
            return self.np_call(prim, [ast.Tuple(ins, ast.Load())], self.keywords(eqn))
        if prim in ("shape", "ndim", "size", "eye", "zeros_like", "ones_like", "arange", "outer",
                    "clip", "logaddexp", "transpose", "expand_dims", "squeeze", "copy",
                    "sum", "mean", "amax", "amin", "prod") or (prim == "matmul" and eqn.params.get("lib")):
            return self.np_call(prim, ins, self.keywords(eqn))
        if prim == "zero_like":  # shape unknown here: decided when the code runs
            fn = PRIMS["zero_like"].funcs[None]
            return ast.Call(ast.Name(self.bind("zero_like", fn), ast.Load()), ins, [])
        if prim == "write_check":
            fn = eqn.params["_check"]
            return ast.Call(ast.Name(self.bind("check_write", fn), ast.Load()), ins, [])
        if prim == "user_vjp":
            fn = eqn.params["vjp"]
            return ast.Call(ast.Name(self.bind(getattr(fn, "__name__", "vjp"), fn), ast.Load()), ins, [])
        if prim.startswith("user_"):  # a registered function: called as it is
            fn = p.funcs[None]
            return ast.Call(ast.Name(self.bind(getattr(fn, "__name__", prim), fn), ast.Load()), ins, [])
        if prim == "float64":
            return ast.Call(ast.Name(self.bind("float64", np.float64), ast.Load()), ins, [])
        if p.internal or prim == "stop_gradient":  # (a function of ours, bound by name)
            return self.helper_call(eqn, ins)
        if prim == "select" and not array and eqn.params.get("lib") != "np":
            return ast.IfExp(ins[0], ins[1], ins[2])
        if prim in ("max", "min") and eqn.params.get("lib") is None and not array:
            # Python's max(x, y) keeps x unless y > x; spelled inline, without a call.
            cmp = ast.Gt() if prim == "max" else ast.Lt()
            return ast.IfExp(ast.Compare(ins[1], [cmp], [ins[0]]), ins[1], ins[0])
        if prim == "sign" and not array and eqn.params.get("lib") != "np":
            # 1.0 if x > 0 else -1.0 if x < 0 else 0.0 (the subgradient 0 at the kink); floats,
            # never bools, which NumPy refuses to subtract
            x = ins[0]
            inner = ast.IfExp(ast.Compare(x, [ast.Lt()], [ast.Constant(0)]),
                              ast.UnaryOp(ast.USub(), ast.Constant(1.0)), ast.Constant(0.0))
            return ast.IfExp(ast.Compare(x, [ast.Gt()], [ast.Constant(0)]), ast.Constant(1.0), inner)
        if prim in ("abs", "round", "float", "int") and eqn.params.get("lib") is None:
            name = {"abs": "abs", "round": "round", "float": "float", "int": "int"}[prim]
            return ast.Call(ast.Name(self.bind(name, getattr(builtins, name)), ast.Load()), ins, [])
        if prim in ("floor", "ceil", "trunc") and eqn.params.get("lib") is None:
            return self.call(prim, "np" if array else "math", ins)
        called = self.call(prim, self.lib_of(eqn), ins, self.keywords(eqn))
        if p.parts:  # one part of a tuple result: np.linalg.slogdet(a)[1]
            return ast.Subscript(called, ast.Constant(eqn.params["part"]), ast.Load())
        return called

    def opaque_call(self, eqn, ins):
        """A call with no rule, spelled as the user wrote it: np.argmax(x), gammaln(y + 1.0)."""
        fn = eqn.params["fn"]
        name = getattr(fn, "__name__", None) or "fn"
        positional, keywords = eqn.params["layout"]
        if isinstance(fn, MethodCall):  # rng.normal(size=3): the receiver is the first argument
            receiver = self.opaque_argument(positional[0], ins)
            return ast.Call(ast.Attribute(receiver, fn.name, ast.Load()),
                            [self.opaque_argument(i, ins) for i in positional[1:]],
                            [ast.keyword(k, self.opaque_argument(i, ins)) for k, i in keywords])
        path = numpy_path(fn)
        if path is not None:  # np.argmax, np.random.seed
            func = ast.Name(self.bind("np", np), ast.Load())
            for part in path.split("."):
                func = ast.Attribute(func, part, ast.Load())
        else:
            func = ast.Name(self.bind(name if name.isidentifier() else "fn", fn), ast.Load())

        return ast.Call(func, [self.opaque_argument(i, ins) for i in positional],
                        [ast.keyword(k, self.opaque_argument(i, ins)) for k, i in keywords])

    def opaque_argument(self, item, ins):
        kind, value = item
        if kind == "in":
            return ins[value]
        if kind == "tuple":
            return ast.Tuple([self.opaque_argument(i, ins) for i in value], ast.Load())
        if value is None or type(value) in (bool, int, str) or (
                type(value) is float and math.isfinite(value)):
            return ast.Constant(value)
        label = getattr(value, "__name__", None) or type(value).__name__.lower()
        return ast.Name(self.bind(label if label.isidentifier() else "value", value), ast.Load())

    def np_call(self, prim, args, keywords=()):
        attr = {"amax": "max", "amin": "min"}.get(prim, prim)
        func = ast.Attribute(ast.Name(self.bind("np", np), ast.Load()), attr, ast.Load())
        return ast.Call(func, args, list(keywords))

    def shape_tuple(self, dims):
        return dims[0] if len(dims) == 1 else ast.Tuple(dims, ast.Load())

    def keywords(self, eqn):
        out = []
        for key in PRIMS[eqn.prim].kwargs:
            if key in eqn.params and not (key == "part" and PRIMS[eqn.prim].parts):
                out.append(ast.keyword(key.rstrip("_"), _literal(eqn.params[key])))
        return out

    def helper_call(self, eqn, ins):
        prim = eqn.prim
        p = PRIMS[prim]
        func = ast.Name(self.bind(prim, getattr(support, prim, None) or p.funcs[None]), ast.Load())
        if prim == "index_grad":
            index = indexing.to_value_ast(eqn.params["index"], ins[2:], self.bind("slice", slice))
            return ast.Call(func, ins[:2] + [index], [])
        if prim == "written_grad":
            if not any(self.is_array(a) or isinstance(a, Const) and isinstance(a.value, list)
                       for a in eqn.ins[1:]):  # ints and slices write each place once: g[index]
                return ast.Subscript(ins[0], indexing.to_ast(eqn.params["index"], ins[1:]),
                                     ast.Load())
            index = indexing.to_value_ast(eqn.params["index"], ins[1:], self.bind("slice", slice))
            return ast.Call(func, ins[:1] + [index], [])
        if prim == "concat_grad":
            return ast.Call(func, [ins[0], ast.Constant(eqn.params.get("axis", 0)),
                                   ast.Constant(eqn.params["index_"])] + ins[1:], [])
        if prim == "tangent_by_rows":  # the reverse rule's parameters, as a dict literal
            pairs = eqn.params["params"]
            return ast.Call(func, ins, [
                ast.keyword("of", ast.Constant(eqn.params["of"])),
                ast.keyword("which", ast.Constant(eqn.params["which"])),
                ast.keyword("params", ast.Dict([ast.Constant(k) for k, _ in pairs],
                                               [_literal((v,)) if isinstance(v, tuple)
                                                and len(v) == 1 else _literal(v)
                                                for _, v in pairs]))])
        if prim == "stack_grad":
            return ast.Call(func, [ins[0], ast.Constant(eqn.params.get("axis", 0)),
                                   ast.Constant(eqn.params["index_"])], [])
        return ast.Call(func, ins, self.keywords(eqn))

    # -- statements --

    def comment(self, text):
        self.comments.append(text)
        return ast.Expr(ast.Call(ast.Name(_COMMENT, ast.Load()),
                                 [ast.Constant(len(self.comments) - 1)], []))

    def body(self):
        stmts = self.emit_eqns(self.graph.eqns, top=True)
        stmts.append(ast.Return(self.result_expr(self.result_tree)))
        return stmts

    def emit_eqns(self, eqns, top=False):
        """Statements for a list of equations, with a comment wherever the user's line changes."""
        stmts = []
        last = None
        for index, eqn in enumerate(eqns):
            if top and index - 1 in self.frees:
                names = sorted({self.name(v) for v in self.frees[index - 1]})
                stmts.append(ast.Delete([ast.Name(n, ast.Del()) for n in names]))
            tag = None
            if eqn.loc:
                loc, phase = eqn.loc
                tag = (loc.filename, loc.lineno, phase)
                if tag != last:
                    text = loc.text.strip()
                    where = f"line {loc.lineno}" if loc.funcname == self.user_name \
                        else f"{loc.funcname}, line {loc.lineno}"
                    prefix = "gradient of " if phase == "adjoint" else ""
                    stmts.append(self.comment(f"{prefix}{where}: {text}"))
            last = tag
            if eqn.prim in _STATEMENTS:
                stmts.extend(getattr(self, _STATEMENTS[eqn.prim])(eqn))
                last = None
                continue
            if (eqn, 0) in self.inplace or (eqn, 1) in self.inplace:
                k = 0 if (eqn, 0) in self.inplace else 1
                op = PRIMS[eqn.prim].infix()
                target, source = self.name(eqn.out), self.name(eqn.ins[k])
                if target != source:  # the array goes on under another name (plan: stretches)
                    stmts.append(ast.Assign([ast.Name(target, ast.Store())],
                                            ast.Name(source, ast.Load()), lineno=0))
                stmts.append(ast.AugAssign(ast.Name(target, ast.Store()), op,
                                           self.atom(eqn.ins[1 - k])))
                continue
            value = self.expression(eqn)
            if len(eqn.outs) == 1 and eqn.out in self.inline:
                self.inlined[eqn.out] = value
                continue
            if not eqn.outs:  # an effect: a check that may raise
                stmts.append(ast.Expr(value))
                continue
            if len(eqn.outs) == 1:
                value = self.recorded(eqn.out, value)
            targets = [ast.Name(self.name(v), ast.Store()) for v in eqn.outs]
            target = targets[0] if len(targets) == 1 else ast.Tuple(targets, ast.Store())
            stmts.append(ast.Assign([target], value, lineno=0))
        return stmts

    def recorded(self, var, value):
        """In an instrumented run, `record(k, value)`: passes the value through, noting its kind."""
        if self.recorder is None:
            return value
        name, variables = self.recorder
        variables.append(var)
        return ast.Call(ast.Name(name, ast.Load()), [ast.Constant(len(variables) - 1), value], [])

    def record_stmt(self, var):
        return ast.Expr(self.recorded(var, ast.Name(self.name(var), ast.Load())))

    def assign(self, targets, values, params=()):
        """`t = v` for each pair that differs; a tuple assignment where a value is one of
        `params` being reassigned (so `a, b = b, a` keeps its meaning)."""
        pairs = [(t, v) for t, v in zip(targets, values)
                 if not (isinstance(v, Var) and self.name(v) == self.name(t)) and self.name(t) in self.read_names]
        if not pairs:
            return []
        written = {self.name(t) for t, _ in pairs}
        if len(pairs) > 1 and any(isinstance(v, Var) and self.name(v) in written for _, v in pairs):
            return [ast.Assign([ast.Tuple([ast.Name(self.name(t), ast.Store()) for t, _ in pairs],
                                          ast.Store())],
                               ast.Tuple([self.atom(v) for _, v in pairs], ast.Load()), lineno=0)]
        return [ast.Assign([ast.Name(self.name(t), ast.Store())], self.recorded(t, self.atom(v)),
                           lineno=0) for t, v in pairs]

    def emit_setitem(self, eqn):
        """`y_1 = y.copy()` then `y_1[index] = v`: a new array, so nothing the user (or the
        gradient) still reads is overwritten. `cleared` writes zeros the same way."""
        out = ast.Name(self.name(eqn.out), ast.Store())
        source = self.atom(eqn.ins[0])
        if eqn.prim == "cleared":
            value, parts = ast.Constant(0.0), eqn.ins[1:]
        else:
            value, parts = self.atom(eqn.ins[1]), eqn.ins[2:]
        index = indexing.to_ast(eqn.params["index"], [self.atom(a) for a in parts])
        copy = ast.Call(ast.Attribute(source, "copy", ast.Load()), [], [])
        target = ast.Subscript(ast.Name(self.name(eqn.out), ast.Load()), index, ast.Store())
        return [ast.Assign([out], copy, lineno=0), ast.Assign([target], value, lineno=0)] + \
            ([self.record_stmt(eqn.out)] if self.recorder else [])

    def emit_list_append(self, eqn):
        """`terms.append(v)`: the list the generated code made, grown in place (its old value is
        never read again)."""
        call = ast.Call(ast.Attribute(self.atom(eqn.ins[0]), "append", ast.Load()),
                        [self.atom(eqn.ins[1])], [])
        return [ast.Expr(call)]

    def emit_accumulate(self, eqn):
        """Add into an accumulator the generated code owns: `dX[k] += g` or `dW += t` (np.add.at
        when an index array may repeat a place)."""
        acc = eqn.ins[0]
        if eqn.prim == "iadd" and self.lazy:  # a Dask array is never written in place
            return [ast.Assign([ast.Name(self.name(acc), ast.Store())],
                               ast.BinOp(ast.Name(self.name(acc), ast.Load()), ast.Add(),
                                         self.atom(eqn.ins[1])), lineno=0)]
        if eqn.prim == "iadd":
            return [ast.AugAssign(ast.Name(self.name(acc), ast.Store()), ast.Add(),
                                  self.atom(eqn.ins[1]))]
        parts = eqn.ins[2:]
        if any(self.is_array(a) or isinstance(a, Const) and isinstance(a.value, list) for a in parts):
            index = indexing.to_value_ast(eqn.params["index"], [self.atom(a) for a in parts],
                                          self.bind("slice", slice))
            call = ast.Call(ast.Attribute(ast.Attribute(ast.Name(self.bind("np", np), ast.Load()),
                                                        "add", ast.Load()), "at", ast.Load()),
                            [self.atom(acc), index, self.atom(eqn.ins[1])], [])
            return [ast.Expr(call)]
        if self.lazy:  # `dX = index_add(dX, index, g)`: a Dask array is never written in place
            return [self.lazy_index_add(self.name(acc), self.atom(acc), parts, eqn.params["index"],
                                        self.atom(eqn.ins[1]))]
        index = indexing.to_ast(eqn.params["index"], [self.atom(a) for a in parts])
        target = ast.Subscript(ast.Name(self.name(acc), ast.Load()), index, ast.Store())
        return [ast.AugAssign(target, ast.Add(), self.atom(eqn.ins[1]))]

    def lazy_index_add(self, target, acc, parts, template, value):
        """`target = index_add(acc, index, value)` (lazy.index_add: in place only into NumPy)."""
        from . import lazy  # noqa: PLC0415
        index = indexing.to_value_ast(template, [self.atom(a) for a in parts],
                                      self.bind("slice", slice))
        call = ast.Call(ast.Name(self.bind("index_add", lazy.index_add), ast.Load()),
                        [acc, index, value], [])
        return ast.Assign([ast.Name(target, ast.Store())], call, lineno=0)

    def emit_index_grad(self, eqn):
        """The adjoint of x[index]: a zero array with g added where x was read. With only
        integers and slices the places are distinct, so `+=` is exact; index arrays may repeat
        a place, so they go through np.add.at (support.index_grad)."""
        parts = eqn.ins[2:]
        if any(self.is_array(a) or isinstance(a, Const) and isinstance(a.value, list)
               for a in parts):
            call = self.helper_call(eqn, [self.atom(a) for a in eqn.ins])
            return [ast.Assign([ast.Name(self.name(eqn.out), ast.Store())],
                               self.recorded(eqn.out, call), lineno=0)]
        out = self.name(eqn.out)
        zeros = self.np_call("zeros_like", [self.atom(eqn.ins[1])])
        if self.lazy:
            return [self.lazy_index_add(out, zeros, parts, eqn.params["index"],
                                        self.atom(eqn.ins[0]))]
        index = indexing.to_ast(eqn.params["index"], [self.atom(a) for a in parts])
        target = ast.Subscript(ast.Name(out, ast.Load()), index, ast.Store())
        return [ast.Assign([ast.Name(out, ast.Store())], zeros, lineno=0),
                ast.AugAssign(target, ast.Add(), self.atom(eqn.ins[0]))] + \
            ([self.record_stmt(eqn.out)] if self.recorder else [])

    def emit_cond(self, eqn):
        then, orelse = eqn.params["then"], eqn.params["else"]
        then_stmts = self.emit_eqns(then.eqns) + self.assign(eqn.outs, then.results)
        else_stmts = self.emit_eqns(orelse.eqns) + self.assign(eqn.outs, orelse.results)
        test = self.atom(eqn.ins[0])
        if not then_stmts:
            test = ast.UnaryOp(ast.Not(), test)
            then_stmts, else_stmts = else_stmts, []
        if not then_stmts:
            return []
        return [ast.If(test, then_stmts, else_stmts)]

    def emit_loop(self, eqn):
        loop = Loop(eqn)
        body = loop.body
        params = loop.carried
        saved = loop.save
        stmts = self.assign(params, loop.inits)
        inner = []
        if eqn.prim == "while":
            test_graph = eqn.params["test"]
            inner += self.emit_eqns(test_graph.eqns)
            inner.append(ast.If(ast.UnaryOp(ast.Not(), self.atom(test_graph.results[0])),
                                [ast.Break()], []))
        if saved is not None:
            # Push as soon as every saved value exists: a carried value saved for the reverse pass
            # can then be overwritten by its new value in place, with no copy at the end.
            at = push_position(body, saved)
            inner += self.emit_eqns(body.eqns[:at + 1])
            tape = loop.tape
            stmts.append(ast.Assign([ast.Name(self.name(tape), ast.Store())], ast.List([], ast.Load()),
                                    lineno=0))
            pushed = (self.atom(saved[0]) if len(saved) == 1 else
                      ast.Tuple([self.atom(v) for v in saved], ast.Load()) if saved else ast.Constant(None))
            inner.append(ast.Expr(ast.Call(ast.Attribute(ast.Name(self.name(tape), ast.Load()),
                                                         "append", ast.Load()), [pushed], [])))
            inner += self.emit_eqns(body.eqns[at + 1:])
        else:
            inner += self.emit_eqns(body.eqns)
        inner += self.assign(params, loop.next, params)
        stop = loop.stop
        if isinstance(stop, Var):
            inner.append(ast.If(self.atom(stop), [ast.Break()], []))
        elif isinstance(stop, Const) and stop.value:
            inner.append(ast.Break())
        if not inner:
            inner = [ast.Pass()]
        if self.recorder:
            inner = [self.record_stmt(p) for p in body.params] + inner
        if eqn.prim == "for":
            index = loop.index
            start, stop_, step = loop.bounds
            args = [self.atom(stop_)] if _is_int(start, 0) and _is_int(step, 1) else \
                [self.atom(start), self.atom(stop_)] if _is_int(step, 1) else \
                [self.atom(start), self.atom(stop_), self.atom(step)]
            rng = ast.Call(ast.Name(self.bind("range", range), ast.Load()), args, [])
            stmts.append(ast.For(ast.Name(self.name(index), ast.Store()), rng, inner, []))
        else:
            stmts.append(ast.While(ast.Constant(True), inner, []))
        stmts += self.assign(loop.outs, params)
        return stmts

    def emit_loop_reverse(self, eqn):
        loop = ReverseLoop(eqn)
        body = loop.body
        tape = loop.tape
        loop_params = loop.carried
        stmts = self.assign(loop_params, loop.inits)
        saved = loop.saved
        if not saved:
            target = ast.Name(self.namer.fresh("_"), ast.Store())
        elif len(saved) == 1:
            target = ast.Name(self.name(saved[0]), ast.Store())
        else:
            target = ast.Tuple([ast.Name(self.name(v), ast.Store()) for v in saved], ast.Store())
        inner = self.emit_eqns(body.eqns) + self.assign(loop_params, loop.next, loop_params)
        if self.recorder:
            inner = [self.record_stmt(v) for v in saved] + inner
        backwards = ast.Call(ast.Name(self.bind("reversed", reversed), ast.Load()),
                             [self.atom(tape)], [])
        stmts.append(ast.For(target, backwards, inner or [ast.Pass()], []))
        stmts += self.assign(loop.outs, loop_params)
        return stmts

    def name_all(self, eqns):
        for eqn in eqns:
            for sub in eqn.params.values():
                if isinstance(sub, Graph):
                    for p in sub.params:
                        self.name(p)
                    self.name_all(sub.eqns)
            for v in eqn.outs:
                if v not in self.inline:
                    self.name(v)

    def result_expr(self, tree):
        if isinstance(tree, int):
            return self.atom(self.graph.results[tree])
        if isinstance(tree, Built):
            return self.built_expr(tree)
        return ast.Tuple([self.result_expr(t) for t in tree], ast.Load())

    def built_expr(self, tree):
        """A returned structure (has_aux's aux): literals of the results it holds."""
        kind, meta = tree.kind, tree.meta
        items = [self.result_expr(c) for c in tree.children]
        if kind == "tuple":
            return ast.Tuple(items, ast.Load())
        if kind == "list":
            return ast.List(items, ast.Load())
        if kind == "dict":
            return ast.Dict([_literal(k) if not isinstance(k, tuple) else _literal((k,))
                             for k in meta], items)
        if kind == "const":
            if meta is None or isinstance(meta, (bool, int, float, str, bytes)):
                return self.atom(Const(meta))
            return ast.Name(self.bind(getattr(meta, "__name__", "value"), meta), ast.Load())
        if kind == "call":  # a namedtuple: Cls(a, b)
            return ast.Call(ast.Name(self.bind(meta.__name__, meta), ast.Load()), items, [])
        if kind == "object":  # a dataclass or another object: its attributes set as they were
            cls, names = meta
            make = self.bind("make_object", support.make_object)
            return ast.Call(ast.Name(make, ast.Load()),
                            [ast.Name(self.bind(cls.__name__, cls), ast.Load()),
                             _literal(tuple(names)) if len(names) != 1 else
                             ast.Tuple([ast.Constant(names[0])], ast.Load())] + items, [])
        raise ValueError(kind)

    def dispatch_stmt(self, respecialize):
        fallback = self.bind("respecialize", respecialize)
        args = [ast.Name(n, ast.Load()) for n in self.param_names]
        kws = [ast.keyword(n, ast.Name(n, ast.Load())) for n in self.kwonly]
        return ast.Return(ast.Call(ast.Name(fallback, ast.Load()), args, kws))

    def guard_stmt(self, respecialize):
        if not self.guard:
            return []
        def is_not(value, typ):
            value = ast.Name(value, ast.Load()) if isinstance(value, str) else value
            return ast.Compare(ast.Call(ast.Name(self.bind("type", type), ast.Load()),
                                        [value], []),
                               [ast.IsNot()], [ast.Name(self.bind(typ.__name__, typ), ast.Load())])

        tests = []
        for n, need in self.guard.items():
            if need == "float":
                tests.append(is_not(n, float))
            elif need == "float64":  # a version for NumPy scalars: their arithmetic is NumPy's
                tests.append(is_not(n, np.float64))
            else:  # an argument not differentiated: any int or float will do
                tests.append(ast.BoolOp(ast.And(), [is_not(n, float), is_not(n, int)]))
        seen = set()
        for eqn in _env_reads(self.graph):  # globals and closure values are read live: check them too
            key = (eqn.prim, eqn.params["name"], id(eqn.params.get("_ns") or eqn.params.get("_cell")))
            if key in seen:
                continue
            seen.add(key)
            value = self.expression(eqn)
            tests.append(ast.BoolOp(ast.And(), [is_not(value, float), is_not(value, int)]))
        fallback = self.bind("respecialize", respecialize)
        args = [ast.Name(n, ast.Load()) for n in self.param_names]
        kws = [ast.keyword(n, ast.Name(n, ast.Load())) for n in self.kwonly]
        call = ast.Return(ast.Call(ast.Name(fallback, ast.Load()), args, kws))
        return [ast.If(test, [call], []) for test in tests]

    @stage("emit")
    def source(self, respecialize=None, entry=False):
        for name in self.param_names + self.kwonly:
            self.namer.used.add(name)
        for p in self.graph.params:
            self.namer.names[p] = p.hint
        # Name values in the order they are defined, then bind helpers around those names.
        self.plan = StoragePlan(self.graph, self.known_array, self.shapes, self.dtypes,
                                instrumented=self.recorder is not None)
        self.alias, self.inplace, self.frees = self.plan.alias, self.plan.inplace, self.plan.frees
        if self.recorder is None:
            self.inline = _inlinable(self.graph, self.is_array, self.plan.root)
        self.numpy = numpy_scalars(self.graph, set(self.numpy_params))
        self.name_all(self.graph.eqns)
        self.read_names = {self.name(v) for v in _reads(self.graph)}
        if entry:  # array code: the entry point only dispatches on the call's signature
            body = [self.dispatch_stmt(respecialize)]
        else:
            body = self.guard_stmt(respecialize) + self.body()
        args = ast.arguments(posonlyargs=[], args=[ast.arg(n) for n in self.param_names],
                             vararg=None, kwonlyargs=[ast.arg(n) for n in self.kwonly],
                             kw_defaults=[None] * len(self.kwonly), kwarg=None, defaults=[])
        inner = ast.FunctionDef(self.func_name, args, body, [], None)
        factory_name = self.namer.fresh(f"make_{self.func_name}")
        factory_args = ast.arguments(posonlyargs=[], args=[ast.arg(n) for n in self.bindings],
                                     vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
                                     defaults=[])
        factory = ast.FunctionDef(factory_name, factory_args,
                                  [inner, ast.Return(ast.Name(self.func_name, ast.Load()))], [], None)
        text = astor.to_source(factory, pretty_source="".join)
        comments = self.comments
        text = _COMMENT_LINE.sub(lambda m: f"{m.group(1)}# {comments[int(m.group(2))]}", text)
        return text, factory_name
