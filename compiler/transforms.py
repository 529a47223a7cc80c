"""The transformations beside `grad`: jvp (forward mode), vjp, jacobian, hessian, hvp.

Each compiles the user's function once per (function, wrt) into generated Python, as `grad` does,
and keeps one specialised version per argument signature:
- `jvp` generates forward-mode code (compiler/forward.py): the value and its directional derivative;
- `vjp` generates reverse-mode code that takes the output's adjoint as an argument (any shape);
- `jacobian` assembles rows of vjp (mode="rev") or columns of jvp (mode="fwd");
- `hessian` and `hvp` differentiate the *gradient graph* forwards (forward over reverse): the IR the
  reverse pass made is walked again by forward mode, never re-parsed from emitted source, so
  comments and errors still point at the user's lines.
"""
from __future__ import annotations

import inspect
import os
import threading
import weakref

import numpy as np

from .errors import GradError
from .support import Deopt

_lock = threading.RLock()
_cache = weakref.WeakKeyDictionary()  # fn -> {(kind, wrt): Compiled}


def _compiled(fn, wrt, kind, has_aux=False):
    """The Compiled of `fn` for one transformation, made once."""
    from .api import Compiled, _build_lock, _deep_recursion  # noqa: PLC0415
    key = (kind, wrt if not isinstance(wrt, list) else tuple(wrt), has_aux)
    try:
        table = _cache.setdefault(fn, {})
    except TypeError:  # not weak-referenceable: kept on nothing, built each time
        table = {}
    found = table.get(key)
    if found is not None:
        return found
    with _lock, _build_lock, _deep_recursion():
        found = table.get(key)
        if found is None:
            _plain(fn, kind)
            found = table[key] = _build(fn, wrt, kind, has_aux)
    return found


def _build(fn, wrt, kind, has_aux):
    """Compile one transformation; a failure of ours is said to be ours (as grad says it)."""
    from .api import Compiled, internal_error  # noqa: PLC0415
    try:
        return _build_unchecked(Compiled, fn, wrt, kind, has_aux)
    except GradError:
        raise
    except Exception as exc:  # a compiler bug: plainly, pointing at the user's function
        if os.environ.get("SOURCEAD_DEBUG"):
            raise
        raise internal_error(fn, f"building the {kind} of {fn.__name__}", exc) from None


def _build_unchecked(Compiled, fn, wrt, kind, has_aux):
    if kind == "jvp":
        return Compiled(fn, wrt, False, mode="jvp", has_aux=has_aux)
    if kind == "vjp":
        return Compiled(fn, wrt, True, mode="vjp", has_aux=has_aux)
    # forward over reverse: the gradient graph, differentiated forwards
    inner = Compiled(fn, wrt, False)
    found = Compiled(fn, wrt, False, mode="jvp", primal=(inner.grad_graph, inner.lowering))
    found.scalar_output = True  # a Hessian is of a number: its output checked as grad checks it
    return found


def _plain(fn, kind):
    if not inspect.isfunction(fn):
        raise GradError(f"{kind} takes a Python function (def or lambda); got "
                        f"{type(fn).__name__}. Wrap it: lambda *args: obj(*args).")
    if getattr(fn, "_sourcead", None) is not None:
        raise GradError(f"{fn.__name__} is already a compiled gradient: give {kind} the original "
                        f"function ({fn.__name__}.__wrapped__); hessian and hvp differentiate its "
                        "gradient for you.")


_signatures = weakref.WeakKeyDictionary()


def _positional(fn, args, what):
    """All of fn's positional arguments, defaults filled in (transformations take them all)."""
    sig = _signatures.get(fn)
    if sig is None:
        sig = _signatures[fn] = inspect.signature(fn)
    if len(args) == len(sig.parameters):
        return list(args)  # the common call: every argument given, by position
    try:
        bound = sig.bind(*args)
    except TypeError as exc:
        raise TypeError(f"{fn.__name__}(): {exc} (in {what})") from None
    bound.apply_defaults()
    return [bound.arguments[n] for n in sig.parameters]


