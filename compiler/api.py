"""The user's entry points: `grad`, `value_and_grad`, `check_grad`.

Decorating runs the whole pipeline once: frontend (source -> IR), reverse (IR -> gradient IR),
passes (fold, share, prune), emit (IR -> Python source), loader (source -> function). What the user
gets back *is* the generated function, with the pipeline's products as attributes:

    f.source       the generated Python source (exactly what runs)
    f.graph        the primal IR (print it), f.grad_graph the optimised gradient IR
    f.dot()        the primal graph in Graphviz DOT (f.draw(*args, backward=True): a picture)
    f.check(*a)    compiled vs central differences at a point (see check_grad)
    f.__wrapped__  the user's original function

Calling it costs one guard (`type(x) is not float` per differentiated argument) before the
straight-line code; anything else goes through `respecialize`, which converts float-like values
(np.float64, 0-d float arrays) and refuses the rest with a GradError.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import gc
import inspect
import os
import random
import sys
import threading
import types

import numpy as np

from . import frontend, trees
from . import drawing, lazy
from .buildlog import building, stage
from .emit import Emitter
from .errors import GradError, error_at
from .frontend import identifiers
from .loader import load
from .support import Deopt
from .ir import Graph, format_graph, type_names
from .passes import optimize
from .primitives import METHODS, PRIMS
from .specialize import (Recorder, environment, kind_of, materialize_results, needs_values,
                         signature_key, specialise_gradient, statically_scalar)
from .forward import forward
from .reverse import reverse
from .rules import TABLE as RULE_TABLE, MissingRule, MissingTangent
from .ir import regions
from .frontend.calls import NeedsValue

_build_lock = threading.RLock()


@contextlib.contextmanager
def _deep_recursion(limit=20000):
    """Room for the recursive walks over deeply nested user code (`-(-(-...x))`, long `elif`
    chains): Python 3.11 keeps Python-to-Python calls off the C stack, so this is safe."""
    old = sys.getrecursionlimit()
    if old < limit:
        sys.setrecursionlimit(limit)
    try:
        yield
    finally:
        if old < limit:
            sys.setrecursionlimit(old)


@contextlib.contextmanager
def _random_state_kept(values):
    """Run the user's code an extra time (a new signature's first call runs it to learn shapes)
    without advancing random number generators: NumPy's and Python's global ones and any
    Generator or RandomState among the arguments are put back afterwards, so the call that returns
    draws the numbers a plain call of f would."""
    generators = [v for v in values if isinstance(v, (np.random.Generator, np.random.RandomState))]
    saved = (np.random.get_state(), random.getstate(),
             [g.bit_generator.state if isinstance(g, np.random.Generator) else g.get_state()
              for g in generators])
    try:
        yield
    finally:
        np.random.set_state(saved[0])
        random.setstate(saved[1])
        for g, state in zip(generators, saved[2]):
            if isinstance(g, np.random.Generator):
                g.bit_generator.state = state
            else:
                g.set_state(state)


def grad(fn=None, wrt=0, simplify=None, has_aux=False, cache=True):
    """The gradient of a scalar function: `grad(f)`, `@grad`, or `@grad(wrt=("x", "y"))`.

    `wrt` is a parameter index, a parameter name, or a tuple of them; a tuple gives a tuple of
    gradients, in the same order. `simplify="sympy"` also simplifies scalar gradients with SymPy
    (compiler/symbolic.py: bounded in size and time). `has_aux=True`: f returns `(loss, aux)`,
    the gradient is of loss, and the result is `(gradient, aux)` (as in JAX). `cache=False`: build
    it afresh, without the on-disk cache of generated code (compiler/cache.py; SOURCEAD_CACHE=off
    turns it off everywhere).
    """
    if fn is None:
        return lambda f: grad(f, wrt=wrt, simplify=simplify, has_aux=has_aux, cache=cache)
    return _compile_cached(fn, wrt, False, simplify, has_aux, cache)


def value_and_grad(fn=None, wrt=0, simplify=None, has_aux=False, cache=True):
    """`(f(*args), gradient)` from one generated function (the forward values are shared).
    `has_aux=True`: f returns `(loss, aux)` and the result is `((loss, aux), gradient)`."""
    if fn is None:
        return lambda f: value_and_grad(f, wrt=wrt, simplify=simplify, has_aux=has_aux,
                                        cache=cache)
    return _compile_cached(fn, wrt, True, simplify, has_aux, cache)


def _compile_cached(fn, wrt, with_value, simplify, has_aux, cache):
    """`_compile`, through the on-disk cache of generated code where it applies (a plain function;
    compiler/cache.py decides the rest)."""
    if cache not in (True, False):
        raise GradError(f"cache={cache!r}: pass True or False.")
    if not cache or not isinstance(fn, types.FunctionType) or \
            getattr(fn, "_sourcead", None) is not None:
        return _compile(fn, wrt, with_value=with_value, simplify=simplify, has_aux=has_aux)
    from . import cache as disk  # noqa: PLC0415
    return disk.compile_through(fn, wrt, with_value, simplify, has_aux, _compile)


def _compile(fn, wrt, with_value, simplify=None, has_aux=False, fixed=None):
    if has_aux not in (True, False):
        raise GradError(f"has_aux={has_aux!r}: pass True or False.")
    inner = getattr(fn, "_sourcead", None)
    if inner is not None:
        if has_aux:
            raise GradError(f"{fn.__name__} is a compiled gradient: has_aux=True is for the "
                            "function that returns (loss, aux), not for a gradient of it.")
        return _higher(fn, inner, wrt, with_value, simplify)
    if not isinstance(fn, types.FunctionType):
        form = _form(fn, wrt)
        if form is not None:
            return form.compile(with_value, simplify, has_aux)
    with _build_lock, _deep_recursion(), building(fn):
        collecting = gc.isenabled()
        gc.disable()  # building makes many small objects and no cycles worth collecting
        try:
            if simplify not in (None, "sympy"):
                raise GradError(f'simplify={simplify!r}: use simplify="sympy" or leave it out.')
            try:
                compiled = Compiled(fn, wrt, with_value, simplify, has_aux=has_aux, fixed=fixed)
            except NeedsValue as need:
                if fixed is not None:
                    raise  # ByValue.build widens its key and builds again
                return ByValue(fn, wrt, with_value, simplify, has_aux, need).function()
            except GradError as exc:
                if getattr(exc, "recursion", False) and _has_other_parameters(fn, wrt):
                    # power(x, n) calling itself with n - 1: specialised per value of its ints
                    return Structured(fn, wrt, with_value, simplify, None, exc,
                                      has_aux=has_aux, fixed=fixed, ints_by_value=True).deferred()
                if not _reads_containers(fn):
                    raise
                # written for containers (params["W"], for W, b in layers): built per structure
                # when called with them; a call with plain values says why it cannot run
                return Structured(fn, wrt, with_value, simplify, None, exc,
                                  has_aux=has_aux, fixed=fixed).deferred()
            compiled.structured = Structured(fn, wrt, with_value, simplify, compiled, None,
                                             has_aux=has_aux, fixed=fixed)
            return compiled.function
        except GradError:
            raise
        except Exception as exc:  # a compiler bug: say so plainly, pointing at the user's function
            if os.environ.get("SOURCEAD_DEBUG"):
                raise
            raise internal_error(fn, f"differentiating {getattr(fn, '__name__', fn)}",
                                 exc) from None
        finally:
            if collecting:
                gc.enable()


def internal_error(fn, doing, exc):
    """A failure of ours while `doing` something to the user's `fn`: said plainly, at fn."""
    code = getattr(fn, "__code__", None)
    where = f'File "{code.co_filename}", line {code.co_firstlineno}, in {fn.__name__}\n' \
        if code else ""
    return GradError(f"{where}internal compiler error while {doing}: {type(exc).__name__}: "
                     f"{exc}\nThis is a bug in sourcead, not in your code; please report it with "
                     "the function. Set SOURCEAD_DEBUG=1 to see the compiler's traceback.")


class Fixed:
    """Values a graph is built for (ByValue): arguments by name, globals and closure cells."""

    def __init__(self, params, env):
        self.params = params   # name -> value
        self.env = env         # (id(namespace), name) or id(cell) -> value

    def knows(self, src, ident):
        return self._key(src, ident) in self.env

    def value(self, src, ident):
        return self.env[self._key(src, ident)]

    @staticmethod
    def _key(src, ident):
        if ident in src.cells:
            return id(src.cells[ident])
        return (id(src.globals), ident)


