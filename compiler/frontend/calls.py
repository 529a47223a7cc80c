"""Calls: what a call in the user's code becomes, and how its arguments are read.

`Calls.call` resolves the called object (never its spelling): a primitive becomes one equation
(NumPy's array functions read their static arguments -- axis, keepdims, shapes -- when the graph is
built), a function with a rule of the user's becomes its equation, a list's sum() and len() are its
running values, and the user's own functions and nested `def`s are inlined: their bodies lowered
in place, their parameters bound to the call's arguments. A library's function is never read: it
needs a rule (`is_library`).
"""
from __future__ import annotations

import ast
import builtins
import dataclasses
import functools
import inspect
import math
import sys
import types

import numpy as np

from .. import trees
from ..aliasing import UNKNOWN
from ..custom import USER_RESOLVE
from ..errors import GradError, error_at
from ..ir import Const, Graph, Var
from ..library import BY_NAME as LIBRARY
from ..primitives import PRIMS, RESOLVE, VARIADIC, MethodCall, having
from . import fence
from .source import parse_function
from .values import (RETURNED, BoundMethod, ContainerMethod, DictVal, ListVal, LocalFunc,
                     NamedVal, ObjVal, OpaqueMethod, PartialVal, PyObj, Scope, TupleVal,
                     UserMethod, as_atom, constant, descends, what)

# NumPy functions whose keyword arguments (axis, keepdims, shape) are read when the graph is built
ARRAY_CALLS = having("static_args")


