"""Run one generated program through the three gradients and say whether they agree.

    checked = check_program(program.source, program.guarded, points, program.tape_source)
    check_function(fn, *points)          # the same checks for a function in a real file

* the program is written to a real .py file and imported (the compiler reads source);
* each point is first run through the guarded copy (fuzz_programs.Guard): a point closer than
  Guard.THRESHOLD to a branch switch, a kink, a tie or a domain edge is discarded, and so is one
  where the plain function raises, overflows or is large (|f| or |grad| > 1e6);
* central differences are taken with two steps (runtime.gradcheck's, and 1e-4 * max(1, |x|)); a
  point where they disagree by more than 1e-4 relative is discarded (the function is not smooth
  enough there for either to be a reference);
* at the points kept: the compiled value must equal the plain value (rtol 1e-12), and the
  compiled gradient, the tape's gradient and central differences must agree (gradcheck.compare's
  default tolerances, atol 1e-6 + rtol 1e-5, against the numeric one; rtol 1e-7 between the two
  exact ones). The compiled call must not modify its arguments, and each gradient must have its
  argument's shape.

A refusal by the compiler (GradError) is a failure: the generator only writes supported syntax.
Known bugs (KNOWN_*, each pinned in test_fuzz_regressions.py) and PyTorch-semantics limits of the
tape (TAPE_LIMITATIONS) are counted in STATS and looked past; SOURCEAD_FUZZ_STRICT=1 reports the
known bugs as failures (and makes the generator stop avoiding them).
"""
from __future__ import annotations

import atexit
import collections
import importlib.util
import itertools
import os
import shutil
import sys
import tempfile
import types
import warnings

import numpy as np

from compiler import GradError, value_and_grad
from compiler.compare import on_tape, tape_value_and_grad
from runtime.gradcheck import compare, numerical_grad

from fuzz_programs import Guard, GuardTripped

STATS = collections.Counter()   # programs, points_checked, points_rejected_<why>, ...

_DIR = None
_COUNTER = itertools.count()

MAX_MAGNITUDE = 1e6
STEP2 = 1e-4
SMOOTH_RTOL = 1e-4
SMOOTH_ATOL = 1e-6
AD_RTOL = 1e-7          # compiled vs tape (both exact)
AD_ATOL = 1e-9
VALUE_RTOL = 1e-12      # compiled value vs plain value
VALUE_ATOL = 1e-12


class Rejected(Exception):
    """The point is unusable (near a non-smooth place, out of domain, too large)."""


class KnownRefusal(Exception):
    """The compiler refused the program because of a known bug (KNOWN_REFUSALS)."""


class Mismatch(AssertionError):
    """The designs disagree (or one of them failed) at a point the fuzzer trusts."""

    def __init__(self, kind, message):
        super().__init__(f"[{kind}] {message}")
        self.kind = kind


def _tmpdir():
    global _DIR
    if _DIR is None:
        _DIR = tempfile.mkdtemp(prefix="sourcead_fuzz_")
        atexit.register(shutil.rmtree, _DIR, True)
    return _DIR


def load_source(source, stem="fuzzprog"):
    """Write `source` to a fresh .py file and import it as a fresh module."""
    name = f"{stem}_{os.getpid()}_{next(_COUNTER)}"
    path = os.path.join(_tmpdir(), name + ".py")
    with open(path, "w") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def unload(module):
    sys.modules.pop(module.__name__, None)
    try:
        os.remove(module.__file__)
    except OSError:
        pass


def tape_runner(fn, wrt):
    """compiler.compare.tape_value_and_grad, with two additions for generated programs:

    * helper functions of the module are re-bound to the tape's copy of the globals (on_tape swaps
      `math` in the globals of `fn` only, so a helper's math.sin would run on floats and drop
      the gradient);
    * every differentiated argument is anchored into the output with weight 0.0, so that an
      argument that does not reach the result gets a zero gradient instead of None.
    """
    import runtime

    taped = on_tape(fn)
    names = taped.__globals__
    for key, value in list(names.items()):
        if isinstance(value, types.FunctionType) and value.__module__ == fn.__module__ \
                and value is not fn:
            names[key] = types.FunctionType(value.__code__, names, value.__name__,
                                            value.__defaults__, value.__closure__)

    def anchored(*args):
        out = taped(*args)
        for a in args:
            if isinstance(a, runtime.Tensor):
                out = out + 0.0 * runtime.sum(a)
        return out

    return tape_value_and_grad(anchored, wrt)