_BY_VALUE_TYPES = (bool, int, str, type(None), np.bool_, np.integer)


class ByValue:
    """A function where a branch chooses a function (`act = np.tanh if flag else relu`) by a
    condition on arguments or globals (calls.choose_function): one compiled function per value
    of those, the globals read at every call (as Python would read them)."""

    def __init__(self, fn, wrt, with_value, simplify, has_aux, need):
        self.fn, self.wrt, self.with_value = fn, wrt, with_value
        self.simplify, self.has_aux = simplify, has_aux
        self.signature = inspect.signature(fn)
        self.params, self.env = [], []
        self.refusal = need.refusal
        self.widen(need)
        self.versions = {}
        self.lock = threading.RLock()

    def widen(self, need):
        src = frontend.parse_function(self.fn)
        wrt_names = {self.signature_names()[i] for i in _wrt_indices(src, self.wrt)[0]}
        for name in sorted(need.params):
            if name not in self.signature.parameters:
                raise need
            if name in wrt_names:
                raise GradError(f"{need.refusal}\n(The condition depends on `{name}`, which is "
                                "differentiated.)") from None
            if name not in self.params:
                self.params.append(name)
        for eqn in need.env:
            if eqn.prim == "global":
                ns, name = eqn.params["_ns"], eqn.params["name"]
                entry = ((id(ns), name), lambda ns=ns, name=name: ns.get(name))
            else:
                cell = eqn.params["_cell"]
                entry = (id(cell), lambda cell=cell: cell.cell_contents)
            if entry[0] not in [k for k, _ in self.env]:
                self.env.append(entry)

    def signature_names(self):
        names = getattr(self, "_names", None)
        if names is None:
            names = self._names = list(self.signature.parameters)
        return names

    def key(self, args, kwargs):
        names = self.signature_names()
        if not kwargs and len(args) == len(names):  # the common call: all by position
            values = [args[names.index(n)] for n in self.params]
        else:
            bound = self.signature.bind(*args, **kwargs)
            bound.apply_defaults()
            values = [bound.arguments[n] for n in self.params]
        values += [get() for _, get in self.env]
        for v, what in zip(values, self.params + [k[1] if isinstance(k, tuple) else "a closure "
                                                   "value" for k, _ in self.env]):
            if not isinstance(v, _BY_VALUE_TYPES):
                raise GradError(f"{self.refusal}\n(`{what}` decides it and holds a "
                                f"{type(v).__name__}: it may be a bool, an int, a str or None, "
                                "one gradient is built per value.)")
        return tuple((type(v), v) for v in values)

    def __call__(self, args, kwargs):
        key = self.key(args, kwargs)
        inner = self.versions.get(key)
        if inner is None:
            with self.lock, _build_lock:
                inner = self.versions.get(key)
                if inner is None:
                    inner = self.build(args, kwargs)
        return inner(*args, **kwargs)

    def fixed_for(self, key, base=None):
        """The Fixed values of a key (base: values fixed already, by an enclosing ByValue)."""
        values = [v for _, v in key]
        params = dict(zip(self.params, values[:len(self.params)]))
        env = {k: v for (k, _), v in zip(self.env, values[len(self.params):])}
        if base is not None:
            params, env = {**base.params, **params}, {**base.env, **env}
        return Fixed(params, env)

    def build(self, args, kwargs):
        for _ in range(20):
            key = self.key(args, kwargs)
            fixed = self.fixed_for(key)
            try:
                inner = _compile(self.fn, self.wrt, self.with_value, self.simplify, self.has_aux,
                                 fixed=fixed)
            except NeedsValue as need:  # a further condition: its values join the key
                self.widen(need)
                self.versions.clear()
                continue
            self.versions[key] = inner
            return inner
        raise GradError(f"{self.fn.__name__}: too many conditions choose functions.")

    def function(self):
        by_value = self

        def function(*args, **kwargs):
            return by_value(args, kwargs)

        functools.update_wrapper(function, self.fn)
        function._sourcead = self
        function.versions = self.versions
        function.export = _no_export(self.fn, "a condition in it chooses which function to call, "
                                              "so its code depends on values")
        return function


def _no_export(fn, why):
    """`.export` of a gradient that cannot be exported (compiler/export.py): says why."""
    def export(path, args=None):
        raise GradError(f"{fn.__name__}: its gradient cannot be exported: {why}. Export a "
                        "function of numbers and arrays (a wrapper that takes them apart).")
    return export


class _Form:
    """A callable that is not a plain function: `functools.partial(f, ...)`, a bound method
    (`model.loss`), a classmethod, an object with `__call__`. The user's function is compiled
    with the arguments the form binds passed first (read at every call, never baked in): a
    method's `self` is taken apart by its attributes (api.Structured, trees.flatten with
    objects), so `self.w` is read when the gradient runs and `wrt="self"` gives their gradients
    by name; `wrt` names the form's own parameters (as inspect.signature(form) lists them)."""

    def __init__(self, fn, base, prefix, keywords, forced, wrt):
        self.fn, self.base, self.prefix, self.keywords = fn, base, prefix, keywords
        self.forced, self.wrt = forced, wrt

    def compile(self, with_value, simplify, has_aux):
        if self.forced:
            inner = Structured(self.base, self.wrt, with_value, simplify, None, None,
                               has_aux=has_aux, forced=self.forced).deferred()
        else:
            inner = _compile(self.base, self.wrt, with_value, simplify, has_aux)
        prefix, keywords = self.prefix, self.keywords

        def function(*args, **kwargs):
            if keywords:
                kwargs = {**keywords, **kwargs}
            return inner(*prefix, *args, **kwargs)

        try:
            functools.update_wrapper(function, self.fn)
        except (AttributeError, TypeError):
            pass
        function.__wrapped__ = self.fn
        function.inner = inner
        function._sourcead = self  # a higher derivative of it is refused (api._higher)
        for attribute in ("source", "versions", "graph", "grad_graph", "ir", "source_for",
                          "ir_for", "dot"):
            if hasattr(inner, attribute):
                setattr(function, attribute, getattr(inner, attribute))
        return function


def _form(fn, wrt):
    """The _Form of a partial, bound method, classmethod or callable object; None otherwise."""
    original = fn
    prefix, keywords = [], {}
    self_name = None
    for _ in range(100):
        if isinstance(fn, functools.partial):
            prefix = list(fn.args) + prefix
            keywords = {**fn.keywords, **keywords}
            fn = fn.func
        elif isinstance(fn, types.MethodType):
            prefix = [fn.__self__] + prefix
            fn = fn.__func__
            if isinstance(fn, types.FunctionType) and self_name is None and len(prefix) == 1:
                self_name = fn.__code__.co_varnames[0] if fn.__code__.co_argcount else None
        elif isinstance(fn, (types.FunctionType, type, types.BuiltinFunctionType)):
            break
        elif callable(fn) and isinstance(getattr(type(fn), "__call__", None), types.FunctionType):
            fn = fn.__call__  # an object with __call__: its method, bound to it
        else:
            break
    if not isinstance(fn, types.FunctionType) or fn is original:
        return None
    try:
        remaining = list(inspect.signature(original).parameters)
    except (TypeError, ValueError):
        remaining = []
    base_names = list(inspect.signature(fn).parameters)
    items = wrt if isinstance(wrt, (tuple, list)) else (wrt,)
    mapped = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise GradError(f"wrt={wrt!r}: name parameters by position (0, 1...) or by name ('x').")
        if isinstance(item, int):
            if not -len(remaining) <= item < len(remaining):
                raise GradError(f"wrt={item}, but {_form_label(original)} takes "
                                f"{len(remaining)} argument(s): {', '.join(remaining) or 'none'}.")
            mapped.append(remaining[item])
        elif item in remaining or item == self_name and self_name in base_names:
            mapped.append(item)
        else:
            raise GradError(f"wrt names `{item}`, but {_form_label(original)} takes no such "
                            f"argument; it takes: {', '.join(remaining) or 'none'}"
                            + (f" (and `{self_name}`, its instance)" if self_name else "") + ".")
    forced = {}
    for k, value in enumerate(prefix):
        if isinstance(value, type):
            forced[k] = "const"  # a classmethod's class: known when the graph is built
        elif trees.is_plain_object(value) or k == 0 and self_name is not None:
            forced[k] = "object"
    mapped = tuple(mapped) if isinstance(wrt, (tuple, list)) else mapped[0]
    return _Form(original, fn, prefix, keywords, forced, mapped)


def _form_label(fn):
    name = getattr(fn, "__qualname__", None) or getattr(getattr(fn, "func", None), "__name__",
                                                        None) or type(fn).__name__
    return f"{name}"