class Calls:
    """The calls of one lowering (`low`, whose builder, expressions and blocks they use)."""

    def __init__(self, lowering):
        self.low = lowering
        self.active = []  # functions being inlined, to refuse recursion

    def call(self, node, scope):
        low = self.low
        src = scope.src
        fence.check_call(src, node)
        func = low.expr(node.func, scope)
        if isinstance(func, PyObj):
            func = self.callable_form(func, node, scope)
        if isinstance(func, PyObj) and not _readable(func.obj):
            # a library's function with no rule: evaluated as written, a constant for the gradient
            return self.opaque_call(func.obj, node, scope)
        if isinstance(func, PyObj) and func.obj in (builtins.float, np.float64) \
                and len(node.args) == 1 and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            try:  # float("nan"), float("inf"): a constant
                return Const(float(node.args[0].value))
            except ValueError:
                raise error_at(src.location(node), "float() of this text is not a number.") from None
        args = [low.expr(a, scope) for a in node.args]
        kwargs = {k.arg: low.expr(k.value, scope) for k in node.keywords}
        if isinstance(func, PyObj) and func.obj is functools.partial:
            if not args:
                raise error_at(src.location(node), "functools.partial() needs a function.")
            return PartialVal(args[0], args[1:], kwargs)
        while isinstance(func, (PartialVal, UserMethod)):
            if isinstance(func, PartialVal):  # its bound arguments first, its keywords overridden
                args, kwargs = func.args + args, {**func.kwargs, **kwargs}
                func = func.func
            else:
                args = [func.receiver] + args
                func = PyObj(func.fn)
        if isinstance(func, BoundMethod):
            label = f".{node.func.attr}()"
            if func.prim == "reshape" and len(args) > 1:
                args = [TupleVal(args)]
            return self.call_primitive((func.prim, "np"), [func.value] + args, kwargs, node, src,
                                       label)
        if isinstance(func, ContainerMethod):
            return self.container_method(func, args, kwargs, node, src)
        if isinstance(func, OpaqueMethod):
            return self.opaque_call(MethodCall(func.name), node, scope, args=[func.value] + args,
                                    kwargs=kwargs)
        if isinstance(func, LocalFunc):
            # A nested def reads the enclosing function's variables as they are when it is called
            # (Python's late binding): in the same activation, that is the caller's scope, which
            # has followed every reassignment in branches and loops since the def.
            # Called from a function inlined meanwhile (`apply(lam, x)`), the defining
            # activation's current scope is the innermost caller scope of it on the stack.
            parent = next((s for s in [scope] + self.low.scope_stack[::-1]
                           if s.src is func.scope.src and descends(s, func.scope)), func.scope)
            return self.inline(func.node, func.scope.src, args, kwargs, node, scope,
                               parent=parent, defaults_owner=None)
        if not isinstance(func, PyObj):
            raise error_at(src.location(node.func),
                           f"{ast.unparse(node.func)} is a number, not a function.")
        obj = func.obj
        label = _callable_name(obj, node.func)
        if obj in (builtins.sum, builtins.len) and len(args) == 1 and isinstance(args[0], ListVal) \
                and not kwargs:
            return args[0].total if obj is builtins.sum else args[0].length
        if obj is builtins.len and len(args) == 1 and isinstance(args[0], (TupleVal, DictVal)):
            return Const(len(args[0].items))
        if obj is builtins.dict:
            return self.make_dict(args, kwargs, node, src)
        if obj in (builtins.list, builtins.tuple) and len(args) == 1 and not kwargs and \
                isinstance(args[0], (TupleVal, DictVal)):
            items = list(args[0].items) if isinstance(args[0], TupleVal) else \
                [Const(k) for k in args[0].items]
            return TupleVal(items, is_list=obj is builtins.list)
        if isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "_fields"):
            return self.make_record(obj, list(obj._fields), args, kwargs, node, src,
                                    getattr(obj, "_field_defaults", {}))
        if isinstance(obj, type) and dataclasses.is_dataclass(obj):
            fields = [f for f in dataclasses.fields(obj) if f.init]
            defaults = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
            return self.make_record(obj, [f.name for f in fields], args, kwargs, node, src,
                                    defaults)
        if obj in (np.array, np.asarray) and len(args) == 1 and isinstance(args[0], ListVal):
            return low.b.emit("stack_list", [args[0].items], axis=0)
        if obj is np.asarray and len(args) == 1 and not kwargs and isinstance(args[0], Var):
            return args[0]  # the same array, as NumPy gives it
        if obj in (np.array, np.asarray) and len(args) == 1 and not set(kwargs) - {"dtype"}:
            return self.array_literal(args[0], node, src)
        if obj is np.where and len(args) == 1 and not kwargs:  # np.where(cond): indices
            return self.opaque_call(obj, node, scope, args=args, kwargs=kwargs)
        prim = _lookup(RESOLVE, obj)
        user = _lookup(USER_RESOLVE, obj)
        if user is not None:  # a function with a rule of the user's (compiler.register)
            if kwargs:
                raise error_at(src.location(node), f"{label}() is registered with a rule: pass its "
                                                   "arguments by position.")
            return low.b.emit(user, [as_atom(v, src, node) for v in args])
        if prim is not None:
            return self.call_primitive(prim, args, kwargs, node, src, label)
        variadic = _lookup(VARIADIC, obj)
        if variadic is not None:
            if kwargs:
                raise error_at(src.location(node), f"{label}() with keyword arguments is not supported.")
            items = args
            if len(args) == 1 and isinstance(args[0], TupleVal):
                items = args[0].items
            if not items:
                raise error_at(src.location(node), f"{label}() needs at least one argument.")
            atoms = [as_atom(v, src, node) for v in items]
            result = atoms[0]
            for a in atoms[1:]:
                result = low.b.emit(variadic, [result, a])
            return result
        if obj is builtins.sum:
            if len(args) != 1 or not isinstance(args[0], TupleVal) or kwargs:
                raise error_at(src.location(node),
                               "sum() is supported on a tuple or a list of numbers here.")
            atoms = [as_atom(v, src, node) for v in args[0].items]
            result = Const(0)
            for a in atoms:
                result = low.b.emit("add", [result, a])
            return result
        if isinstance(obj, types.FunctionType):
            depth = self.active.count(obj) + (obj is low.root.fn)
            if depth >= RECURSION_LIMIT:
                exc = error_at(src.location(node),
                               f"{obj.__name__} calls itself more than {RECURSION_LIMIT} levels deep "
                               "here: recursion is unrolled when the graph is built, so its depth "
                               "must be decided by numbers known then (ints written in the code, "
                               "or int arguments, which are specialised by value). Rewrite it with "
                               "a loop otherwise.")
                exc.recursion = True  # (api.py specialises per int argument then)
                raise exc
            return self.inline_function(obj, args, kwargs, node, scope)
        return self.opaque_call(obj, node, scope, args=args, kwargs=kwargs)

    # -- function forms: methods of self, functools.partial --

    def callable_form(self, func, node, scope):
        """A global or closure value that is a functools.partial of the user's function: its
        function and its bound arguments (numbers and strings are constants of the code, arrays
        are read when the gradient runs, as a global is)."""
        obj = func.obj
        if trees.is_plain_object(obj) and isinstance(getattr(type(obj), "__call__", None),
                                                     types.FunctionType):
            # an object of the user's with __call__: its method, bound to it
            return UserMethod(type(obj).__call__, self.object_value(obj, scope.src, node))
        if not isinstance(obj, functools.partial):
            return func
        src = scope.src
        inner = self.callable_form(PyObj(obj.func), node, scope) if isinstance(
            obj.func, functools.partial) else PyObj(obj.func)
        if isinstance(obj.func, types.MethodType) or not isinstance(obj.func, types.FunctionType):
            raise error_at(src.location(node), "a functools.partial of something other than a "
                                               "function of yours (a method, a library's function) "
                                               "is not supported inside a differentiated function: "
                                               "make the partial here, of a function.")
        return PartialVal(inner, [self.bound_value(v, src, node) for v in obj.args],
                          {k: self.bound_value(v, src, node) for k, v in obj.keywords.items()})

    def bound_value(self, value, src, node):
        if isinstance(value, np.ndarray):
            ns = {"partial_arg": value}
            return self.low._read("global", "partial_arg", module="partial", _ns=ns, _root=False)
        if isinstance(value, (tuple, list)) and not hasattr(type(value), "_fields"):
            return TupleVal((self.bound_value(v, src, node) for v in value),
                            is_list=isinstance(value, list))
        if callable(value):
            return PyObj(value)
        return constant(value, src, node)

    def class_attribute(self, base, name, node, scope):
        """`self.name` that is not an attribute of the instance: its class's. A method is bound to
        self (inlined when called), a staticmethod is its function, a classmethod is bound to the
        class, a property is inlined now; a number is a constant of the class. None if absent."""
        cls = base.cls
        try:
            found = inspect.getattr_static(cls, name)
        except AttributeError:
            return None
        if isinstance(found, staticmethod):
            return PyObj(found.__func__)
        if isinstance(found, classmethod):
            return UserMethod(found.__func__, PyObj(cls))
        if isinstance(found, property) and isinstance(found.fget, types.FunctionType):
            return self.call_function(found.fget, [base], {}, node, scope)
        if isinstance(found, types.FunctionType):
            return UserMethod(found, base)
        value = getattr(cls, name)
        if isinstance(value, (bool, int, float, str)) or value is None:
            return Const(value)
        if callable(value):
            return PyObj(value)
        return None

    def object_value(self, obj, src, node, depth=0):
        """A global or closure object of the user's (`model` in `model.loss(x)`): its numbers
        and arrays read from its `__dict__` when the gradient runs (as globals are; a flag that
        chooses a function is fixed per value, api.ByValue), its strings constants of the code,
        its objects, lists and tuples likewise taken apart; other attributes are left out."""
        fixed = self.low.fixed
        module = type(obj).__name__

        def value(v, ns, name):
            if fixed is not None and (id(ns), name) in fixed.env:  # a flag choosing a function
                return Const(fixed.env[(id(ns), name)])
            if isinstance(v, str) or v is None:
                return Const(v)
            if isinstance(v, (bool, int, float, np.number)) or isinstance(v, np.ndarray) and \
                    v.dtype.kind in "biuf":
                return self.low._read("global", name, module=module, _ns=ns, _root=False)
            if isinstance(v, (list, tuple)) and not hasattr(type(v), "_fields"):
                seq = _Items(ns, name)  # self.layers[0][1]: read as layers_0_1 when it runs
                items = [value(x, seq, f"{name}_{k}") for k, x in enumerate(v)]
                if any(i is _SKIP for i in items):
                    return _SKIP
                return TupleVal(items, is_list=isinstance(v, list))
            if trees.is_plain_object(v) and depth < 20:
                return self.object_value(v, src, node, depth + 1)
            if callable(v):
                return PyObj(v)
            return _SKIP

        ns = vars(obj)
        attrs = {}
        for name, v in ns.items():
            found = value(v, ns, name)
            if found is not _SKIP:
                attrs[name] = found
        return ObjVal(type(obj), attrs)

    def merge_shapes(self, a, b, placeholder=False):
        """Two tuples, lists, dicts, namedtuples or objects of one structure with numbers at
        the bottom (a branch returning `loss, aux`): (a's leaves, b's leaves, a function that
        builds the structure of new leaves); None when they differ or hold anything else.
        `placeholder`: one side may be None (a return value not set on that path yet)."""
        if placeholder:
            if isinstance(b, Const) and b.value is None:
                b = _like(a)
            elif isinstance(a, Const) and a.value is None:
                a = _like(b)

        def walk(x, y, xs, ys):
            if isinstance(x, (Var, Const)) and isinstance(y, (Var, Const)):
                xs.append(x)
                ys.append(y)
                return lambda it: next(it)
            if type(x) is not type(y):
                return None
            if isinstance(x, TupleVal):
                if len(x.items) != len(y.items) or x.is_list != y.is_list or \
                        getattr(x, "cls", None) is not getattr(y, "cls", None):
                    return None
                parts = [walk(p, q, xs, ys) for p, q in zip(x.items, y.items)]
                if any(p is None for p in parts):
                    return None
                if isinstance(x, NamedVal):
                    return lambda it: NamedVal(x.cls, [p(it) for p in parts])
                return lambda it: TupleVal([p(it) for p in parts], is_list=x.is_list)
            if isinstance(x, (DictVal, ObjVal)):
                mine = x.items if isinstance(x, DictVal) else x.attrs
                theirs = y.items if isinstance(y, DictVal) else y.attrs
                if list(mine) != list(theirs) or getattr(x, "cls", None) is not getattr(y, "cls",
                                                                                        None):
                    return None
                parts = {k: walk(mine[k], theirs[k], xs, ys) for k in mine}
                if any(p is None for p in parts.values()):
                    return None
                if isinstance(x, DictVal):
                    return lambda it: DictVal({k: p(it) for k, p in parts.items()})
                return lambda it: ObjVal(x.cls, {k: p(it) for k, p in parts.items()})
            return None

        if not isinstance(a, (TupleVal, DictVal, ObjVal)):
            return None
        xs, ys = [], []
        build = walk(a, b, xs, ys)
        if build is None:
            return None
        return xs, ys, lambda leaves: build(iter(leaves))

    def peek(self, node, scope):
        """The value `name` or `name.attr...` holds, when a name or an object's attribute holds
        it (nothing is emitted); None otherwise."""
        if isinstance(node, ast.Name):
            try:
                return scope.lookup(node.id)
            except KeyError:
                return None
        if isinstance(node, ast.Attribute):
            base = self.peek(node.value, scope)
            if isinstance(base, (NamedVal, ObjVal)):
                return base.attr(node.attr)
        return None

    def call_function(self, obj, args, kwargs, node, scope):
        """Inline the user's module-level function `obj` called with these values."""
        src = scope.src
        if obj in self.active or obj is self.low.root.fn:
            raise error_at(src.location(node),
                           f"{obj.__name__} calls itself: recursion cannot be differentiated by "
                           "this compiler. Rewrite it with a loop.")
        return self.inline_function(obj, args, kwargs, node, scope)

    def inline_function(self, obj, args, kwargs, node, scope):
        """Read the module-level function `obj` and lower its body in place (`active` while it
        runs, for the recursion checks of the callers)."""
        callee = _parse_callee(obj, scope.src, node)
        self.low.sources.append(callee)
        self.active.append(obj)
        try:
            return self.inline(callee.node, callee, args, kwargs, node, scope,
                               parent=None, defaults_owner=obj)
        finally:
            self.active.pop()

    # -- a function chosen by a condition --

    def choose_function(self, test, scope, node):
        """A branch gives a name a function (`act = np.tanh if flag else relu`): which one a call
        runs must be known when the graph is built. When the test is made of arguments, globals
        and closure values only (and constants), NeedsValue asks api.py to build one graph per
        value of those (an int, bool or str argument, a global read at each call); otherwise the
        branch is refused."""
        src = scope.src
        low = self.low
        params, env, seen = set(), [], set()

        def trace(atom):
            if not isinstance(atom, Var) or atom in seen:
                return True
            seen.add(atom)
            if atom in low.root_params:
                params.add(atom.hint)
                return True
            eqn = low.producers.get(atom)
            if eqn is None or any(isinstance(v, Graph) for v in eqn.params.values()):
                return False
            if eqn.prim in ("global", "cell"):
                env.append(eqn)
                return True
            if eqn.prim == "call" and not eqn.params.get("zero_gradient"):
                return False
            return all(trace(a) for a in eqn.ins)

        refusal = error_at(src.location(node), CHOICE_REFUSED)
        if isinstance(test, Var) and trace(test) and (params or env):
            raise NeedsValue(src.location(node), params, env, refusal)
        raise refusal

    # -- has_aux --

    def split_aux(self, result, src):
        """A function differentiated with has_aux=True returns (loss, aux): the loss, aux's
        structure as the generated code returns it (emit.Built, results counted from 0), and
        the values aux holds, which become results of the graph (forward values)."""
        kept, node = self.low.returned_nodes.get(id(result), (None, src.node))
        node = node if kept is result else src.node
        where = src.location(getattr(node, "value", node))
        if not isinstance(result, TupleVal) or isinstance(result, NamedVal) \
                or len(result.items) != 2:
            raise error_at(where, f"{src.name} is differentiated with has_aux=True, so it must "
                                  "return a pair `return loss, aux` (aux: any values to return "
                                  "beside the gradient).")
        tree, atoms = self.split_tree(result.items[1], src, "aux", where)
        return result.items[0], tree, atoms

    def split_tree(self, value, src, label, where=None):
        """A returned structure as the generated code rebuilds it (emit.Built, results counted
        from 0) and the values it holds, which become results of the graph."""
        from ..emit import Built  # noqa: PLC0415
        if where is None:
            kept, node = self.low.returned_nodes.get(id(value), (None, src.node))
            node = node if kept is value else src.node
            where = src.location(getattr(node, "value", node))
        atoms = []

        def walk(value):
            if isinstance(value, Var):
                atoms.append(value)
                return len(atoms) - 1
            if isinstance(value, Const):
                return Built("const", value.value)
            if isinstance(value, ListVal):
                atoms.append(value.items)
                return len(atoms) - 1
            if isinstance(value, NamedVal):
                return Built("call", value.cls, [walk(v) for v in value.items])
            if isinstance(value, TupleVal):
                return Built("list" if value.is_list else "tuple", None,
                             [walk(v) for v in value.items])
            if isinstance(value, DictVal):
                return Built("dict", tuple(value.items), [walk(v) for v in value.items.values()])
            if isinstance(value, ObjVal):
                return Built("object", (value.cls, tuple(value.attrs)),
                             [walk(v) for v in value.attrs.values()])
            if isinstance(value, PyObj):
                return Built("const", value.obj)
            raise error_at(where, f"{label} holds {what(value)}, which the gradient cannot "
                                  "return: return numbers, arrays, strings and dicts, lists or "
                                  "tuples of them.")

        return walk(value), atoms

    # -- containers --

    def container_method(self, method, args, kwargs, node, src):
        d = method.value
        if method.name == "get":
            if kwargs or not 1 <= len(args) <= 2:
                raise error_at(src.location(node), "d.get(key) or d.get(key, default).")
            key = static(args[0], src, node, "a dict key")
            default = args[1] if len(args) == 2 else Const(None)
            return d.items.get(key, default)
        if args or kwargs:
            raise error_at(src.location(node), f".{method.name}() takes no arguments.")
        if method.name == "keys":
            return TupleVal(Const(k) for k in d.items)
        if method.name == "values":
            return TupleVal(d.items.values())
        return TupleVal(TupleVal([Const(k), v]) for k, v in d.items.items())

    def make_dict(self, args, kwargs, node, src):
        items = {}
        if len(args) > 1:
            raise error_at(src.location(node), "dict() takes at most one positional argument.")
        if args:
            if isinstance(args[0], DictVal):
                items.update(args[0].items)
            elif isinstance(args[0], TupleVal):
                for pair in args[0].items:
                    if not isinstance(pair, TupleVal) or len(pair.items) != 2:
                        raise error_at(src.location(node), "dict() of pairs (key, value).")
                    items[static(pair.items[0], src, node, "a dict key")] = pair.items[1]
            else:
                raise error_at(src.location(node), "dict() of a dict or of (key, value) pairs.")
        items.update(kwargs)
        return DictVal(items)

    def make_record(self, cls, fields, args, kwargs, node, src, defaults):
        """A namedtuple or dataclass made in the function: its fields are values."""
        if len(args) > len(fields):
            raise error_at(src.location(node), f"{cls.__name__}() takes {len(fields)} fields.")
        values = dict(zip(fields, args))
        for k, v in kwargs.items():
            if k not in fields or k in values:
                raise error_at(src.location(node), f"{cls.__name__}(): unexpected or repeated "
                                                   f"field `{k}`.")
            values[k] = v
        for f in fields:
            if f not in values:
                if f not in defaults:
                    raise error_at(src.location(node), f"{cls.__name__}() is missing `{f}`.")
                values[f] = constant(defaults[f], src, node)
        if issubclass(cls, tuple):
            return NamedVal(cls, [values[f] for f in fields])
        return ObjVal(cls, values)

    # -- calls with no rule --

    def opaque_call(self, obj, node, scope, args=None, kwargs=None):
        """A call of a callable with no rule (a SciPy function, the user's class, a C extension):
        evaluated as written when the gradient runs, its result a constant for the gradient. That
        is exact where no argument depends on a differentiated one; where one does, reverse.py
        refuses the call at this line (a piecewise-constant function such as np.argmax is fine)."""
        low = self.low
        src = scope.src
        if args is None:
            args = [low.expr(a, scope) for a in node.args]
            kwargs = {k.arg: low.expr(k.value, scope) for k in node.keywords}
        inputs = []

        def lay(value):
            if isinstance(value, Var):
                inputs.append(value)
                return ("in", len(inputs) - 1)
            if isinstance(value, Const):
                return ("const", value.value)
            if isinstance(value, PyObj):
                return ("const", value.obj)
            if isinstance(value, TupleVal):
                return ("tuple", [lay(v) for v in value.items])
            raise error_at(src.location(node),
                           f"{_callable_name(obj, node.func)} has no derivative rule, so it is called "
                           "as written with values the compiler can pass it: numbers, arrays, "
                           "constants and tuples of them, not "
                           f"{'a list built with append()' if isinstance(value, ListVal) else 'this value'}.")

        layout = ([lay(v) for v in args], [(k, lay(v)) for k, v in kwargs.items()])
        return low.b.emit("call", inputs,
                          fn=obj, layout=layout,
                          zero_gradient=_lookup_set(ZERO_GRADIENT, obj) or isinstance(
                              obj, MethodCall) and obj.name in ZERO_GRADIENT_METHODS,
                          label=_callable_name(obj, node.func), _where=src.location(node))

    # -- primitives --

    def call_primitive(self, prim_lib, args, kwargs, node, src, label):
        b = self.low.b
        prim, lib = prim_lib
        entry = LIBRARY.get(prim)
        if entry is not None:
            return self.library_call(entry, lib, args, kwargs, node, src, label)
        if prim in ARRAY_CALLS:
            return self.array_call(prim, args, kwargs, node, src, label)
        if kwargs:
            raise error_at(src.location(node),
                           f"{label}() keyword arguments are not supported: pass them by position.")
        atoms = [as_atom(v, src, node) for v in args]
        if prim == "log" and len(atoms) == 2:
            num = b.emit("log", [atoms[0]], lib=lib)
            den = b.emit("log", [atoms[1]], lib=lib)
            return b.emit("div", [num, den])
        if prim == "hypot" and lib == "math" and len(atoms) != 2:  # math.hypot(x, y, z, ...)
            return self.library_equations(LIBRARY["hypot_n"], lib, atoms, {}, node, src)
        if prim == "pow" and lib is None and len(atoms) == 3:
            raise error_at(src.location(node), "pow() with a modulus cannot be differentiated: "
                                               "write (x ** y) % m instead.")
        if prim == "round" and len(atoms) == 2:
            # round(x, n) is piecewise constant in x: its value is kept, no gradient flows.
            return b.emit("round", atoms, lib=lib, ndigits=True)
        arity = PRIMS[prim].arity
        if arity is not None and len(atoms) != arity:
            raise error_at(src.location(node),
                           f"{label}() takes {arity} argument{'s' if arity != 1 else ''} here, "
                           f"got {len(atoms)}.")
        if prim == "select":  # np.where: NumPy's broadcasting, even with a known condition
            return b.emit("select", atoms, lib="np")
        if PRIMS[prim].keeps_lib and lib is not None:  # math.log raises where np.log gives nan
            return b.emit(prim, atoms, lib=lib)
        return b.emit(prim, atoms)

    def library_call(self, entry, lib, args, kwargs, node, src, label):
        """A library function (compiler/library/): its arguments bound by the callable's own
        signature; the inputs become the equation's inputs, the static parameters its parameters,
        and any other argument must be left at its default."""
        sig = entry.signature()
        names = entry.inputs.split()
        if entry.bind is not None:
            ctx = _BindContext(src, node, label)
            try:
                inputs, params = entry.bind(list(args), dict(kwargs), ctx)
            except (TypeError, ValueError) as exc:
                raise error_at(src.location(node), f"{label}(): {exc}") from None
            return self.library_equations(entry, lib, inputs, dict(params), node, src)
        if sig is None:  # a ufunc: positional inputs only
            if kwargs or len(args) != len(names):
                raise error_at(src.location(node),
                               f"{label}() takes {len(names)} positional argument"
                               f"{'s' if len(names) != 1 else ''} here"
                               + (f", without keywords ({', '.join(kwargs)})" if kwargs else "")
                               + ".")
            bound, positional = {}, list(range(len(names)))
            inputs = list(args)
        else:
            try:
                binding = sig.bind(*args, **kwargs)
            except TypeError as exc:
                raise error_at(src.location(node), f"{label}(): {exc}.") from None
            order = list(sig.parameters)
            bound = dict(binding.arguments)
            inputs = []
            for name in order[:len(names)]:
                if name not in bound:
                    raise error_at(src.location(node), f"{label}() needs its argument `{name}`.")
                inputs.append(bound.pop(name))
        params = {}
        for name, value in bound.items():
            if name in entry.params:
                params[name] = static(value, src, node, f"{label}'s `{name}`")
                continue
            default = sig.parameters[name].default
            if isinstance(value, Const) and (value.value is default or value.value == default
                                              and type(value.value) is type(default)):
                continue
            raise error_at(src.location(node),
                           f"{label}(..., {name}=...) is not supported here: leave `{name}` at its "
                           f"default ({default!r}), or compute it another way.")
        return self.library_equations(entry, lib, inputs, params, node, src)

    def library_equations(self, entry, lib, inputs, params, node, src):
        atoms = [as_atom(v, src, node) for v in inputs]
        if PRIMS[entry.name].keeps_lib and lib is not None:
            params["lib"] = lib
        if entry.parts:  # a tuple of results: one equation per part (unread ones are dead code)
            return TupleVal([self.low.b.emit(entry.name, atoms, part=k, **params)
                             for k in range(entry.parts)])
        return self.low.b.emit(entry.name, atoms, **params)

    def array_call(self, prim, args, kwargs, node, src, label):
        """NumPy's array functions: static keyword arguments become parameters of the equation."""
        b = self.low.b

        def take(name, position, default=None):
            if name in kwargs:
                return kwargs.pop(name)
            if position is not None and len(args) > position:
                return args[position]
            return default

        if prim in ("sum", "mean", "amax", "amin", "prod"):
            if args and isinstance(args[0], TupleVal) and not isinstance(args[0], NamedVal):
                # np.sum([a, b, c]): the list is an array first (as NumPy makes it)
                args = [self.array_literal(args[0], node, src)] + list(args[1:])
            elif args and isinstance(args[0], ListVal):  # a list built with append
                args = [self.low.b.emit("stack_list", [args[0].items], axis=0)] + list(args[1:])
            x = as_atom(args[0], src, node)
            axis = static(take("axis", 1, Const(None)), src, node, "axis")
            keepdims = static(take("keepdims", 2, Const(False)), src, node, "keepdims")
            _no_more(kwargs, args, 3, label, src, node)
            params = {}
            if axis is not None:
                params["axis"] = axis
            if keepdims:
                params["keepdims"] = True
            return b.emit(prim, [x], lib="np", **params)
        if prim == "transpose":
            x = as_atom(args[0], src, node)
            axes = take("axes", 1, Const(None))
            if len(args) > 2:
                axes = TupleVal(args[1:])
            axes = static(axes, src, node, "axes")
            return b.emit("transpose", [x], **({"axes": tuple(axes)} if axes is not None else {}))
        if prim == "reshape":
            x = as_atom(args[0], src, node)
            shape = take("newshape", 1) if "shape" not in kwargs else kwargs.pop("shape")
            return b.emit("reshape", [x] + dims(shape, src, node))
        if prim in ("expand_dims", "squeeze"):
            x = as_atom(args[0], src, node)
            axis = static(take("axis", 1, Const(None)), src, node, "axis")
            if prim == "expand_dims" and axis is None:
                raise error_at(src.location(node), "np.expand_dims needs an axis.")
            return b.emit(prim, [x], **({"axis": axis} if axis is not None else {}))
        if prim in ("concatenate", "stack"):
            seq = args[0] if args else kwargs.pop("arrays", None)
            if prim == "stack" and isinstance(seq, ListVal):  # a list built with append()
                axis = static(take("axis", 1, Const(0)), src, node, "axis")
                return b.emit("stack_list", [seq.items], axis=axis)
            if not isinstance(seq, TupleVal):
                raise error_at(src.location(node),
                               f"{label}() takes a tuple or list of arrays written in the call.")
            axis = static(take("axis", 1, Const(0)), src, node, "axis")
            atoms = [as_atom(v, src, node) for v in seq.items]
            return b.emit(prim, atoms, axis=axis)
        if prim in ("zeros", "ones"):
            shape = take("shape", 0)
            kwargs.pop("dtype", None)
            return b.emit(prim, dims(shape, src, node), lib="np")
        if prim == "full":
            shape = take("shape", 0)
            value = as_atom(take("fill_value", 1), src, node)
            return b.emit("full", [value] + dims(shape, src, node), lib="np")
        if prim in ("zeros_like", "ones_like", "eye"):
            kwargs.pop("dtype", None)
            return b.emit(prim, [as_atom(args[0], src, node)], lib="np")
        if prim == "arange":
            return b.emit("arange", [as_atom(a, src, node) for a in args], lib="np")
        raise error_at(src.location(node), f"{label}() is not supported here.")

    def array_literal(self, value, node, src):
        """np.array([a, b, ...]) of numbers (or of such lists): a stack of the values."""
        if isinstance(value, TupleVal):
            atoms = [self.array_literal(v, node, src) if isinstance(v, TupleVal)
                     else as_atom(v, src, node) for v in value.items]
            return self.low.b.emit("stack", atoms, axis=0)
        return self.low.b.emit("copy", [as_atom(value, src, node)])

    # -- the user's functions --

    def inline(self, fnode, src, args, kwargs, call_node, caller_scope, parent, defaults_owner):
        """Lower a called function's body in place, its parameters bound to the call's arguments."""
        low = self.low
        caller = caller_scope.src
        spec = fnode.args
        names = [a.arg for a in spec.args]
        kwonly = [a.arg for a in spec.kwonlyargs]
        if len(args) > len(names):
            raise error_at(caller.location(call_node),
                           f"{fnode.name}() takes {len(names)} positional arguments but "
                           f"{len(args)} were given.")
        bound = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names and key not in kwonly:
                raise error_at(caller.location(call_node),
                               f"{fnode.name}() got an unexpected keyword argument `{key}`.")
            if key in bound:
                raise error_at(caller.location(call_node),
                               f"{fnode.name}() got multiple values for argument `{key}`.")
            bound[key] = value
        defaults = self.defaults(fnode, src, defaults_owner, parent)
        scope = Scope(src, parent)
        for name in names + kwonly:
            if name in bound:
                scope.vars[name] = bound[name]
                scope.params[name] = bound[name]
                scope.views[name] = UNKNOWN  # the caller's value: other names may see it
            elif name in defaults:
                scope.vars[name] = defaults[name]
            else:
                raise error_at(caller.location(call_node),
                               f"{fnode.name}() is missing the argument `{name}`.")
            low.user_locals.add(name)
        saved_loc = low.b.loc
        body = fnode.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]
        scope.vars[RETURNED] = Const(False)
        low.scope_stack.append(caller_scope)
        try:
            low.block(body, scope)
        finally:
            low.scope_stack.pop()
        low.b.loc = saved_loc
        return low.returned_value(scope, src, fnode)

    def defaults(self, fnode, src, owner, parent):
        """The values of a called function's defaults."""
        spec = fnode.args
        names = [a.arg for a in spec.args]
        out = {}
        if owner is not None:  # a module-level function: its defaults are already evaluated
            for name, value in zip(names[len(names) - len(owner.__defaults__ or ()):],
                                   owner.__defaults__ or ()):
                out[name] = constant(value, src, fnode)
            for name, value in (owner.__kwdefaults__ or {}).items():
                out[name] = constant(value, src, fnode)
            return out
        # A nested def: its default expressions are evaluated where it is defined.
        scope = parent
        for name, expr in zip(names[len(names) - len(spec.defaults):], spec.defaults):
            out[name] = self.low.expr(expr, scope)
        for a, expr in zip(spec.kwonlyargs, spec.kw_defaults):
            if expr is not None:
                out[a.arg] = self.low.expr(expr, scope)
        return out