def _copy_args(point):
    return [np.array(a, dtype=np.float64) if isinstance(a, np.ndarray) else a for a in point]


def _finite_small(v):
    a = np.asarray(v, dtype=np.float64)
    return bool(np.all(np.isfinite(a))) and float(np.max(np.abs(a), initial=0.0)) < MAX_MAGNITUDE


def _numeric2(f, args, index, h_scale):
    """Central differences with step h_scale * max(1, |x|) (runtime.gradcheck's formula)."""
    args = list(args)
    x0 = args[index]
    if not isinstance(x0, np.ndarray):
        h = h_scale * max(1.0, abs(x0))
        args[index] = x0 + h
        up = float(np.sum(f(*args)))
        args[index] = x0 - h
        down = float(np.sum(f(*args)))
        return (up - down) / (2 * h)
    out = np.zeros_like(x0)
    for i in np.ndindex(x0.shape):
        h = h_scale * max(1.0, abs(x0[i]))
        probe = x0.copy()
        probe[i] += h
        args[index] = probe
        up = float(np.sum(f(*args)))
        probe[i] -= 2 * h
        args[index] = probe
        down = float(np.sum(f(*args)))
        out[i] = (up - down) / (2 * h)
    return out


_PLAIN_ERRORS = (ArithmeticError, ValueError, FloatingPointError, ZeroDivisionError, OverflowError,
                 RuntimeWarning)


# Known bugs, each pinned by an xfail(strict=True) test in fuzz_regressions.py (named here). The
# fuzzer counts them (STATS["known_<name>"]) and looks past them, so that one known bug does not
# hide the others; SOURCEAD_FUZZ_STRICT=1 reports them as failures instead. When a bug is fixed,
# its regression test XPASSes (strict, so it fails): delete its entry here then.
#
# Tape behaviours that are PyTorch's semantics, not bugs, are in TAPE_LIMITATIONS.

KNOWN_COMPILER_ERRORS = {
    # (none open: zero adjoints shaped like their value, test_bug_zero_adjoint_*, were fixed)
}
KNOWN_REFUSALS = {
    # (none open: test_bug_write_after_rebinding_an_aliased_name_refused was fixed)
}
TAPE_LIMITATIONS = {
    # PyTorch raises too: a value saved for backward was overwritten in place (a[i] = f(a[i]),
    # a[i] += ... after a[i] was used). Not a bug; counted.
    "inplace_saved": "modified by an inplace operation",
}


def _known_error(table, run, point, numeric, err):
    if os.environ.get("SOURCEAD_FUZZ_STRICT"):
        return False
    for name, pred in table.items():
        if pred(run, point, numeric, err):
            STATS["known_" + name] += 1
            return True
    return False


def _known_zero_grad_shape(c, x, n):
    """(Once test_bug_zero_adjoint_branch_not_taken, now fixed: no shape mismatch is known.)"""
    return False


def _fmt(v):
    if isinstance(v, np.ndarray):
        return np.array2string(v, precision=10, separator=", ")
    return repr(v)


def describe_point(point):
    """The point as a Python expression (np.array(...) for arrays), for pasting into a test."""
    def one(a):
        if isinstance(a, np.ndarray):
            return f"np.array({a.tolist()!r})"
        return repr(float(a))
    return "(" + ", ".join(one(a) for a in point) + ("," if len(point) == 1 else "") + ")"