def _as_tangent(value, like, label):
    """A tangent (or seed) checked against the value it goes with: same shape, floats."""
    if type(value) is float and type(like) is float:
        return value
    if type(value) is np.ndarray and type(like) is np.ndarray and value.shape == like.shape \
            and value.dtype == np.float64:
        return value
    if isinstance(like, np.ndarray):
        t = np.asarray(value)
        if t.dtype.kind != "f":  # (a float32 tangent stays float32, as grad keeps float32)
            t = t.astype(float)
        if t.shape != like.shape:
            raise ValueError(f"{label} has shape {t.shape}, but the value it goes with has shape "
                             f"{like.shape}: give one of the same shape.")
        return t
    if np.ndim(value) != 0:
        raise ValueError(f"{label} has shape {np.shape(value)}, but the value it goes with is a "
                         "number: give a number.")
    return float(value)


class Transformed:
    """A compiled transformation of a function: callable, with the generated `.source`."""

    def __init__(self, fn, compiled, call):
        self.fn, self.compiled, self._call = fn, compiled, call
        self.__name__ = getattr(fn, "__name__", "f")
        self.__wrapped__ = fn

    def __call__(self, *args, **kwargs):
        return self._call(*args, **kwargs)

    @property
    def source(self):
        return self.compiled.function.source

    @property
    def versions(self):
        return self.compiled.versions

    def source_for(self, *args):
        return self.compiled.source_for(*args)

    def __repr__(self):
        return f"<{type(self).__name__} of {self.__name__}>"


# --- jvp ------------------------------------------------------------------------------------------

def jvp(fn, primals=None, tangents=None, wrt=None, has_aux=False):
    """Forward mode: `(fn(*primals), J @ tangents)`, the directional derivative of fn along
    `tangents`, from generated forward-mode code (`.source` of `jvp(fn)`).

    `primals` are fn's positional arguments; `tangents` one per argument in `wrt` (default: every
    argument), each shaped like its argument. `jvp(fn)` without primals gives the compiled
    function, called as `jvp(fn)(primals, tangents)`. `has_aux=True`: fn returns `(out, aux)` and
    the result is `(out, tangent, aux)`, as in JAX.
    """
    if wrt is None:
        wrt = tuple(range(len(inspect.signature(fn).parameters))) if inspect.isfunction(fn) else 0
    compiled = _compiled(fn, wrt if isinstance(wrt, (tuple, list)) else (wrt,), "jvp", has_aux)

    wrt_indices = list(compiled.wrt)
    nargs, ntangents, function = len(compiled.names) - len(wrt_indices), len(wrt_indices), \
        compiled.function

    def call(primals, tangents):
        if type(tangents) is tuple and len(tangents) == ntangents and len(primals) == nargs:
            for t in tangents:
                if type(t) is not float:
                    break
            else:  # numbers only: nothing to check that the generated code does not check
                return function(*primals, *tangents)
        primals = _positional(fn, primals, "jvp's primals")
        tangents = tuple(tangents) if isinstance(tangents, (tuple, list)) else (tangents,)
        if len(tangents) != len(compiled.wrt):
            raise ValueError(f"jvp of {fn.__name__}: {len(tangents)} tangent(s) for "
                             f"{len(compiled.wrt)} differentiated argument(s) "
                             f"({', '.join(compiled.names[i] for i in compiled.wrt)}).")
        checked = [_as_tangent(t, primals[i], f"the tangent of `{compiled.names[i]}`")
                   for t, i in zip(tangents, wrt_indices)]
        result = compiled.function(*primals, *checked)
        out, tangent = result[0], result[1]
        if isinstance(tangent, np.ndarray) and tangent.ndim == 0 and not isinstance(out, np.ndarray):
            tangent = float(tangent)  # a number's tangent is a number
        return (out, tangent) + tuple(result[2:])

    transformed = Transformed(fn, compiled, call)
    if primals is None:
        return transformed
    return transformed(primals, tangents)


# --- vjp ------------------------------------------------------------------------------------------