CHOICE_REFUSED = ("a branch here gives a name a function, and which function a call runs must be "
                  "known when the gradient is built: its condition may be made of constants, "
                  "globals and bool, int or str arguments (one version per value), not of values "
                  "the function differentiates or computes. Call each function in its own branch "
                  "instead.")


class NeedsValue(GradError):
    """The graph depends on the value of some arguments (`params`, names) and globals or closure
    values (`env`, their read equations): api.py builds one graph per value."""

    def __init__(self, location, params, env, refusal=None):
        self.refusal = refusal
        super().__init__(error_at(location, "a branch here chooses a function by a condition on "
                                            "arguments or globals whose values are not fixed "
                                            "here (inside a container, say): call each function "
                                            "in its own branch instead.").args[0])
        self.params = set(params)
        self.env = list(env)


_SKIP = object()  # an attribute object_value leaves out


def _like(value):
    """A structure like `value` with None at every leaf (merge_shapes' placeholder)."""
    if isinstance(value, NamedVal):
        return NamedVal(value.cls, [_like(v) for v in value.items])
    if isinstance(value, TupleVal):
        return TupleVal([_like(v) for v in value.items], is_list=value.is_list)
    if isinstance(value, DictVal):
        return DictVal({k: _like(v) for k, v in value.items.items()})
    if isinstance(value, ObjVal):
        return ObjVal(value.cls, {k: _like(v) for k, v in value.attrs.items()})
    return Const(None)