_ARRAY_ATTRIBUTES = {"T", "shape", "ndim", "size", "dtype", "real", "imag", "flat"}


class _ForwardHigher:
    """grad(grad(f)) where reverse over reverse cannot go (a loop replays a tape): the gradient
    graph differentiated forwards with the tangent 1.0 (a second derivative of one argument),
    and so on for any depth (each level forwards over the one before, its tangents set to 1.0)."""

    def __init__(self, fn, compiled, ones, pick):
        self.fn, self.compiled, self.ones, self.pick = fn, compiled, ones, pick


def _forward_higher(fn, inner, wrt, with_value):
    if isinstance(inner, _ForwardHigher):
        graph, lowering, ones = inner.compiled.grad_graph, inner.compiled.lowering, inner.ones + 1
        user, pick = inner.fn, len(inner.compiled.grad_graph.results) - 1
    else:
        graph, lowering, ones, user, pick = inner.grad_graph, inner.lowering, 0, inner.fn, 0
    if isinstance(wrt, (tuple, list)):
        raise GradError(f"{fn.__name__}: a higher derivative through a loop is taken with respect "
                        "to one argument (wrt=name); for mixed second derivatives use "
                        "compiler.hessian(f, wrt=(...)).")
    with _build_lock, _deep_recursion():
        try:
            compiled = Compiled(user, wrt, False, mode="jvp", primal=(graph, lowering))
        except GradError:
            raise
    nresults = len(graph.results)
    tail = (1.0,) * (ones + 1)
    function_of = compiled

    signature = inspect.signature(user)

    def function(*args, **kwargs):
        if kwargs or len(args) != len(signature.parameters):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = tuple(bound.arguments.values()), {}
        values, tangents = function_of.function(*args, *tail)
        derivative = tangents if nresults == 1 else tangents[pick]
        if with_value:
            return (values if nresults == 1 else values[pick]), derivative
        return derivative

    functools.update_wrapper(function, user)
    function.source = compiled.function.source
    function.source_for = lambda *args: compiled.source_for(*args, *tail)
    function._sourcead = _ForwardHigher(user, compiled, ones, pick)
    return function


def _higher(fn, inner, wrt, with_value, simplify):
    """grad(grad(f)): the gradient graph of f, as the IR it is, differentiated again. Done for
    scalar code that returns one derivative (any depth); array code needs rules for the adjoint
    helpers (unbroadcast, sum_grad...), which the transformations issue adds."""
    if isinstance(inner, _ForwardHigher):
        return _forward_higher(fn, inner, wrt, with_value)
    if not isinstance(inner, Compiled) or inner.scalar_version is None or inner.with_value \
            or inner.wrt_is_tuple or inner.flat or inner.has_aux or inner.mode != "grad":
        raise GradError(
            f"{fn.__name__} is a compiled gradient that takes arrays, returns several derivatives, "
            "or its value too: a higher derivative is taken here of a scalar function's gradient "
            "with respect to one argument (grad(grad(f)), any depth). For the rest, differentiate "
            "the original function (fn.__wrapped__) or use the tape's create_graph=True.")
    graph = specialise_gradient(inner.grad_graph, inner.gradient_of())
    graph = optimize(Graph(inner.func_name, graph.params, graph.eqns, graph.results))
    # what a second reverse pass cannot see through: loops (replayed from a tape), and the adjoint
    # helpers and accumulations (internal primitives) that have no formula of their own yet
    blocking = sorted({e.prim for e in _all_eqns(graph)
                       if e.prim != "cond" and (regions(e) or e.prim not in RULE_TABLE or (
                           PRIMS[e.prim].internal and e.prim not in ("zero_like", "deopt", "write_check")
                           and not any(f is not None for f in RULE_TABLE[e.prim].formulas)))})
    if blocking and any(e.prim in ("for", "while") for e in _all_eqns(graph)):
        return _forward_higher(fn, inner, wrt, with_value)  # forward over reverse: no tape issue
    if blocking:
        raise GradError(
            f"{fn.__name__}: a higher derivative of this gradient is not supported yet: it uses "
            f"{', '.join(blocking)} (loops are replayed from a tape, and array adjoints call helpers "
            "that have no rules of their own yet). Differentiate straight-line scalar code, or use "
            "the tape (runtime) with create_graph=True.")
    with _build_lock, _deep_recursion():
        try:
            compiled = Compiled(inner.fn, wrt, with_value, simplify, primal=(graph, inner.lowering),
                                user_call=inner.function)
        except MissingRule as exc:
            raise GradError(f"{fn.__name__}: its gradient uses {exc}; higher derivatives of it are "
                            "not supported yet.") from None
    return compiled.function


def _offset(tree, by, constants_to_zero=False):
    """A result tree (an index, a tuple of trees, an emit.Built) with every index moved by `by`
    (and, for a tangent's tree, the numbers it returns as constants made 0.0)."""
    if isinstance(tree, int):
        return tree + by
    if isinstance(tree, tuple):
        return tuple(_offset(t, by, constants_to_zero) for t in tree)
    if tree.kind == "const":
        number = isinstance(tree.meta, (int, float)) and not isinstance(tree.meta, bool)
        return type(tree)("const", 0.0) if constants_to_zero and number else tree
    return type(tree)(tree.kind, tree.meta, [_offset(c, by, constants_to_zero)
                                             for c in tree.children])


def _fresh_name(name, taken):
    """`name`, or `name_1`, `name_2`... : the first that no name in `taken` is (then taken)."""
    base, n = name, 0
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def _all_eqns(graph):
    for eqn in graph.eqns:
        yield eqn
        for region in regions(eqn):
            yield from _all_eqns(region)


def _has_other_parameters(fn, wrt):
    """Whether `fn` has parameters that are not differentiated (an int among them may decide a
    recursion's depth)."""
    src = frontend.parse_function(fn)
    indices, _, names = _wrt_indices(src, wrt)
    return len(set(indices)) < len(names)


def _reads_containers(fn):
    """Whether `fn` reads a parameter as a container: p["w"], p.w (not an array's attribute),
    a loop over p (or its items), unpacking a, b = p, len(p)."""
    try:
        src = frontend.parse_function(fn)
    except GradError:
        return False
    spec = src.node.args
    params = {a.arg for a in spec.args + spec.kwonlyargs}

    def is_param(node):
        return isinstance(node, ast.Name) and node.id in params

    def iterates_param(it):  # layers, params.items(), zip(ws, bs), enumerate(zip(...)), layers[1:]
        if is_param(it) or isinstance(it, ast.Subscript) and is_param(it.value):
            return True
        if isinstance(it, ast.Call):
            receiver = it.func.value if isinstance(it.func, ast.Attribute) else None
            return (receiver is not None and is_param(receiver)) or any(
                iterates_param(a) for a in it.args)
        return False

    for node in ast.walk(src.node):
        if isinstance(node, ast.Subscript) and is_param(node.value) and not isinstance(
                node.slice, (ast.Slice, ast.Tuple)):
            return True
        if isinstance(node, ast.Attribute) and is_param(node.value) and \
                node.attr not in _ARRAY_ATTRIBUTES and node.attr not in METHODS:
            return True
        if isinstance(node, (ast.For, ast.comprehension)) and iterates_param(node.iter):
            return True
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple) and \
                is_param(node.value):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (
                "dict", "list", "tuple", "len", "sorted") and any(is_param(a) for a in node.args):
            return True
    return False