def vjp(fn, *args, wrt=None, has_aux=False):
    """Reverse mode for any output shape: `(out, back)`, where `back(seed)` gives seed's gradient
    through fn (`seed @ J`): for each argument in `wrt` (default: every argument, as a tuple; one
    name or index: that gradient alone). `seed` has the shape of `out`. `has_aux=True`: fn returns
    `(out, aux)` and vjp returns `(out, back, aux)`, as in JAX."""
    if wrt is None:
        wrt = tuple(range(len(inspect.signature(fn).parameters))) if inspect.isfunction(fn) else 0
    compiled = _compiled(fn, wrt, "vjp", has_aux)
    values = _positional(fn, args, "vjp's arguments")
    # the arguments as they are now: the caller may change its arrays before calling back
    values = [v.copy() if isinstance(v, np.ndarray) else v for v in values]
    out = fn(*[v.copy() if isinstance(v, np.ndarray) else v for v in values])
    aux = None
    if has_aux:
        if not isinstance(out, tuple) or len(out) != 2:
            raise GradError(f"{fn.__name__} is given has_aux=True but returns "
                            f"{type(out).__name__}: return a pair `out, aux`.")
        out, aux = out

    tree = None if has_aux else compiled.lowering.output_tree

    def back(seed):
        pairs = _leaves(tree, out, seed) if tree is not None and not isinstance(tree, int) \
            else [(out, seed)]
        seeds = [_as_tangent(s, o if isinstance(o, np.ndarray) else float(o)
                             if np.ndim(o) == 0 else np.asarray(o), "the seed of vjp's back")
                 for o, s in pairs]
        return compiled.function(*values, *seeds)[1]

    back.__name__ = f"{getattr(fn, '__name__', 'f')}_vjp_back"
    back.source = compiled.function.source
    back.compiled = compiled
    return (out, back, aux) if has_aux else (out, back)


def _leaves(tree, out, seed):
    """(output value, its seed) for each value of a structured output, in the order of the graph's
    results: the seed has the output's structure (a tuple for a tuple, a dict for a dict)."""
    found = []

    def walk(node, o, s):
        if isinstance(node, int):
            found.append((o, s))
            return
        if node.kind == "const":
            return
        if node.kind == "dict":
            keys = node.meta
            if not isinstance(s, dict) or set(s) != set(keys):
                raise ValueError(f"vjp's seed must be a dict with the output's keys {list(keys)}")
            for k, child in zip(keys, node.children):
                walk(child, o[k], s[k])
            return
        if node.kind == "object":
            for name, child in zip(node.meta[1], node.children):
                walk(child, getattr(o, name), getattr(s, name))
            return
        if not isinstance(s, (tuple, list)) or len(s) != len(node.children):
            raise ValueError(f"vjp's seed must have the output's structure: a {node.kind} of "
                             f"{len(node.children)} items")
        for child, oi, si in zip(node.children, o, s):
            walk(child, oi, si)

    walk(tree, out, seed)
    return found


# --- jacobian, hessian, hvp ---------------------------------------------------------------------

def jacobian(fn, wrt=0, mode="rev"):
    """The Jacobian of fn as a function of fn's arguments: shape `out.shape + arg.shape` (a tuple of
    them when `wrt` is a tuple). mode="rev" computes it a row at a time (one vjp per output
    entry), mode="fwd" a column at a time (one jvp per input entry): choose "rev" when the output
    is smaller than the input."""
    if mode not in ("rev", "fwd"):
        raise ValueError(f'mode={mode!r}: use "rev" or "fwd".')
    several = isinstance(wrt, (tuple, list))
    items = tuple(wrt) if several else (wrt,)
    compiled = _compiled(fn, items, "jvp" if mode == "fwd" else "vjp")

    def call(*args):
        values = _positional(fn, args, "jacobian's arguments")
        for i in compiled.wrt:
            values[i] = compiled._checked(compiled.names[i], values[i])
        if mode == "rev":
            blocks = _rows(compiled, values)
        else:
            blocks = _columns(compiled, values)
        return tuple(blocks) if several else blocks[0]

    return Transformed(fn, compiled, call)


def _rows(compiled, values):
    out = compiled.call_user(list(values))
    out_shape = np.shape(out)
    shapes = [np.shape(values[i]) for i in compiled.wrt]
    blocks = [np.zeros(out_shape + s) for s in shapes]
    for k in np.ndindex(out_shape):
        seed = np.zeros(out_shape)
        seed[k] = 1.0
        grads = compiled.function(*values, seed if out_shape else 1.0)[1]
        for block, g in zip(blocks, grads):
            block[k] = g
    return [b if b.ndim else float(b) for b in blocks]