class _Items:
    """A list or tuple an object holds (`parent[key]`, looked up when the gradient runs, so a
    list replaced between calls is seen), its items read by name (`layers_0`) as a global's
    namespace is."""

    def __init__(self, parent, key):
        self.parent, self.key = parent, key

    def __getitem__(self, name):
        return self.parent[self.key][int(name.rsplit("_", 1)[1])]

    def get(self, name, default=None):
        try:
            return self[name]
        except (IndexError, ValueError):
            return default


# --- reading arguments ---------------------------------------------------------------------------

RECURSION_LIMIT = 64  # levels of a function calling itself, unrolled


class _BindContext:
    """What a library entry's `bind` asks of the frontend: constants and the items of sequences."""

    def __init__(self, src, node, label):
        self.src, self.node, self.label = src, node, label

    def const(self, value, what="argument"):
        return static(value, self.src, self.node, f"{self.label}'s {what}")

    def items(self, value):
        if isinstance(value, TupleVal):
            return list(value.items)
        raise error_at(self.src.location(self.node),
                       f"{self.label}() takes a tuple or list of arrays written in the call here.")


def static(value, src, node, what):
    """A build-time constant (an axis, keepdims, ord="fro"): a number, a string, a bool, None, or
    a tuple of them."""
    if isinstance(value, Const):
        return value.value
    if isinstance(value, PyObj) and isinstance(value.obj, (type, np.dtype)):
        return value.obj  # a dtype: np.float32
    if isinstance(value, TupleVal):
        return tuple(static(v, src, node, what) for v in value.items)
    raise error_at(src.location(node),
                   f"{what} must be a constant written in the code (such as 0 or (0, 1)), "
                   "so the shape of the result is known when the gradient is built.")