class ProgramRun:
    """One program, loaded and compiled once, checked at any number of points."""

    def __init__(self, source, guarded, tape_source=None):
        self.source = source
        self.module = load_source(source)
        self.guarded = load_source(guarded, "fuzzguard")
        self.tape_module = self.module if tape_source in (None, source) else \
            load_source(tape_source, "fuzztape")
        self.f = self.module.f
        self.nargs = self.f.__code__.co_argcount
        self.wrt = tuple(range(self.nargs))
        error = None
        try:
            self.compiled = value_and_grad(self.f, wrt=self.wrt)
        except GradError as exc:
            kind = "compiler-internal-error" if "internal compiler error" in str(exc) else "refused"
            error = f"the compiler refused the program:\n{exc}\n\n{source}"
            known = [name for name, text in KNOWN_REFUSALS.items() if text in str(exc)]
        if error is not None:
            self.close()
            if known and not os.environ.get("SOURCEAD_FUZZ_STRICT"):
                STATS["known_" + known[0]] += 1
                raise KnownRefusal(known[0])
            raise Mismatch(kind, error)
        self.tape = tape_runner(self.tape_module.f, self.wrt)

    def close(self):
        unload(self.module)
        unload(self.guarded)
        if self.tape_module is not self.module:
            unload(self.tape_module)

    def plain(self, *args):
        with np.errstate(all="raise"), warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            return self.f(*_copy_args(args))

    def screen(self, point):
        """Raise Rejected unless the point is a trustworthy place to compare gradients.
        Returns (value, numeric gradients)."""
        guard = Guard()
        self.guarded._g = guard
        try:
            with np.errstate(all="raise"), warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)
                guarded_value = self.guarded.f(*_copy_args(point))
            value = self.plain(*point)
        except _PLAIN_ERRORS as exc:
            raise Rejected(f"domain:{type(exc).__name__}") from None
        except GuardTripped as exc:
            raise Rejected(f"near:{exc}") from None
        except TypeError as exc:   # a constant like (-0.5) ** 0.5 is complex
            if "complex" not in str(exc):
                raise
            raise Rejected("domain:complex") from None
        except Exception as exc:  # noqa: BLE001
            error = f"{type(exc).__name__}: {exc}"
        else:
            error = None
        if error is not None:
            raise AssertionError(f"generator bug: the program raised {error}\n\n{self.source}")
        if not guard.ok():
            raise Rejected(f"near:{min(guard.margins, key=lambda m: m[1])[0]}")
        if isinstance(value, complex):
            raise Rejected("domain:complex")
        if not np.array_equal(np.asarray(value), np.asarray(guarded_value), equal_nan=True):
            raise AssertionError(f"generator bug: guarded copy disagrees: {value} {guarded_value} "
                                 f"at {describe_point(point)}\n\n{self.source}")
        if np.ndim(value) != 0:
            raise AssertionError(f"generator bug: f returned shape {np.shape(value)}")
        if not _finite_small(value):
            raise Rejected("large-value")
        numeric = []
        try:
            for i in self.wrt:
                n1 = numerical_grad(self.plain, point, i)
                n2 = _numeric2(self.plain, point, i, STEP2)
                if not (_finite_small(n1) and _finite_small(n2)):
                    raise Rejected("large-gradient")
                if not np.allclose(n1, n2, rtol=SMOOTH_RTOL, atol=SMOOTH_ATOL):
                    raise Rejected("not-smooth")
                numeric.append(n1)
        except _PLAIN_ERRORS as exc:
            raise Rejected(f"domain-near:{type(exc).__name__}") from None
        except TypeError as exc:  # a power of a negative number went complex near the point
            if "complex" not in str(exc):
                raise
            raise Rejected("domain-near:complex") from None
        return value, numeric

    def check(self, point):
        """Rejected, or None when all agree; raises Mismatch when they do not."""
        value, numeric = self.screen(point)
        where = f"at {describe_point(point)}"
        args = _copy_args(point)
        # (exceptions are turned into messages and re-raised outside the `except`, so that the
        # Mismatch has no __context__ in a generated file: Hypothesis tells bugs apart by origin)
        error = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cvalue, cgrads = self.compiled(*args)
        except Exception as exc:  # noqa: BLE001 -- anything the compiled gradient raises is a bug
            error = f"{type(exc).__name__}: {exc}"
        if error is not None:
            if _known_error(KNOWN_COMPILER_ERRORS, self, point, numeric, error):
                raise Rejected("known-bug")
            raise Mismatch("compiled-raised", f"{where}: {error}\n\n{self.source}")
        for a, b in zip(args, point):
            if not np.array_equal(a, b):
                raise Mismatch("compiled-mutated-argument", f"{where}: argument became {_fmt(a)}"
                                                            f"\n\n{self.source}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tvalue, tgrads = self.tape(*_copy_args(point))
        except Exception as exc:  # noqa: BLE001
            error = f"{type(exc).__name__}: {exc}"
        if error is not None:
            limitation = [k for k, text in TAPE_LIMITATIONS.items() if text in error]
            if limitation:
                STATS["tape_limitation_" + limitation[0]] += 1
                raise Rejected("tape-limitation")
            raise Mismatch("tape-raised", f"{where}: {error}\n\n{self.source}")

        report = self.report(point, value, cvalue, tvalue, cgrads, tgrads, numeric)
        if not np.isclose(cvalue, value, rtol=VALUE_RTOL, atol=VALUE_ATOL):
            raise Mismatch("compiled-value", report)
        if not np.isclose(tvalue, value, rtol=1e-9, atol=1e-9):
            raise Mismatch("tape-value", report)
        for i, c, t, n in zip(self.wrt, cgrads, tgrads, numeric):
            if np.shape(c) != np.shape(point[i]) and _known_zero_grad_shape(c, point[i], n):
                c = np.zeros_like(point[i])
            if np.shape(c) != np.shape(point[i]):
                raise Mismatch("compiled-grad-shape", report)
            if np.shape(t) != np.shape(point[i]):
                raise Mismatch("tape-grad-shape", report)
            c_ok = compare(c, n)[2]
            t_ok = compare(t, n)[2]
            if not c_ok and t_ok:
                raise Mismatch("compiled-grad", report)
            if c_ok and not t_ok:
                raise Mismatch("tape-grad", report)
            if not c_ok and not t_ok:
                raise Mismatch("both-grad", report)
            if not np.allclose(c, t, rtol=AD_RTOL, atol=AD_ATOL):
                raise Mismatch("compiled-vs-tape", report)
        return None

    def report(self, point, value, cvalue, tvalue, cgrads, tgrads, numeric):
        lines = [f"point {describe_point(point)}",
                 f"  value: plain {value!r}  compiled {cvalue!r}  tape {tvalue!r}"]
        for i, c, t, n in zip(self.wrt, cgrads, tgrads, numeric):
            lines.append(f"  d/d arg{i}: compiled {_fmt(np.asarray(c))}\n"
                         f"            tape     {_fmt(np.asarray(t))}\n"
                         f"            numeric  {_fmt(np.asarray(n))}")
        return "\n".join(lines) + "\n\n" + self.source


def check_program(source, guarded, points, tape_source=None):
    """Check `source` at each point; returns how many points were checked (the rest rejected).
    Raises Mismatch on the first disagreement."""
    STATS["programs"] += 1
    try:
        run = ProgramRun(source, guarded, tape_source)
    except KnownRefusal:
        return 0
    checked = 0
    try:
        for point in points:
            try:
                run.check(point)
            except Rejected as why:
                STATS["points_rejected"] += 1
                STATS["rejected_" + str(why).split(":")[0]] += 1
                STATS["why_" + str(why)] += 1
                continue
            checked += 1
            STATS["points_checked"] += 1
    finally:
        run.close()
    if checked:
        STATS["programs_checked"] += 1
    return checked


def check_function(fn, *points, wrt=None):
    """For regression tests: compiled vs tape vs central differences for a function defined in a
    real file, at points chosen away from kinks. Raises Mismatch on disagreement."""
    wrt = tuple(range(fn.__code__.co_argcount)) if wrt is None else tuple(wrt)
    compiled = value_and_grad(fn, wrt=wrt)
    tape = tape_runner(fn, wrt)
    for point in points:
        value = fn(*_copy_args(point))
        args = _copy_args(point)
        cvalue, cgrads = compiled(*args)
        tvalue, tgrads = tape(*_copy_args(point))
        numeric = [numerical_grad(fn, _copy_args(point), i) for i in wrt]
        where = f"at {describe_point(point)}"
        details = (f"{where}\n  value: plain {value!r} compiled {cvalue!r} tape {tvalue!r}\n"
                   + "\n".join(f"  d/d arg{i}: compiled {_fmt(np.asarray(c))} tape "
                               f"{_fmt(np.asarray(t))} numeric {_fmt(np.asarray(n))}"
                               for i, c, t, n in zip(wrt, cgrads, tgrads, numeric)))
        for a, b in zip(args, point):
            if not np.array_equal(a, b):
                raise Mismatch("compiled-mutated-argument", details)
        if not np.isclose(cvalue, value, rtol=VALUE_RTOL, atol=VALUE_ATOL):
            raise Mismatch("compiled-value", details)
        if not np.isclose(tvalue, value, rtol=1e-9, atol=1e-9):
            raise Mismatch("tape-value", details)
        for i, c, t, n in zip(wrt, cgrads, tgrads, numeric):
            if np.shape(c) != np.shape(point[i]) or not compare(c, n)[2]:
                raise Mismatch("compiled-grad", details)
            if np.shape(t) != np.shape(point[i]) or not compare(t, n)[2]:
                raise Mismatch("tape-grad", details)
    return True