def _columns(compiled, values):
    inputs = [np.asarray(values[i]) for i in compiled.wrt]
    blocks = []
    for j, x in enumerate(inputs):
        columns = None
        for k in np.ndindex(x.shape):
            tangents = [np.zeros(v.shape) if v.shape else 0.0 for v in inputs]
            if x.shape:
                tangents[j][k] = 1.0
            else:
                tangents[j] = 1.0
            out, column = compiled.function(*values, *tangents)
            if columns is None:
                columns = np.zeros(np.shape(out) + x.shape)
            columns[(...,) + k] = column
        blocks.append(columns if columns.ndim else float(columns))
    return blocks


def hessian(fn, wrt=0):
    """The Hessian of a scalar fn as a function of fn's arguments: shape `x.shape + x.shape` (for a
    tuple `wrt`, a tuple of tuples of blocks). Forward over reverse: the gradient graph is
    differentiated forwards once per entry of x (`.source` shows that code)."""
    several = isinstance(wrt, (tuple, list))
    items = tuple(wrt) if several else (wrt,)
    compiled = _compiled(fn, items, "hessian")
    n = len(items)

    def call(*args):
        values = _positional(fn, args, "hessian's arguments")
        for i in compiled.wrt:
            values[i] = compiled._checked(compiled.names[i], values[i])
        inputs = [np.asarray(values[i]) for i in compiled.wrt]
        rows = [[np.zeros(a.shape + x.shape) for x in inputs] for a in inputs]
        tangents = [np.zeros(v.shape) if v.shape else 0.0 for v in inputs]
        run = _version(compiled, values + tangents)
        for j, x in enumerate(inputs):
            for k in np.ndindex(x.shape):
                if x.shape:
                    tangents[j][k] = 1.0
                else:
                    tangents[j] = 1.0
                result = run(*values, *tangents)
                columns = result[1] if n > 1 else (result[1],)
                for i, column in enumerate(columns):
                    rows[i][j][(...,) + k] = column
                if x.shape:
                    tangents[j][k] = 0.0
                else:
                    tangents[j] = 0.0
        rows = [[b if b.ndim else float(b) for b in row] for row in rows]
        return tuple(tuple(row) for row in rows) if several else rows[0][0]

    return Transformed(fn, compiled, call)


def _version(compiled, values):
    """The function to call many times with arguments like `values`: the specialised version of
    array code (no guards, no dispatch per call), falling back to the entry point if that
    version meets a branch it was not built for."""
    if compiled.scalar_version is not None and all(type(v) is float for v in values):
        return compiled.function
    try:
        version = compiled.version(compiled.arguments(list(values), {}))[1]
    except Exception:  # noqa: BLE001  (the entry point says what is wrong, in the user's terms)
        return compiled.function
    state = {"run": version}

    def run(*args):
        try:
            return state["run"](*args)
        except Deopt:
            state["run"] = compiled.function
            return compiled.function(*args)
    return run


def hvp(fn, wrt=0):
    """Hessian-vector products without the Hessian: `hvp(f)(*args, v)` is H v, for the argument
    `wrt` (one forward-over-reverse pass: about the cost of two gradients). For a tuple `wrt`,
    v is a tuple of vectors (one per argument) and so is the result."""
    several = isinstance(wrt, (tuple, list))
    compiled = _compiled(fn, tuple(wrt) if several else (wrt,), "hessian")
    wrt_indices = list(compiled.wrt)

    def call(*args):
        *args, v = args
        values = _positional(fn, args, "hvp's arguments")
        vs = tuple(v) if several else (v,)
        if len(vs) != len(wrt_indices):
            raise ValueError(f"hvp of {fn.__name__}: v must hold {len(wrt_indices)} vectors, "
                             "one per argument in wrt.")
        tangents = []
        for i, t in zip(wrt_indices, vs):
            values[i] = compiled._checked(compiled.names[i], values[i])
            tangents.append(_as_tangent(t, values[i], f"hvp's vector for `{compiled.names[i]}`"))
        return compiled.function(*values, *tangents)[1]

    return Transformed(fn, compiled, call)


__all__ = ["jvp", "vjp", "jacobian", "hessian", "hvp"]