def dims(value, src, node):
    """A shape argument: an int, a tuple of ints, or x.shape."""
    if isinstance(value, TupleVal):
        return [as_atom(v, src, node) for v in value.items]
    return [as_atom(value, src, node)]


def _no_more(kwargs, args, max_args, label, src, node):
    if kwargs or len(args) > max_args:
        extra = ", ".join(kwargs) or f"{len(args)} arguments"
        raise error_at(src.location(node), f"{label}(): {extra} not supported here.")


def _parse_callee(obj, src, node):
    if getattr(obj, "_sourcead", None) is not None or getattr(obj, "__module__", None) == \
            "compiler.transforms":
        called = ast.unparse(node.func) if isinstance(node, ast.Call) else obj.__name__
        raise error_at(src.location(node),
                       f"`{called}` is a compiled derivative of `{obj.__name__}` (grad, jvp, "
                       "hvp...): calling one inside a function being differentiated is not "
                       f"supported. Take the derivative you need of `{obj.__name__}` itself: "
                       "hessian(f) or hvp(f) for second derivatives, grad(grad(f)) of a "
                       "function of one number.")
    try:
        return parse_function(obj)
    except GradError as exc:
        raise error_at(src.location(node), f"cannot differentiate through {obj.__name__}: {exc}") from None


