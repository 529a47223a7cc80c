"""The two designs side by side on one function: the compiled gradient and the dynamic tape.

The same source runs through both. For the tape, the function is called with `runtime.Tensor`
arguments; NumPy's functions dispatch to the tape by themselves, and the names a function takes from
`math` (`math.sin`, or `sin` from `from math import sin`) and the builtins `max` and `min` are pointed
at the tape's functions of the same primitives, in a copy of the function's globals (the user's module
is not touched). Which primitive a callable computes is what the compiler resolves it to
(`primitives.RESOLVE`), and the tape keys its functions by the same names, so no spelling is
translated here. Both take their derivatives from one table (rules.py) with one convention at kinks
and ties, so they agree wherever both run.
"""
from __future__ import annotations

import math
import statistics
import time
import timeit
import types

import numpy as np

from .api import value_and_grad
from .errors import GradError
from .primitives import RESOLVE, VARIADIC


def _resolve(obj):
    try:
        return RESOLVE.get(obj)
    except TypeError:  # unhashable: no primitive
        return None


def _tape_function(obj, functions):
    """The tape's function computing what the `math` function `obj` computes, or None."""
    found = _resolve(obj)
    if found is None or found[1] != "math" or found[0] not in functions:
        return None
    fn = functions[found[0]]
    if found[0] == "log":  # math.log(x, base), as the compiler lowers it: log(x) / log(base)
        def log(x, base=None, _log=fn):
            return _log(x) if base is None else _log(x) / _log(base)
        return log
    return fn


def _folded(builtin, binary):
    """builtins.max/min on Tensors: the tape's binary max/min folded left, max(a, b, c) =
    max(max(a, b), c), as the compiler lowers it (so ties split as it splits them)."""
    import runtime

    def fn(*args, **kwargs):
        items = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
        if kwargs or len(items) < 2 or not any(isinstance(a, runtime.Tensor) for a in items):
            return builtin(*args, **kwargs)
        result = items[0]
        for item in items[1:]:
            result = binary(result, item)
        return result

    fn.__name__ = builtin.__name__
    return fn


def on_tape(fn):
    """`fn` with its `math` functions and the builtins max and min replaced by the tape's, for calling
    with Tensors."""
    from runtime.functional import FUNCTIONS

    shim = types.SimpleNamespace(**{k: getattr(math, k) for k in dir(math) if not k.startswith("_")})
    for name in vars(shim):
        tape = _tape_function(getattr(math, name), FUNCTIONS)
        if tape is not None:
            setattr(shim, name, tape)
    names = dict(fn.__globals__)
    for key, value in fn.__globals__.items():
        if value is math:
            names[key] = shim
        elif getattr(value, "__module__", None) == "math":
            tape = _tape_function(value, FUNCTIONS)
            if tape is not None:
                names[key] = tape
    for builtin, prim in VARIADIC.items():
        if builtin.__name__ not in names:  # (a global of that name is the user's own)
            names[builtin.__name__] = _folded(builtin, FUNCTIONS[prim])
    copy = types.FunctionType(fn.__code__, names, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    return copy


def tape_value_and_grad(fn, wrt):
    """value_and_grad through the tape: Tensors in, backward(), gradients out."""
    import runtime

    taped = on_tape(fn)

    def run(*args):
        tensors = list(args)
        for i in wrt:
            tensors[i] = runtime.tensor(args[i], requires_grad=True)
        out = taped(*tensors)
        out.backward()
        grads = tuple(_plain(tensors[i].grad) for i in wrt)
        return _plain(out), grads

    return run


def _plain(t):
    value = t.detach().numpy() if hasattr(t, "detach") else t
    return float(value) if np.ndim(value) == 0 else np.asarray(value)


def _median(fn, args, seconds=0.2):
    once = timeit.timeit(lambda: fn(*args), number=1)
    number = max(1, int(seconds / 7 / max(once, 1e-7)))
    return statistics.median(timeit.repeat(lambda: fn(*args), number=number, repeat=7)) / number


def compare(fn, args, wrt=None, out=print):
    """Run `fn` through both designs at `args`; print gradients, timings and what each can do."""
    import runtime  # noqa: F401  (imported before timing: a first call is not an import)

    if wrt is None:
        wrt = tuple(i for i, a in enumerate(args)
                    if isinstance(a, float) or isinstance(a, np.ndarray) and a.dtype.kind == "f")
    results = {}
    start = time.perf_counter()
    try:
        compiled = value_and_grad(fn, wrt=tuple(wrt))
    except GradError as exc:
        results["compiled"] = (None, None, exc)
    else:
        try:
            first = compiled(*args)
            results["compiled"] = (first, time.perf_counter() - start, compiled)
        except Exception as exc:  # noqa: BLE001  (your code's semantics: math.sqrt'(0) divides by 0)
            results["compiled"] = (None, None, GradError(
                f"the compiled gradient raised {type(exc).__name__}: {exc} (it keeps `math`'s semantics, "
                f"which raise where NumPy's functions give inf or nan)"))
    start = time.perf_counter()
    try:
        tape = tape_value_and_grad(fn, wrt)
        first = tape(*args)
        results["tape"] = (first, time.perf_counter() - start, tape)
    except Exception as exc:  # the tape runs user code: report whatever it raised
        results["tape"] = (None, None, exc)

    out(f"{fn.__name__} at {', '.join(_short(a) for a in args)}, gradient w.r.t. argument(s) "
        f"{', '.join(str(i) for i in wrt)}\n")
    out(f"  {'design':34} {'value':>14} {'first call':>12} {'repeated':>12}")
    for name, label in (("compiled", "static graph, compiled (compiler)"),
                        ("tape", "dynamic tape, per call (runtime)")):
        value, first_time, runner = results[name]
        if value is None:
            lines = str(runner).splitlines() or [""]
            out(f"  {label:34} {'refused:':>14} {type(runner).__name__}: {lines[-1]}")
            continue
        repeated = _median(runner, args)
        out(f"  {label:34} {_short(value[0]):>14} {first_time * 1e3:10.2f}ms {repeated * 1e6:10.1f}µs")
    both = [results[k][0] for k in ("compiled", "tape") if results[k][0] is not None]
    if len(both) == 2:
        (_, g1), (_, g2) = both
        agree = all(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True) for a, b in zip(g1, g2))
        results["agree"] = agree
        out(f"\n  gradients agree: {'yes' if agree else 'NO'}")
        for i, a, b in zip(wrt, g1, g2):
            out(f"    argument {i}: compiled {_short(a)}   tape {_short(b)}")
        t_compiled = _median(results["compiled"][2], args)
        t_tape = _median(results["tape"][2], args)
        out(f"  repeated calls: the compiled gradient is {t_tape / t_compiled:.1f}x faster than the tape")
    compiled = results["compiled"][2]
    if not isinstance(compiled, Exception) and results["compiled"][0] is not None:
        lines = compiled.source_for(*args).count("\n")
        out(f"\n  the compiled gradient is {lines} lines of Python you can read: f.source_for(*args)")
    return results


def _short(v):
    if isinstance(v, np.ndarray) and v.ndim > 0:
        return f"array{v.shape}"
    try:
        return f"{float(v):.6g}"
    except (TypeError, ValueError):
        return repr(v)
