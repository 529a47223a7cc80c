"""IR -> Python source: one assignment per equation, built as an AST and printed with astor.

The emitted module is a factory whose parameters are everything the gradient reads besides its own
arguments and the user's globals: the functions it calls (`sin`, `np`...) and the user's closure
cells. The loader never calls the factory; it takes the inner function's code and gives it those
values as closure cells, so a name lookup costs one LOAD_DEREF and the user's cells stay live.

    def make_f_grad(respecialize):
        def f_grad(x, y, z):
            if type(x) is not float or ...:
                return respecialize(x, y, z)
            # line 3: q = x + y
            q = x + y
            # gradient of line 4: return q * z
            ...
            return z, z, q
        return make_f_grad

Every value is named from the user's names (see ir.Namer); none shadows a name the code reads.
"""
from __future__ import annotations

import ast
import builtins
import math
import re

import astor
import numpy as np

from .ir import Const, Namer, Var
from .primitives import PRIMS, callee

_COMMENT = "__comment__"
_COMMENT_LINE = re.compile(r"^(\s*)__comment__\((\d+)\)\s*$", re.M)


class Emitter:
    def __init__(self, graph, func_name, param_names, kwonly, user_blocked, user_owned,
                 user_globals, kinds=None, guard=(), result_tree=None):
        self.graph = graph
        self.func_name = func_name
        self.param_names = param_names
        self.kwonly = kwonly
        self.user_globals = user_globals
        self.kinds = kinds or {}
        self.guard = guard
        self.result_tree = result_tree
        self.bindings = {}      # name in the factory -> object (or a cell, see `cells`)
        self.cells = {}         # name -> the user's own cell object
        self._bound = {}        # (kind, key) -> name
        self.user_blocked = set(user_blocked)
        self.namer = Namer(blocked=self.user_blocked | {self.func_name, _COMMENT},
                           owned=set(user_owned) - self.user_blocked)
        self.comments = []

    # -- names --

    def bind(self, preferred, obj, key=None):
        """A factory parameter holding `obj`, named `preferred` unless that would shadow a user name."""
        key = ("obj", id(obj)) if key is None else key
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
        return self.namer(atom)

    # -- expressions --

    def atom(self, a):
        if isinstance(a, Const):
            v = a.value
            if isinstance(v, float) and (v != v or v in (math.inf, -math.inf)):
                return ast.Call(ast.Name(self.bind("float", float), ast.Load()), [ast.Constant(repr(v))], [])
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
                return ast.UnaryOp(ast.USub(), ast.Constant(-v))
            return ast.Constant(v)
        return ast.Name(self.name(a), ast.Load())

    def is_array(self, a):
        return isinstance(a, Var) and self.kinds.get(a) == "array"

    def lib_of(self, eqn):
        lib = eqn.params.get("lib")
        if lib is None:
            return "np" if any(self.is_array(a) for a in eqn.ins) else "math"
        return lib

    def call(self, prim, lib, args):
        module, attr, obj = callee(prim, lib)
        if module == "np":
            func = ast.Attribute(ast.Name(self.bind("np", np), ast.Load()), attr, ast.Load())
        else:
            func = ast.Name(self.bind(attr, obj), ast.Load())
        return ast.Call(func, args, [])

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
            if prim == "pow" and eqn.params.get("lib") is not None:
                return self.call(prim, eqn.params["lib"], ins)
            if prim in ("neg", "not"):
                return ast.UnaryOp(op, ins[0])
            if prim in ("and", "or"):
                return ast.BoolOp(op, ins)
            if isinstance(op, ast.cmpop):
                return ast.Compare(ins[0], [op], [ins[1]])
            return ast.BinOp(ins[0], op, ins[1])
        if prim == "select" and not array:
            return ast.IfExp(ins[0], ins[1], ins[2])
        if prim in ("max", "min") and eqn.params.get("lib") is None and not array:
            # Python's max(x, y) keeps x unless y > x; spelled inline, without a call.
            cmp = ast.Gt() if prim == "max" else ast.Lt()
            return ast.IfExp(ast.Compare(ins[1], [cmp], [ins[0]]), ins[1], ins[0])
        if prim == "sign" and not array and eqn.params.get("lib") != "np":
            x = ins[0]
            return ast.BinOp(ast.Compare(x, [ast.Gt()], [ast.Constant(0)]), ast.Sub(),
                             ast.Compare(x, [ast.Lt()], [ast.Constant(0)]))
        if prim in ("abs", "round", "float", "int") and eqn.params.get("lib") is None:
            name = {"abs": "abs", "round": "round", "float": "float", "int": "int"}[prim]
            return ast.Call(ast.Name(self.bind(name, getattr(builtins, name)), ast.Load()), ins, [])
        if prim in ("floor", "ceil", "trunc") and eqn.params.get("lib") is None:
            return self.call(prim, "np" if array else "math", ins)
        return self.call(prim, self.lib_of(eqn), ins)

    # -- statements --

    def comment(self, text):
        self.comments.append(text)
        return ast.Expr(ast.Call(ast.Name(_COMMENT, ast.Load()),
                                 [ast.Constant(len(self.comments) - 1)], []))

    def body(self):
        stmts = []
        last = None
        for eqn in self.graph.eqns:
            tag = None
            if eqn.loc:
                loc, phase = eqn.loc
                tag = (loc.filename, loc.lineno, phase)
                if tag != last:
                    text = loc.text.strip()
                    where = f"line {loc.lineno}" if loc.funcname == self.graph.name.removesuffix("_grad") \
                        else f"{loc.funcname}, line {loc.lineno}"
                    prefix = "gradient of " if phase == "adjoint" else ""
                    stmts.append(self.comment(f"{prefix}{where}: {text}"))
            last = tag
            value = self.expression(eqn)
            targets = [ast.Name(self.name(v), ast.Store()) for v in eqn.outs]
            target = targets[0] if len(targets) == 1 else ast.Tuple(targets, ast.Store())
            stmts.append(ast.Assign([target], value, lineno=0))
        stmts.append(ast.Return(self.result_expr(self.result_tree)))
        return stmts

    def result_expr(self, tree):
        if isinstance(tree, int):
            return self.atom(self.graph.results[tree])
        return ast.Tuple([self.result_expr(t) for t in tree], ast.Load())

    def guard_stmt(self, respecialize):
        if not self.guard:
            return []
        tests = [ast.Compare(ast.Call(ast.Name(self.bind("type", type), ast.Load()),
                                      [ast.Name(n, ast.Load())], []),
                             [ast.IsNot()], [ast.Name(self.bind("float", float), ast.Load())])
                 for n in self.guard]
        fallback = self.bind("respecialize", respecialize)
        args = [ast.Name(n, ast.Load()) for n in self.param_names]
        kws = [ast.keyword(n, ast.Name(n, ast.Load())) for n in self.kwonly]
        call = ast.Return(ast.Call(ast.Name(fallback, ast.Load()), args, kws))
        return [ast.If(test, [call], []) for test in tests]

    def source(self, respecialize=None):
        for name in self.param_names + self.kwonly:
            self.namer.used.add(name)
        for p in self.graph.params:
            self.namer.names[p] = p.hint
        # Name values in the order they are defined, then bind helpers around those names.
        for eqn in self.graph.eqns:
            for v in eqn.outs:
                self.name(v)
        for eqn in self.graph.eqns:
            self.expression(eqn)
        guard = self.guard_stmt(respecialize)
        body = guard + self.body()
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