# --- libraries -----------------------------------------------------------------------------------

# Functions whose result is piecewise constant in their arguments (indices, tests, counts): called
# as written even on differentiated values, their gradient is zero.
ZERO_GRADIENT = {np.argmax, np.argmin, np.argsort, np.argwhere, np.nonzero, np.flatnonzero,
                 np.searchsorted, np.digitize, np.isnan, np.isinf, np.isfinite, np.isclose,
                 np.allclose, np.array_equal, np.count_nonzero, np.any, np.all, np.signbit,
                 np.where, np.sign, np.floor, np.ceil, np.rint, np.trunc, np.heaviside,
                 np.greater, np.less, np.equal, np.not_equal, np.greater_equal, np.less_equal,
                 np.logical_and, np.logical_or, np.logical_not, np.shape, np.ndim, np.size,
                 np.iscomplexobj, np.isscalar}
ZERO_GRADIENT |= {getattr(math, n) for n in ("isnan", "isinf", "isfinite", "isclose")}
ZERO_GRADIENT |= {np.empty_like, np.empty, np.zeros_like, np.ones_like, isinstance, type}
ZERO_GRADIENT_METHODS = {"argmax", "argmin", "argsort", "nonzero", "any", "all", "searchsorted"}


def _lookup_set(table, obj):
    try:
        return obj in table
    except TypeError:
        return False