class Structured:
    """Calls with containers (dicts, lists, tuples, namedtuples, dataclasses) as arguments: one
    version per structure of the arguments (trees.py), taking the leaves; the gradient of a container
    argument comes back with its structure (None where it holds a constant)."""

    def __init__(self, fn, wrt, with_value, simplify, plain, error, has_aux=False, forced=None,
                 fixed=None, ints_by_value=False):
        self.fn, self.wrt_spec, self.with_value, self.simplify = fn, wrt, with_value, simplify
        self.ints_by_value = ints_by_value  # recursion decided by int arguments: one version each
        self.has_aux = has_aux
        self.fixed = fixed   # values fixed by an enclosing ByValue
        self.choice = None   # a ByValue of this function's own (a condition choosing a function)
        # argument index -> "object" (a method's self: taken apart by its attributes) or "const"
        # (a classmethod's class): see _form
        self.forced = forced or {}
        self.plain = plain
        self.error = error
        self.signature = inspect.signature(fn)
        self.versions = {}
        self.lock = threading.RLock()
        self.last = None
        src = frontend.parse_function(fn)
        indices, _, names = _wrt_indices(src, wrt)
        self.names, self.nparams = names, len(names)
        self.function = plain.function if plain is not None else None
        self.wrt_args = set(indices)
        self.wrt_names = tuple(names[i] for i in indices)

    def structural(self, k, value):
        """Whether argument k is taken as a container: a differentiated one always; another one
        when it is a dict, a namedtuple, a dataclass or holds more than numbers (a flat list of
        numbers stays what NumPy makes of it, an array)."""
        if k in self.forced:
            return True
        if self.ints_by_value and k not in self.wrt_args and isinstance(
                value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            return True
        if not trees.is_container(value):
            return False
        if k in self.wrt_args or not isinstance(value, (list, tuple)) or trees.is_namedtuple(value):
            return True
        return not all(isinstance(v, (int, float, bool, np.number)) for v in value)

    def wants(self, args, kwargs):
        if kwargs:
            try:
                bound = self.signature.bind(*args, **kwargs)
            except TypeError:
                return False
            names = list(self.signature.parameters)
            return any(self.structural(names.index(n), v) for n, v in bound.arguments.items())
        return any(self.structural(k, v) for k, v in enumerate(args))

    def __call__(self, args, kwargs):
        if not kwargs and len(args) == self.nparams:
            names, values = self.names, args  # the common call: every argument by position
        else:
            bound = self.signature.bind(*args, **kwargs)
            bound.apply_defaults()
            names = list(bound.arguments)
            values = list(bound.arguments.values())
        structural = [self.structural(k, v) for k, v in enumerate(values)]
        if not any(structural):
            raise self.error
        flats = [self.flatten(k, v) if s else (trees.LEAF, [v])
                 for k, (v, s) in enumerate(zip(values, structural))]
        # which leaves of a differentiated object are differentiated: its floats and float arrays
        masks = tuple(tuple(_differentiable(leaf) for leaf in flats[k][1])
                      if self.forced.get(k) == "object" and k in self.wrt_args else None
                      for k in range(len(flats)))
        for _ in range(20):
            choice = self.choice.key(args, kwargs) if self.choice is not None else None
            key = tuple(t for t, _ in flats) + (masks, choice)
            compiled = self.versions.get(key)
            if compiled is not None:
                break
            with self.lock, _build_lock, _deep_recursion():
                compiled = self.versions.get(key)
                if compiled is None:
                    try:
                        compiled = self.build(names, key)
                    except NeedsValue as need:  # a function chosen by an argument's value
                        if self.choice is None:
                            self.choice = ByValue(self.fn, self.wrt_spec, self.with_value,
                                                  self.simplify, self.has_aux, need)
                        else:
                            self.choice.widen(need)
                        self.versions.clear()
                        continue
                    self.versions[key] = compiled
            break
        if compiled is not self.last:
            self.last = compiled
            shown = getattr(self, "function", None)
            if shown is not None:  # a function built for containers shows the version that ran
                shown.source, shown.versions = compiled.source, compiled.versions
                shown.source_for = lambda *a, **k: compiled.source
        for k in compiled.wrt_args:
            for j, leaf in enumerate(flats[k][1]):
                if masks[k] is not None and not masks[k][j]:
                    continue
                if leaf.__class__ is not float and leaf.__class__ is not np.ndarray and isinstance(
                        leaf, (bool, np.bool_, int, np.integer)):
                    raise GradError(
                        f"{self.fn.__name__}: `{names[k]}` is differentiated and holds the integer "
                        f"{leaf!r}: an integer has no gradient. Store it as a float ({float(leaf)!r}), "
                        f"or keep it out of `{names[k]}` (as JAX's grad refuses it too).")
        flat = [leaf for _, leaves in flats for leaf in leaves]
        out = compiled.function(*flat)
        return self.restructure(compiled, key, out, flats)

    def flatten(self, k, value):
        how = self.forced.get(k)
        if how == "const":
            return ("const", value), []
        if how is None and not trees.is_container(value):  # an int, by value (ints_by_value)
            return ("const", int(value)), []
        try:
            return trees.flatten(value, objects=how == "object")
        except TypeError as exc:  # an attribute that is neither data nor a constant: a set...
            name = list(self.signature.parameters)[k] if k < len(self.signature.parameters) \
                else str(k)
            raise GradError(f"{self.fn.__name__}: `{name}` cannot be taken apart: {exc}.") from None

    def build(self, names, key):
        masks, choice = key[len(names)], key[len(names) + 1]
        fixed = self.choice.fixed_for(choice, self.fixed) if choice is not None else self.fixed
        key = key[:len(names)]
        structures = {n: t for n, t in zip(names, key) if t != trees.LEAF}

        def user_call(*flat):
            it = iter(flat)
            return self.fn(*[trees.unflatten(t, it) if t != trees.LEAF else next(it) for t in key])

        try:
            compiled = Compiled(self.fn, self.wrt_spec, self.with_value, self.simplify,
                                structures=structures, user_call=user_call, has_aux=self.has_aux,
                                masks={n: m for n, m in zip(names, masks) if m is not None},
                                fixed=fixed)
        except GradError:
            raise
        except Exception as exc:
            if os.environ.get("SOURCEAD_DEBUG"):
                raise
            raise GradError(f"internal compiler error while differentiating {self.fn.__name__} "
                            f"for containers: {type(exc).__name__}: {exc}\nThis is a bug in "
                            "sourcead, not in your code; please report it.") from None
        wrt_indices, is_tuple, _ = _wrt_indices(compiled.src, self.wrt_spec)
        compiled.wrt_args = wrt_indices
        compiled.wrt_given_as_tuple = is_tuple
        compiled.masks = masks
        # per differentiated argument: how many gradients it gets (a differentiated object's
        # leaves that are not floats get none)
        compiled.leaf_counts = [sum(masks[k]) if masks[k] is not None else
                                len(trees.leaf_paths(key[k])) if key[k] != trees.LEAF else 1
                                for k in wrt_indices]
        return compiled

    def restructure(self, compiled, key, out, flats):
        aux = None
        if self.has_aux:  # ((value, aux), grads) or (grads, aux)
            (value, aux), grads = out if self.with_value else ((None, out[1]), out[0])
        else:
            value, grads = (out if self.with_value else (None, out))
        per_arg = []
        start = 0
        masks = compiled.masks
        for k, n in zip(compiled.wrt_args, compiled.leaf_counts):
            t = key[k]
            leaves = flats[k][1] if masks[k] is None else \
                [leaf for leaf, d in zip(flats[k][1], masks[k]) if d]
            mine = [float(g) if leaf.__class__ is float and isinstance(g, np.floating) else g
                    for g, leaf in zip(grads[start:start + n], leaves)]  # a float's is a float
            start += n
            if masks[k] is not None:  # a differentiated object: None for its leaves not floats
                it = iter(mine)
                mine = [next(it) if d else None for d in masks[k]]
            per_arg.append(trees.gradient_structure(t, mine) if t != trees.LEAF else mine[0])
        result = tuple(per_arg) if compiled.wrt_given_as_tuple else per_arg[0]
        if self.has_aux:
            return ((value, aux), result) if self.with_value else (result, aux)
        return (value, result) if self.with_value else result

    def deferred(self):
        """The function `grad` returns when the function only makes sense with containers."""
        structured = self

        def function(*args, **kwargs):
            return structured(args, kwargs)

        functools.update_wrapper(function, self.fn)
        function._sourcead = self
        function.source = (f"# {self.fn.__name__} reads its arguments as containers (dicts, lists, "
                           "tuples...): its gradient is built for their structure when it is "
                           "first called with them; call it, then read .source again\n")
        function.versions = {}
        function.wrt = self.wrt_names
        function.export = _no_export(self.fn, "it reads its arguments as containers (dicts, "
                                              "lists, objects)")
        self.function = function
        return function


def _differentiable(leaf):
    return isinstance(leaf, (float, np.floating)) or \
        isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f"


def _wrt_indices(src, wrt):
    spec = src.node.args
    names = [a.arg for a in spec.args + spec.kwonlyargs]
    items = wrt if isinstance(wrt, (tuple, list)) else (wrt,)
    indices = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise error_at(src.location(src.node),
                           f"wrt={wrt!r}: name parameters by position (0, 1...) or by name ('x').")
        if isinstance(item, int):
            if not -len(names) <= item < len(names):
                raise error_at(src.location(src.node),
                               f"wrt={item}, but {src.name} has {len(names)} parameter(s): "
                               f"{', '.join(names) or 'none'}.")
            indices.append(item % len(names))
        else:
            if item not in names:
                raise error_at(src.location(src.node),
                               f"wrt names `{item}`, but {src.name} has no such parameter; its "
                               f"parameters are: {', '.join(names) or 'none'}.")
            indices.append(names.index(item))
    if not indices:
        raise error_at(src.location(src.node), "wrt is empty: name at least one parameter.")
    return indices, isinstance(wrt, (tuple, list)), names


def _where_called(fn):
    code = fn.__code__
    return f'File "{code.co_filename}", line {code.co_firstlineno}, in {fn.__name__}\n'


class Compiled:
    """One decorated function: the graphs, the generated source, and the entry function."""

    # scalar code reading no globals, its versions keyed by the arguments' types alone: the
    # float version's guard sends np.float64 calls to respecialize, whose lookup is then short
    types_only = False

    def __init__(self, fn, wrt, with_value, simplify=None, structures=None, user_call=None,
                 has_aux=False, masks=None, fixed=None, primal=None, mode="grad"):
        self.fn = fn
        self.mode = mode  # "grad"; "vjp": takes the output's adjoint last; "jvp": tangents last
        self.scalar_output = False  # (set for a Hessian: its function's output is checked)
        with_value = with_value or mode == "vjp"  # a vjp returns the output and its gradients
        self.simplify = simplify
        self.with_value = with_value
        self.has_aux = has_aux
        self.structured = None  # calls with containers: api.Structured
        self.user_call = user_call or fn  # what check_result runs (a structured version: the leaves)
        # as written (what f.graph shows), or a gradient's graph to differentiate again
        self.primal, self.lowering = primal or frontend.lower(
            fn, structures, has_aux, fixed, outputs=mode != "grad" and not has_aux)
        src = self.lowering.root
        self.src = src
        self.wrt, self.wrt_is_tuple, self.names = _wrt_indices(src, wrt)
        spec = src.node.args
        self.positional = [a.arg for a in spec.args]
        self.kwonly = [a.arg for a in spec.kwonlyargs]
        self.signature = inspect.signature(fn)
        self.leaf_owner = {}
        self.flat = bool(structures)
        if structures:
            # one parameter per leaf of a container argument: the version takes the leaves
            leaves = self.lowering.leaf_names
            flat, wrt_flat = [], []
            for k, name in enumerate(self.names):
                mine = leaves.get(name, [name])
                if k in self.wrt:
                    mask = (masks or {}).get(name)
                    wrt_flat.append([len(flat) + j for j in range(len(mine))
                                     if mask is None or mask[j]])
                for leaf in mine:
                    self.leaf_owner[leaf] = name
                flat += mine
            order = {k: i for i, k in enumerate(self.wrt)}
            self.wrt = [i for k in sorted(order, key=order.get) for i in
                        wrt_flat[sorted(self.wrt).index(k)]]
            self.names = flat
            self.positional, self.kwonly = flat, []
            self.signature = inspect.Signature(
                [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in flat])
            self.wrt_is_tuple = True
        # a derivative's graph differentiated again may take more than the user's parameters
        # (the tangents of forward over reverse, api._forward_higher)
        earlier = [p.hint for p in self.primal.params[len(self.names):]]
        if earlier:
            self.names = self.names + earlier
            self.positional = self.positional + earlier
            self.signature = self.signature.replace(parameters=list(
                self.signature.parameters.values()) + [
                inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)
                for n in earlier])
        self.user_count = len(self.names) - len(earlier)  # the user's parameters
        taken_names = set(self.names) | identifiers(src)
        if mode == "jvp":
            extra = [_fresh_name(f"{self.names[i]}_dot", taken_names) for i in self.wrt]
        elif mode == "vjp":  # an adjoint for each value the function returns
            extra = [_fresh_name("dout", taken_names)
                     for _ in (self.primal.results[:1] if has_aux else self.primal.results)]
        else:
            extra = []
        if extra:
            if self.kwonly:
                raise GradError(f"{fn.__name__} has keyword-only parameters: {mode} takes the "
                                "function's arguments by position; wrap it (lambda x, y: "
                                f"{fn.__name__}(x, key=y)).")
            self.names = self.names + extra
            self.positional = self.positional + extra
            self.signature = self.signature.replace(parameters=list(
                self.signature.parameters.values()) + [
                inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)
                for n in extra])
        self.extra_names = earlier + extra
        try:
            # differentiated after folding, sharing and pruning (lists never stacked, say)
            if mode == "jvp":  # (with has_aux, the tangent of the output alone)
                raw = forward(optimize(self.primal), self.wrt, extra,
                              results=[0] if has_aux else None)
            elif mode == "vjp":
                from .ir import Var  # noqa: PLC0415
                raw = reverse(optimize(self.primal), self.wrt, True, seed=[Var(n) for n in extra])
            else:
                raw = reverse(optimize(self.primal), self.wrt, with_value)
        except (MissingRule, MissingTangent) as exc:  # a primitive without a rule: said plainly
            raise GradError(f"{fn.__name__}: no {'tangent' if mode == 'jvp' else 'derivative'} "
                            f"rule for {exc}.") from None
        self.grad_graph = materialize_results(optimize(raw))
        grads_tree = tuple(range(int(with_value), int(with_value) + len(self.wrt)))
        if not self.wrt_is_tuple:
            grads_tree = grads_tree[0]  # a single gradient is returned bare
        self.tree = (0, grads_tree) if with_value else grads_tree
        output_tree = getattr(self.lowering, "output_tree", None) if primal is None else None
        if mode == "jvp" and not has_aux:  # the values, then their tangents, in one structure
            k = len(self.grad_graph.results) // 2
            if output_tree is None:
                output_tree = 0 if k == 1 else tuple(range(k))
            self.tree = (output_tree, _offset(output_tree, k, constants_to_zero=True))
        elif mode == "vjp" and not has_aux:  # the output as returned, then the gradients
            k = len(self.primal.results)
            self.tree = (output_tree if output_tree is not None else 0, _offset(grads_tree, k - 1))
        if has_aux and mode == "jvp":  # the output, aux's values, the output's tangent
            aux = self.lowering.aux_tree
            aux = aux + 1 if isinstance(aux, int) else aux.offset(1)
            self.tree = (0, len(self.grad_graph.results) - 1, aux)
        elif has_aux:  # aux's values follow the gradients among the results
            aux = self.lowering.aux_tree
            first = int(with_value) + len(self.wrt)
            aux = aux + first if isinstance(aux, int) else aux.offset(first)
            self.tree = ((0, aux), grads_tree) if with_value else (grads_tree, aux)
        suffix = mode if mode != "grad" else "value_and_grad" if with_value else "grad"
        base = primal[0].name if primal else fn.__name__  # (f_grad for grad(grad(f)))
        func_name = f"{base}_{suffix}" if base.isidentifier() else suffix
        taken = set(self.lowering.env_reads) | set(fn.__globals__) | set(dir(builtins))
        for s_ in self.lowering.sources:
            taken |= identifiers(s_)
        self.func_name, n = func_name, 0
        while self.func_name in taken:  # never hide a name the generated code reads
            n += 1
            self.func_name = f"{func_name}_{n}"
        blocked = set()
        for s in self.lowering.sources:
            blocked |= identifiers(s)
        self.owned = self.lowering.user_locals
        self.blocked = blocked - self.owned | self.lowering.env_reads
        self.by_value = needs_values(self.grad_graph)
        self.env = environment(self.grad_graph)
        self.cache = {}
        self.fast = {}  # signature of positional arguments -> version (no checks left to do)
        self.npos = len(self.positional) if not self.kwonly else -1
        self.lock = threading.RLock()
        self.scalar_version = None
        if statically_scalar(self.grad_graph):
            # Scalar code: specialised for floats now; the guard sends anything else to respecialize.
            wrt_names = {self.names[i] for i in self.wrt} | set(extra)
            guard = {n: "float" if n in wrt_names else "scalar" for n in self.names}
            self.float_names = wrt_names
            self.scalar_simplify = self.sympy_pass() if simplify else None
            scalar = specialise_gradient(self.grad_graph, self.gradient_of(),
                                         simplify=self.scalar_simplify)
            self.source, self.function = self.emit(scalar, guard=guard, kinds={},
                                                   default_kind="scalar")
            self.scalar_version = self.function
        else:
            # Array code: every call goes through respecialize, which keeps one version per
            # signature; `.source` shows the generic version until a call picks one.
            entry = Graph(self.grad_graph.name, self.grad_graph.params, [], [])
            self.source, self.function = self.emit(entry, guard={n: "always" for n in self.names[:1]},
                                                   kinds={}, default_kind="dynamic", entry=True)
            self.source = self.emit(self.grad_graph, kinds=None)[0]
        self.versions = {}  # "x: float64[3, 4], w: float" -> the source of that specialised version
        self.typed_graphs = {}  # signature -> that version's IR printed with shapes and dtypes
        self.last_typed = None
        self.types_only = not self.env and not self.by_value and self.scalar_version is not None
        self.expose(wrt, self.primal, self.grad_graph, str(self.primal))

    store = None  # where versions built are saved: the on-disk cache's handle (compiler/cache.py)

    def expose(self, wrt, graph, grad_graph, ir):
        """The decorated function's attributes: the generated function, with the pipeline's
        products (`graph`, `grad_graph`: the graphs, or stand-ins that build them when read)."""
        fn, has_aux = self.fn, self.has_aux
        f = self.function
        functools.update_wrapper(f, fn)
        f.__name__ = fn.__name__
        f._sourcead = self
        f.source = self.source
        f.versions = self.versions
        f.graph = graph
        f.grad_graph = grad_graph
        f.ir = ir
        f.wrt = tuple(self.names[i] for i in self.wrt)
        # pictures (drawing.py): DOT text, a graphviz drawing at some arguments, notebooks' display
        f.dot = lambda *args, backward=False, **kwargs: drawing.dot(self, args, kwargs, backward)
        f.draw = lambda *args, backward=False, **kwargs: drawing.draw(self, args, kwargs, backward)
        f._repr_svg_ = lambda: drawing.notebook_svg(self)
        f.check = lambda *args, **kwargs: check_grad(fn, *args, wrt=wrt, has_aux=has_aux,
                                                     **kwargs)
        f.source_for = self.source_for
        f.ir_for = self.ir_for
        f.export = self.export

    def export(self, path, args=None):
        """Write a standalone module computing this gradient with NumPy alone (compiler/export.py);
        `args`: example arguments whose version is written too. Returns the path written."""
        from .export import export  # noqa: PLC0415
        return export(self, path, args)

    def built(self, key, values, found):
        """A version was just built for a new signature: the on-disk cache keeps it."""
        if self.store is not None:
            self.store.save_version(self, key, values, found)

    def emit(self, graph, guard=None, kinds=None, default_kind=None, record=None, entry=False,
             shapes=None, dtypes=None, numpy_params=(), lazy_helpers=False):
        """Generate, compile and load one version of the gradient."""
        emitter = Emitter(graph, self.func_name, self.positional, self.kwonly, self.blocked,
                          self.owned, self.fn.__globals__, kinds=kinds, guard=guard,
                          result_tree=self.tree, default_kind=default_kind,
                          record=record is not None, numpy_params=numpy_params)
        if lazy_helpers:
            emitter.lazy = True
        if dtypes is not None:
            emitter.dtypes, emitter.shapes = dtypes, shapes
        source, factory = emitter.source(self.respecialize, entry=entry)
        if record is not None:
            record.variables = emitter.recorder[1]
            emitter.bindings[emitter.recorder[0]] = record
        defaults = None if self.flat else self.fn.__defaults__
        if defaults and self.extra_names:
            defaults = tuple(defaults) + (None,) * len(self.extra_names)
        bindings = lazy.lazy_bindings(emitter.bindings) if lazy_helpers else emitter.bindings
        fn = load(source, factory, self.func_name, bindings, emitter.cells,
                  self.fn.__globals__, defaults,
                  None if self.flat else self.fn.__kwdefaults__)
        return source, fn

    def sympy_pass(self):
        """simplify="sympy": the SymPy pass over a scalar version (kept as is where SymPy answers
        in a form we do not spell)."""
        from .symbolic import simplify_gradients  # noqa: PLC0415  (SymPy is imported lazily)
        indices = [i for i, _ in self.gradient_of()]

        def run(graph):
            try:
                return simplify_gradients(graph, indices)
            except ValueError:
                return graph
        return run

    def gradient_of(self):
        """(index in the results, parameter) for every gradient the function returns."""
        if self.mode == "jvp":
            return []  # its tangent is finished by forward mode (forward.forward)
        first = 1 if self.with_value or self.mode == "vjp" else 0
        return [(first + k, self.grad_graph.params[i]) for k, i in enumerate(self.wrt)]

    def arguments(self, args, kwargs):
        """All argument values in parameter order, differentiated ones checked."""
        if len(args) == len(self.positional) and not kwargs and not self.kwonly:
            values = list(args)
        else:
            try:
                bound = self.signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"{self.fn.__name__}(): {exc}") from None
            bound.apply_defaults()
            values = [bound.arguments[n] for n in self.names]
        for i in sorted(set(self.wrt)):
            values[i] = self._checked(self.names[i], values[i])
        for i in range(self.user_count, len(values)):
            v = values[i]  # a tangent or an output's adjoint: a float, or an array of floats
            if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
                values[i] = float(v)
            elif isinstance(v, np.ndarray) and v.dtype.kind in "biu":
                values[i] = v.astype(float)
            elif isinstance(v, np.ndarray) and v.ndim == 0:
                values[i] = float(v)
        for name, v in zip(self.names, values):
            if isinstance(v, (complex, np.complexfloating)) or \
                    isinstance(v, np.ndarray) and v.dtype.kind == "c":
                node = next(a for a in self.src.node.args.args + self.src.node.args.kwonlyargs
                            if a.arg == name)
                raise error_at(self.src.location(node),
                               f"argument `{name}` is complex: the compiler differentiates real "
                               "functions only. Pass real floats (split real and imaginary parts).")
        return values

    def call(self, fn, values):
        npos = len(self.positional)
        return fn(*values[:npos], **dict(zip(self.kwonly, values[npos:])))

    def respecialize(self, *args, **kwargs):
        """Every call that is not all plain floats: find (or make) the version for its signature.
        A signature seen before was checked then, so it goes straight to its version (a
        container argument never makes an entry there: it goes on to `structured`)."""
        if not kwargs and len(args) == self.npos:
            found = self.fast.get(tuple(map(type, args)) if self.types_only
                                  else self.quick_key(args))
            if found is None and self.types_only:  # arrays: keyed by their shapes too
                found = self.fast.get(self.quick_key(args))
            if found is not None:
                try:
                    return found(*args)
                except Deopt:
                    pass
        if self.structured is not None and self.structured.wants(args, kwargs):
            return self.structured(args, kwargs)
        values = self.arguments(args, kwargs)
        version = self.version(values)[1]
        if not kwargs and len(args) == self.npos and all(v is a for v, a in zip(values, args)):
            self.fast[self.quick_key(args)] = version  # nothing needed converting
        try:
            return self.call(version, values)
        except Deopt:
            # a branch this signature's version never saw: from now on the generic version,
            # which works out shapes as it runs, serves this signature
            generic = self.generic_version(values)
            key = signature_key(list(values) + [get() for get in self.env], self.by_value)
            with self.lock:
                self.cache[key] = generic
                self.fast.pop(self.quick_key(args), None) if not kwargs and \
                    len(args) == self.npos else None
            return self.call(generic[1], values)

    def generic_version(self, values):
        """A version that knows only the arguments' kinds and shapes: every other value's shape
        is worked out as it runs (runtime unbroadcast and zeros), so any branch may be taken.
        Its gradients are finished like any version's (the argument's shape and dtype)."""
        params = self.grad_graph.params
        kinds, shapes, dtypes = {}, {}, {}
        for p, v in zip(params, values):
            kind, shape = kind_of(v)
            if kind in ("array", "scalar"):
                kinds[p], shapes[p] = kind, shape
            if isinstance(v, np.ndarray):
                dtypes[p] = v.dtype
        numpy = [p for p, v in zip(params, values) if type(v) is np.float64]
        graph = specialise_gradient(self.grad_graph, self.gradient_of(), kinds, shapes, dtypes,
                                    numpy_params=numpy)
        return self.emit(graph, kinds=kinds, default_kind="dynamic", shapes=shapes, dtypes=dtypes,
                         numpy_params=numpy)

    def quick_key(self, args):
        ndarray = np.ndarray
        if self.env:
            args = tuple(args) + tuple(get() for get in self.env)
        key = tuple(map(type, args))
        if ndarray not in key and not self.by_value:
            return key  # numbers only: their types are the key (the common scalar case, fast)
        if self.by_value:
            return tuple((a.shape, a.dtype.char) if type(a) is ndarray else
                         (type(a), a) if type(a) is int else type(a) for a in args)
        return tuple((a.shape, a.dtype.char) if type(a) is ndarray else type(a) for a in args)

    def version(self, values):
        key = signature_key(list(values) + [get() for get in self.env], self.by_value)
        found = self.cache.get(key)
        if found is not None:
            return found
        with self.lock, _deep_recursion(), building(self.fn):
            found = self.cache.get(key)
            if found is None:
                found = self.build_version(values)
                self.cache[key] = found
                if not lazy.any_lazy(values):  # (a lazy version is rebuilt in each process)
                    self.built(key, values, found)
                if found[0] is not self.source:
                    signature = self.describe(values)
                    self.versions[signature] = found[0]
                    self.typed_graphs[signature] = self.last_typed
                    self.function.source = self.headed_source()
        return found

    def describe(self, values):
        """A call signature as a reader writes it: `x: float64[3, 4], w: float, n: int = 5`."""
        parts = []
        for name, v in zip(self.names, values):
            if isinstance(v, np.ndarray):
                kind = f"{v.dtype}[{', '.join(map(str, v.shape))}]"
            elif lazy.is_lazy(v):
                kind = f"dask {v.dtype}, {v.ndim}-d"
            elif self.by_value and isinstance(v, (int, np.integer)) and not isinstance(v, bool):
                kind = f"int = {int(v)}"
            else:
                kind = type(v).__name__
            parts.append(f"{name}: {kind}")
        return ", ".join(parts)

    def headed_source(self):
        """`.source`: the version decoration made, under a comment naming the versions that calls
        with other argument types have made since (their code: `.versions`, `.source_for`)."""
        lines = ["# specialised versions built so far (.versions[signature] holds each one's source,"
                 " .ir_for(*args) its typed IR):"]
        lines += [f"#   {signature}" for signature in self.versions]
        return "\n".join(lines) + "\n" + self.source

    def internal_error(self, exc):
        """A failure of ours while building a version: said plainly, at the user's function."""
        code = self.fn.__code__
        return GradError(f'File "{code.co_filename}", line {code.co_firstlineno}, in '
                         f"{self.fn.__name__}\ninternal compiler error while specialising "
                         f"{self.fn.__name__} to its arguments: {type(exc).__name__}: {exc}\n"
                         "This is a bug in sourcead, not in your code; please report it with the "
                         "function and its arguments. Set SOURCEAD_DEBUG=1 to see the compiler's "
                         "traceback.")

    def build_version(self, values):
        if self.mode == "grad" and lazy.any_lazy(values):
            return self.lazy_version(values)
        if self.scalar_version is not None and all(
                type(v) in (float, int) for v in list(values) + [get() for get in self.env]):
            return self.source, self.function
        if self.scalar_version is not None and all(
                type(v) in (float, int, np.float64) for v in values) and all(
                type(get()) in (float, int) for get in self.env):
            # (a NumPy scalar read live from a global goes on to the recorded version: the scalar
            # versions' guards take only floats and ints there)
            return self.numpy_scalar_version(values)
        with _random_state_kept(values), stage("run the function"):
            self.check_result(values)  # the user's own errors surface here, in the user's code
        try:
            return self.specialised_version(values)
        except (GradError, ArithmeticError):
            raise  # ours to say, or the derivative's own (1/0 in d/dx sqrt(x) at 0, say)
        except Exception as exc:  # the user's function ran: anything else is ours
            if os.environ.get("SOURCEAD_DEBUG"):
                raise
            raise self.internal_error(exc) from None

    def lazy_version(self, values):
        """Dask arguments: the generic version (shapes worked out as it runs, nothing written in
        place), built without running anything on the data, run where no compute may happen
        (compiler/lazy.py). It returns the loss and the gradients as Dask arrays."""
        for name, v in zip(self.names, values):
            if lazy.is_lazy(v) and any(d != d for d in v.shape):  # nan: chunk sizes unknown
                raise GradError(
                    f"{_where_called(self.fn)}argument `{name}` is a Dask array whose chunk sizes "
                    f"are unknown (shape {v.shape}, as after boolean-mask indexing): its "
                    f"gradient needs its shape. Call `{name}.compute_chunk_sizes()` first (one "
                    "pass over its data), or index with the mask inside the function.")
        if not self.with_value:
            # the version returns no loss to check: the user's function builds its (lazy) loss
            # once here, and Dask's metadata says whether it is one number (nothing computed)
            try:
                with lazy.no_compute():
                    value = self.call_user(values)
            except lazy.HiddenCompute:
                pass  # the version's own call refuses it, at the line
            else:
                self.check_lazy_loss(value[0] if self.has_aux else value)
        graph = specialise_gradient(self.grad_graph, self.gradient_of(), {}, {}, {})
        source, fn = self.emit(graph, kinds={}, default_kind="dynamic", lazy_helpers=True)
        self.last_typed = format_graph(graph)
        return source, self.lazy_entry(fn)

    def lazy_entry(self, version):
        """The lazy version as called: under lazy.no_compute, a compute refused at the user's
        line, and the loss (one number, lazily) and the gradients as Dask arrays."""
        fn, func_name = self.fn, self.func_name
        has_aux, with_value, tuple_ = self.has_aux, self.with_value, self.wrt_is_tuple

        def run(*args, **kwargs):
            try:
                with lazy.no_compute():
                    out = version(*args, **kwargs)
            except lazy.HiddenCompute as exc:
                raise lazy.refusal(fn, func_name, sys.exc_info()[2], exc) from None
            if with_value:
                value, grads = out
                loss = value[0] if has_aux else value
                self.check_lazy_loss(loss)
                loss = lazy.as_lazy(loss)
                value = (loss, value[1]) if has_aux else loss
            else:
                grads, aux = (out if has_aux else (out, None))
            values = self.arguments(args, kwargs)
            params = [values[i] for i in self.wrt]
            grads = tuple(map(lazy.as_lazy, grads, params)) if tuple_ else \
                lazy.as_lazy(grads, params[0])
            if with_value:
                return value, grads
            return (grads, aux) if has_aux else grads
        run.__wrapped__ = version
        return run

    def returned_location(self):
        """Where the user's function returns (its first `return <value>`), for a refusal of what
        it returns."""
        node = next((n for n in ast.walk(self.src.node) if isinstance(n, ast.Return)
                     and n.value is not None), self.src.node)
        return self.src.location(getattr(node, "value", node))

    def check_lazy_loss(self, value):
        """The loss of a lazy call is one number: checked on Dask's metadata (not computed)."""
        if np.ndim(value) != 0:
            raise error_at(self.returned_location(),
                           f"{self.fn.__name__} returns an array of shape {np.shape(value)} here: "
                           "a gradient is taken of one number (a scalar). Reduce the result "
                           "(np.sum, np.mean) or return one entry.")

    def numpy_scalar_version(self, values):
        """Scalar code called with NumPy float64s: the scalar version's code, knowing which
        arguments are NumPy scalars, so NumPy's arithmetic is spelled with operators wherever
        an operand is one (`c * c`, not `np.multiply(c, c)`) and their gradients are float64s."""
        numpy = [p for p, v in zip(self.grad_graph.params, values) if type(v) is np.float64]
        guard = {n: "float64" if type(v) is np.float64 else "float" if n in self.float_names else "scalar"
                 for n, v in zip(self.names, values)}
        graph = specialise_gradient(self.grad_graph, self.gradient_of(),
                                    simplify=self.scalar_simplify, numpy_params=numpy)
        source, fn = self.emit(graph, guard=guard, kinds={}, default_kind="scalar",
                               numpy_params=numpy)
        self.last_typed = format_graph(graph)
        return source, fn

    def specialised_version(self, values):
        recorder = Recorder([])
        _, instrumented = self.emit(self.grad_graph, kinds=None, default_kind="dynamic",
                                    record=recorder)
        # the call that follows draws what f would draw
        with _random_state_kept(values), stage("record shapes"):
            self.call(instrumented, values)
        kinds, shapes = recorder.kinds(self.grad_graph.params, values)
        numpy = [p for p, v in zip(self.grad_graph.params, values) if type(v) is np.float64]
        graph = specialise_gradient(self.grad_graph, self.gradient_of(), kinds, shapes,
                                    recorder.dtypes, recorder.ndarrays, truth=recorder.truth,
                                    numpy_params=numpy)
        source, fn = self.emit(graph, kinds=kinds, default_kind="dynamic", shapes=shapes,
                               dtypes=recorder.dtypes, numpy_params=numpy)
        self.last_typed = format_graph(graph, types=type_names(kinds, shapes, recorder.dtypes))
        return source, fn

    def check_result(self, values):
        """Run the user's own function once on a new signature: its errors (a shape mismatch)
        surface in the user's code, and a result that is not one number is refused clearly."""
        memory = self.lowering.memory
        written = set(self.names) if memory.writes_unknown else memory.written_arguments
        values = [v.copy() if isinstance(v, np.ndarray) and name in written else v
                  for name, v in zip(self.names, values)]  # the caller's arrays stay as they are
        if self.mode != "grad" and not self.scalar_output:
            self.call_user(values)
            return
        if self.mode != "grad":  # a Hessian's: the output of the user's function is one number
            value = self.call_user(values)
            if np.ndim(value) != 0 or not isinstance(value, (float, int, np.number, np.ndarray)):
                raise error_at(self.returned_location(),
                               f"{self.fn.__name__} returns an array of shape {np.shape(value)} "
                               "here: a Hessian is taken of one number (a scalar). Reduce the "
                               "result, or use jacobian(f) for the derivatives of each output.")
            return
        value = self.call(self.user_call, values)
        if self.has_aux:
            if not isinstance(value, (tuple, list)) or len(value) != 2:
                raise error_at(self.returned_location(),
                               f"{self.fn.__name__} is differentiated with has_aux=True but returns "
                               f"a {type(value).__name__} here: return a pair `loss, aux`.")
            value = value[0]
        if np.ndim(value) != 0 or not isinstance(value, (float, int, np.number, np.ndarray)):
            what = (f"an array of shape {np.shape(value)}" if isinstance(value, np.ndarray)
                    else f"a {type(value).__name__}")
            raise error_at(self.returned_location(),
                           f"{self.fn.__name__} returns {what} here: a gradient is taken of one "
                           "number (a scalar). Reduce the result (np.sum, np.mean) or return one "
                           "entry, or differentiate each output separately.")

    def call_user(self, values):
        """The user's function on the user's arguments (a jvp's or vjp's own arguments left out):
        its errors surface in the user's code."""
        npos = len(self.positional) - len(self.extra_names)
        user = values[:self.user_count]
        return self.user_call(*user[:npos], **dict(zip(self.kwonly, user[npos:])))

    def source_for(self, *args, **kwargs):
        """The generated source of the version that runs for these arguments."""
        return self.version(self.arguments(args, kwargs))[0]

    def ir_for(self, *args, **kwargs):
        """The gradient IR of the version that runs for these arguments, each value with its
        shape and dtype (`t1:f64[64,128] = matmul x W1`)."""
        values = self.arguments(args, kwargs)
        self.version(values)
        return self.typed_graphs.get(self.describe(values), str(self.grad_graph))

    def _checked(self, name, value):
        """A differentiated argument: floats (np.float64 and 0-d arrays become float) and float
        arrays pass; anything else is refused, saying what to pass instead."""
        if isinstance(value, (float, np.floating)):
            # np.float64 stays itself: the user's arithmetic on it is NumPy's (inf, not an error)
            return value if type(value) in (float, np.float64) else float(value)
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            return float(value) if value.ndim == 0 else value
        if lazy.is_lazy(value) and value.dtype.kind == "f":
            return value  # a Dask array: the lazy version (compiler/lazy.py)
        owner = self.leaf_owner.get(name, name)
        node = next(a for a in self.src.node.args.args + self.src.node.args.kwonlyargs if a.arg == owner)
        loc = self.src.location(node)
        if isinstance(value, (bool, np.bool_)):
            what, fix = "a bool", f"pass a float such as {float(value)!r}"
        elif isinstance(value, (int, np.integer)):
            what, fix = f"the integer {value!r}", f"pass the float {float(value)!r} instead"
        elif isinstance(value, (complex, np.complexfloating)):
            what, fix = "a complex number", "pass a real float (complex gradients are not supported)"
        elif isinstance(value, np.ndarray):
            what = f"an array of shape {value.shape} and dtype {value.dtype}"
            fix = (f"pass a float array, e.g. {name}.astype(float)" if value.dtype.kind in "biu"
                   else "pass an array of float64 values")
        elif lazy.is_lazy(value):
            what = f"a Dask array of shape {value.shape} and dtype {value.dtype}"
            fix = (f"pass a float Dask array, e.g. {name}.astype(float)"
                   if value.dtype.kind in "biu" else "pass a Dask array of float64 values")
        else:
            module = type(value).__module__.split(".")[0]
            kind = type(value).__qualname__ if module == "builtins" else \
                f"{module}.{type(value).__qualname__}"
            shape = getattr(value, "shape", None)
            if shape is not None:  # another library's array: a PyTorch tensor, a JAX array...
                what = f"a {kind} of shape {tuple(shape)}"
                fix = (f"pass a NumPy array (np.asarray({name}), or {name}.numpy() for a "
                       "PyTorch tensor)")
            else:
                what, fix = f"a {kind}", "pass a float or a NumPy float array"
        raise error_at(loc, f"argument `{name}` is differentiated (it is in wrt) but got {what}: "
                            f"{fix}. Only float arguments have gradients.")