_LIBRARY_ROOTS = {"numpy", "scipy", "sympy", "torch", "jax", "pandas", "sklearn", "autograd",
                  "dask", "numba", "tensorflow"}


# Where "your code" ends, moved by the user (compiler.treat_as_library / treat_as_your_code).
EXTRA_LIBRARIES = set()
YOUR_CODE = set()


def treat_as_library(*modules):
    """Never read these top-level packages' functions: call them as written where no gradient
    flows through them, and ask for a rule (compiler.register) where one does."""
    YOUR_CODE.difference_update(modules)
    EXTRA_LIBRARIES.update(modules)


def treat_as_your_code(*modules):
    """Read and differentiate these top-level packages' functions as your own, even when installed
    in site-packages."""
    EXTRA_LIBRARIES.difference_update(modules)
    YOUR_CODE.update(modules)


def is_library(fn):
    """Whether a Python function belongs to a library (NumPy, SciPy, the standard library, any
    installed package) rather than to the user's code: a library's functions are never read and
    inlined; where they are differentiated they need a rule. Decided by module and file: the
    standard library, site-packages, and the packages above; an editable install of the user's
    own package is the user's code. treat_as_library / treat_as_your_code move the line."""
    module = (getattr(fn, "__module__", None) or "").split(".")[0]
    if module in YOUR_CODE:
        return False
    if module in _LIBRARY_ROOTS or module in EXTRA_LIBRARIES \
            or module in getattr(sys, "stdlib_module_names", ()):
        return True
    code = getattr(fn, "__code__", None)
    filename = code.co_filename if code is not None else ""
    return "site-packages" in filename or "dist-packages" in filename


def _readable(obj):
    """Whether the frontend knows what to do with a call to `obj` (a rule, or source to read)."""
    if _lookup(RESOLVE, obj) or _lookup(USER_RESOLVE, obj) or _lookup(VARIADIC, obj):
        return True
    if obj in (builtins.sum, builtins.len, builtins.range, builtins.float, builtins.enumerate,
               builtins.zip, np.array, np.asarray, np.float64):
        return True
    if isinstance(obj, types.FunctionType):
        return not is_library(obj)
    return not callable(obj) or isinstance(obj, type) and not issubclass(obj, np.generic)


def _no_rule_message(obj, func_node):
    label = _callable_name(obj, func_node)
    return (f"{label} has no derivative rule here, and the compiler does not read a library's "
            "source. Write the computation with supported functions (see the README's list), "
            "wrap a Python implementation of it in a `def` of your own, or register a rule: "
            f"compiler.register({label.split('.')[-1]}, vjp) with vjp(g, out, *args) returning "
            "each argument's gradient.")


def _lookup(table, obj):
    try:
        return table.get(obj)
    except TypeError:
        return None


def _callable_name(obj, func_node):
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if name and module in ("math", "builtins"):
        return name if module == "builtins" else f"math.{name}"
    if name and module and module.startswith("numpy"):
        public = module.replace("numpy.linalg._linalg", "numpy.linalg").replace(
            "numpy._core.", "numpy.").replace("numpy.core.", "numpy.")
        if public.startswith("numpy._") or public in ("numpy.fromnumeric", "numpy.multiarray",
                                                      "numpy.numeric", "numpy.umath"):
            public = "numpy"
        return f"{public}.{name}"
    if name:
        return name
    return ast.unparse(func_node)