# --- checking against finite differences ---------------------------------------------------------

class GradCheckReport:
    """Per-argument comparison of the compiled gradient with central differences.

    An argument passes when |compiled - numeric| <= atol + rtol * |numeric| entrywise, with the
    step h = cbrt(eps) * max(1, |x|) (runtime.gradcheck); defaults atol = 1e-6, rtol = 1e-5.
    """

    def __init__(self, name, rows, value):
        self.name = name
        self.rows = rows  # (argument, compiled, numeric, abs error, rel error, passed)
        self.value = value
        self.passed = all(r[5] for r in rows)

    def __bool__(self):
        return self.passed

    def __getitem__(self, argument):
        for row in self.rows:
            if row[0] == argument:
                return row
        raise KeyError(argument)

    def __str__(self):
        lines = [f"gradient check of {self.name}: value {self.value!r}",
                 f"  {'argument':<10} {'compiled':>22} {'numerical':>22} {'abs err':>9} {'rel err':>9}  ok"]
        for name, a, n, ae, re_, ok in self.rows:
            lines.append(f"  {name:<10} {_fmt(a):>22} {_fmt(n):>22} {ae:9.1e} {re_:9.1e}  "
                         f"{'yes' if ok else 'NO'}")
        lines.append("  passed" if self.passed else "  FAILED")
        return "\n".join(lines)

    __repr__ = __str__


def _fmt(v):
    if np.ndim(v) == 0:
        return f"{float(v):.15g}"
    return f"array{np.shape(v)}"


def check_grad(fn, *args, wrt=None, atol=None, rtol=None, has_aux=False, **kwargs):
    """Compare `value_and_grad(fn)` with central differences at `args`; returns a GradCheckReport.
    `has_aux=True`: fn returns (loss, aux) and the loss is checked."""
    from runtime import gradcheck

    plain = getattr(fn, "__wrapped__", fn) if getattr(fn, "_sourcead", None) else fn
    sig = inspect.signature(plain)
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    names = list(bound.arguments)
    if wrt is None:
        wrt = tuple(n for n in names if isinstance(bound.arguments[n], float) or (
            isinstance(bound.arguments[n], np.ndarray) and bound.arguments[n].dtype.kind == "f"))
        if not wrt:
            raise GradError(f"check_grad({plain.__name__}, ...): no float argument to check; "
                            "pass floats or name them with wrt=.")
    compiled = value_and_grad(plain, wrt=tuple(wrt) if isinstance(wrt, (tuple, list)) else (wrt,),
                              has_aux=has_aux)
    value, grads = compiled(*args, **kwargs)
    if has_aux:
        value = value[0]
    rows = []
    pos = [bound.arguments[n] for n in names]
    kinds = {n: sig.parameters[n].kind for n in names}

    def call(*vals):
        positional = [v for n, v in zip(names, vals) if kinds[n] != inspect.Parameter.KEYWORD_ONLY]
        keywords = {n: v for n, v in zip(names, vals) if kinds[n] == inspect.Parameter.KEYWORD_ONLY}
        out = plain(*positional, **keywords)
        return out[0] if has_aux else out

    for name, g in zip(compiled.wrt, grads):
        idx = names.index(name)
        numeric = gradcheck.numerical_grad(call, pos, idx)
        ae, re_, ok = gradcheck.compare(g, numeric,
                                        atol=gradcheck.ATOL if atol is None else atol,
                                        rtol=gradcheck.RTOL if rtol is None else rtol)
        rows.append((name, g, numeric, ae, re_, ok))
    return GradCheckReport(plain.__name__, rows, value)
