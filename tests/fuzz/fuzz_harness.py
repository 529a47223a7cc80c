"""Run one generated program through the three gradients and say whether they agree.

    checked = check_program(program.source, program.guarded, points, program.tape_source,
                            program.constructs, ties=True)
    check_function(fn, *points)          # the same checks for a function in a real file
    check_refused(fn, *point)            # fn must be refused, the caller's arrays untouched

* the program is written to a real .py file and imported (the compiler reads source);
* each point is first run through the guarded copy (fuzz_programs.Guard): a point closer than
  Guard.THRESHOLD to a branch switch, a kink, a tie or a domain edge is discarded, and so is one
  where the plain function raises, overflows or is large (|f| or |grad| > 1e6). With ties=True
  (array programs) a point at a tie of max/min or a kink of abs/clip is a "tie point" instead:
  the compiled code runs there and its value must be right, but gradients are not compared (the
  convention being adopted splits them evenly among tied inputs; SOURCEAD_FUZZ_TIES=1 counts how
  often the compiled gradient agrees with central differences there);
* central differences are taken with two steps (runtime.gradcheck's, and 1e-4 * max(1, |x|)); a
  point where they disagree by more than 1e-4 relative is discarded (the function is not smooth
  enough there for either to be a reference);
* the truth is plain NumPy run on copies of the arguments. At the points kept: the compiled
  function is called twice on the same arrays, which must be unchanged after decoration and after
  each call, and the two results must agree (the second call runs the version specialised to the
  shapes); the compiled value must equal the plain value (rtol 1e-12), and the compiled gradient,
  the tape's gradient and central differences must agree (gradcheck.compare's default tolerances,
  atol 1e-6 + rtol 1e-5, against the numeric one; rtol 1e-7 between the two exact ones); each
  gradient must have its argument's shape. The tape is left out where PyTorch's semantics differ
  (TAPE_SKIP: writes with repeated indices; points where the program writes into its arguments);
  it follows writes through views and aliases.

A refusal (GradError, at decoration or at a call) is counted (STATS["refused"], per construct)
when the program writes through a view, an alias or into an argument (by its construct tags, or
as the guarded copy saw it at a point): the README allows those to be refused. Any other refusal
is a failure, as is any other exception, and a GradError that reports an internal compiler error.
A program that writes into its arguments must be refused (ARGUMENT_WRITES_MUST_BE_REFUSED).
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

from compiler import jvp, GradError, value_and_grad
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


class _Leaf:
    """A place holder for the flat argument `index` in a packed layout."""

    def __init__(self, index):
        self.index = index


def packer(layout, nargs):
    """For a "dict" program (fuzz_programs.Program.layout, e.g. '{"x": x, "y": y, "w": w}, s'):
    a function from the flat arguments (x, y, w, s) to f's arguments ({"x": x, ...}, s)."""
    names = ["x", "y", "w", "s"][:nargs]
    return eval(f"lambda {', '.join(names)}: ({layout},)")  # noqa: S307 -- the generator's layout


def flat_grads(layout, nargs, grads):
    """The gradients of f's packed arguments, leaf by leaf in the flat order; raises Mismatch if
    a gradient does not have its argument's structure (the same container types, keys, lengths)."""
    out = [None] * nargs
    template = packer(layout, nargs)(*[_Leaf(i) for i in range(nargs)])

    def walk(t, g, path):
        if isinstance(t, _Leaf):
            out[t.index] = g
            return
        if type(g) is not type(t):
            raise Mismatch("compiled-grad-structure", f"gradient at {path or 'top'} is "
                                                     f"{type(g).__name__}, not {type(t).__name__}")
        if isinstance(t, dict):
            if list(g) != list(t):
                raise Mismatch("compiled-grad-structure", f"gradient keys {list(g)} at "
                                                         f"{path or 'top'}, not {list(t)}")
            for k in t:
                walk(t[k], g[k], f"{path}[{k!r}]")
        else:
            if len(g) != len(t):
                raise Mismatch("compiled-grad-structure", f"gradient of length {len(g)} at {path}")
            for i, (a, b) in enumerate(zip(t, g)):
                walk(a, b, f"{path}[{i}]")

    grads = grads if isinstance(grads, tuple) else (grads,)
    walk(template, grads, "")
    return tuple(out)


def packed_compiled(f, layout, nargs):
    """value_and_grad of a "dict" program, called with the flat arguments; gradients flat."""
    pack = packer(layout, nargs)
    wrt = tuple(range(len(pack(*range(nargs)))))
    compiled = value_and_grad(f, wrt=wrt)

    def run(*flat):
        value, grads = compiled(*pack(*flat))
        return value, flat_grads(layout, nargs, grads)
    return run


def tape_runner(fn, wrt, layout=None):
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

    pack = packer(layout, len(wrt)) if layout else (lambda *a: a)

    def anchored(*args):
        out = taped(*pack(*args))
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
    # (zero adjoints shaped like their value, test_bug_zero_adjoint_*, were fixed)
}
CONTAINER_TAGS = frozenset({"list_local", "tuple_local", "dict_local", "dict_params", "list"})
KNOWN_REFUSALS = {
    # (none open: test_bug_write_after_rebinding_an_aliased_name_refused was fixed)
}
TAPE_LIMITATIONS = {
    # PyTorch raises too: a value saved for backward was overwritten in place (a[i] = f(a[i]),
    # a[i] += ... after a[i] was used). Not a bug; counted.
    "inplace_saved": "modified by an inplace operation",
    # PyTorch raises too: an in-place op whose operand overlaps the tensor written (b /= b[0])
    "inplace_overlap": "refer to a single memory location",
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


class PointInfo:
    """What the guarded copy and plain Python saw at one point."""

    def __init__(self, writes, mutated, tie):
        self.writes = writes      # Counter: "own", "alias" (through/into a shared array), "arg"
        self.mutated = mutated    # plain Python changed (its copy of) an argument
        self.tie = tie            # at (or within Guard.THRESHOLD of) a tie of max/min, abs's kink...

    @property
    def shared_write(self):
        return bool(self.writes["alias"] or self.writes["arg"] or self.mutated)


class Refused(Exception):
    """The compiler refused the program (at decoration or at a call) with a GradError."""

    def __init__(self, exc, when):
        super().__init__(str(exc))
        self.exc = exc
        self.when = when


# Constructs whose programs the compiler may refuse (README: "writes into an array that another
# name also sees (an argument, a global, `z = y`, a view `r = y[1]`) ... it refuses"). A program
# without them must be accepted: the generator only writes supported syntax.
REFUSABLE = frozenset({"view_write", "alias_write", "base_write", "arg_inplace", "chained_write",
                       "alias_program", "argument_program"})
# The tape does not apply to these (PyTorch semantics): a write with repeated indices gives every
# repeat the gradient (index_put_ is undefined there); nor at points where the program writes into
# its arguments (in-place changes of leaves raise, as in PyTorch).
TAPE_SKIP = frozenset({"setitem_repeats", "aug_index_repeats"})
# A program writing into its arguments should be refused (README); accepting it is a failure.
ARGUMENT_WRITES_MUST_BE_REFUSED = True

# Known array bugs (issue 9), each pinned by an xfail(strict=True) test in test_fuzz_regressions.py
# (named here). A failure at a point where the predicate holds is counted (STATS["known_<name>"])
# and looked past; SOURCEAD_FUZZ_STRICT=1 reports it. Delete an entry when its bug is fixed.
KNOWN_ARRAY_BUGS = {
    # name: predicate(run, PointInfo, mismatch kind), e.g.
    #   "write_through_alias_ignored": lambda run, info, kind: info.writes["alias"] > 0,
    #   "aug_index_repeats": lambda run, info, kind: "aug_index_repeats" in run.constructs,
    # (none open: the ones found at 49c5332..7b9926a were fixed in b47ce5f, 337d71d, f7273b4)
}
KNOWN_ARRAY_REFUSALS = {
    # name: (construct the program must have or None, text of the refusal)
    # test_gap_def_in_loop_after_continue: a def in a loop body after a `continue` (or a `return`)
    # in that body is refused as "defined with `def` inside a branch"
    "def_in_loop_after_exit": ("def_in_loop", "is defined with `def` inside a branch"),
    # test_bug_list_append_after_inplace_refused: `a *= s` in a loop whose body later rebinds `a`
    # to a new array makes `acc.append(...)` in that loop refused
    "list_append_after_inplace_refused": ("list", "is supported on a list started as"),
    # test_bug_def_called_in_loop_with_early_return_refused: "`inner1` changes in the loop but holds
    # the function" for a def made before the loop and only called in it
    "def_called_in_loop_refused": ("closure", "changes in the loop but holds the function"),
    # test_bug_list_after_def_in_loop_refused: "`acc` is given a list in one branch" for a list
    # made after a loop that defines a function
    "list_after_def_in_loop_refused": ("def_in_loop", "is given a list in one branch"),
    # ... the same bug, said since functions chosen by a condition exist: a def in a loop body
    # after a branch is taken for a function chosen in that branch
    "def_in_loop_taken_for_chosen_function": ("def_in_loop", "a branch here gives a name a function"),
    # test_bug_dict_after_def_in_loop_refused: the same for a dict (a local container of the
    # comprehension/container forms)
    "dict_after_def_in_loop_refused": ("def_in_loop", "is given a dict in one branch"),
    # test_bug_copy_of_dict_leaf_taken_for_alias: y = p["y"]; b = y * 1.0; b[0] = s is refused as
    # a write into the caller's y ("dict" programs, f(p, s))
    "copy_of_dict_leaf_taken_for_alias": ("dict_params", "would change the array the caller passed as"),
    # test_bug_arithmetic_copy_taken_for_alias: b = x * 1.0 (or x - 0.0) and a = x from a branch:
    # a write into b is refused at the call ("shares memory with `a` ... cannot tell")
    "arithmetic_copy_taken_for_alias": (None, "the compiler cannot tell how the two are related"),
    # test_bug_write_into_fancy_index_copy_refused: `b = x[np.array([2, 1, 0])]` (or a mask) is a
    # copy, but a write into b is refused as a write into the caller's x
    "fancy_index_copy_taken_for_view": (("index_fancy", "index_mask"),
                                        "would change the array the caller passed as"),
}

REFUSALS = collections.Counter()   # refusal messages (last line) of accepted refusals
REFUSAL_EXAMPLES = {}              # message -> the first program refused with it


class ProgramRun:
    """One program, loaded and compiled once, checked at any number of points."""

    def __init__(self, source, guarded, tape_source=None, constructs=(), ties=False, layout=None,
                 nargs=None):
        self.source = source
        self.layout = layout
        self.constructs = frozenset(constructs)
        self.soft = Guard.TIE_KINDS if ties else ()
        self.module = load_source(source)
        self.guarded = load_source(guarded, "fuzzguard")
        self.tape_module = self.module if tape_source in (None, source) else \
            load_source(tape_source, "fuzztape")
        self.refusal = None
        self.compiled = None
        if layout is None:
            self.f = self.module.f
            self.guarded_f = lambda *a: self.guarded.f(*a)
            self.nargs = self.f.__code__.co_argcount
        else:   # f(p, s): called with the flat arguments packed (Program.layout)
            pack = packer(layout, nargs)
            self.f = lambda *a: self.module.f(*pack(*a))
            self.guarded_f = lambda *a: self.guarded.f(*pack(*a))
            self.nargs = nargs
        self.wrt = tuple(range(self.nargs))
        try:
            self.compiled = self.compile()
        except GradError as exc:
            self.refusal = Refused(exc, "decoration")
        self.tape = tape_runner(self.tape_module.f, self.wrt, layout) \
            if self.refusal is None else None

    def compile(self):
        if self.layout is None:
            return value_and_grad(self.f, wrt=self.wrt)
        return packed_compiled(self.module.f, self.layout, self.nargs)

    def close(self):
        unload(self.module)
        unload(self.guarded)
        if self.tape_module is not self.module:
            unload(self.tape_module)

    # ---- refusals ----
    def refusal_allowed(self, points):
        """A refusal is fine for a program that writes through an alias, a view or into an
        argument: by its construct tags, or seen by the guarded copy at one of the points."""
        if self.constructs & REFUSABLE:
            return True
        for point in points:
            guard = Guard(Guard.TIE_KINDS)
            guard.args = _copy_args(point)
            self.guarded._g = guard
            try:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self.guarded_f(*guard.args)
            except Exception:  # noqa: BLE001 -- out of domain, tripped: what it saw still counts
                pass
            if guard.writes["alias"] or guard.writes["arg"]:
                STATS["refused_untagged_shared_write"] += 1
                return True
        return False

    def refused(self, refusal, points):
        """Count an allowed refusal; raise Mismatch (or KnownRefusal) for any other."""
        text = str(refusal.exc)
        if "internal compiler error" in text:
            raise Mismatch("compiler-internal-error", f"{text}\n\n{self.source}")
        known = [name for name, text_ in KNOWN_REFUSALS.items() if text_ in text]
        known += [name for name, (construct, text_) in KNOWN_ARRAY_REFUSALS.items()
                  if text_ in text and (construct is None or self.constructs & (
                      {construct} if isinstance(construct, str) else set(construct)))]
        if self.refusal_allowed(points) or "complex numbers are not supported" in text:
            # (the README refuses complex numbers: a constant such as (-0.5) ** 0.5 is one)
            STATS["refused"] += 1
            STATS["refused_at_" + refusal.when] += 1
            key = text.strip().splitlines()[-1][:110]
            REFUSALS[key] += 1
            REFUSAL_EXAMPLES.setdefault(key, f"{text}\n\n{self.source}")
            return
        if known and not os.environ.get("SOURCEAD_FUZZ_STRICT"):
            STATS["known_" + known[0]] += 1
            raise KnownRefusal(known[0])
        raise Mismatch("refused", f"the compiler refused the program ({refusal.when}):\n{text}"
                                  f"\n\n{self.source}")

    # ---- one point ----
    def plain(self, *args):
        with np.errstate(all="raise"), warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            return self.f(*_copy_args(args))

    def screen(self, point):
        """Raise Rejected unless the point is a trustworthy place to compare values (and, unless
        it is a tie point, gradients). Returns (value, numeric gradients or None, PointInfo)."""
        guard = Guard(self.soft)
        guard.args = _copy_args(point)
        self.guarded._g = guard
        pargs = _copy_args(point)
        try:
            with np.errstate(all="raise"), warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)
                guarded_value = self.guarded_f(*guard.args)
                value = self.f(*pargs)
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
        info = PointInfo(guard.writes, any(not np.array_equal(a, b) for a, b in zip(pargs, point)),
                         guard.tie())
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
        if info.tie and not os.environ.get("SOURCEAD_FUZZ_TIES"):
            return value, None, info
        numeric = []
        try:
            for i in self.wrt:
                n1 = numerical_grad(self.plain, point, i)
                n2 = _numeric2(self.plain, point, i, STEP2)
                if not (_finite_small(n1) and _finite_small(n2)):
                    raise Rejected("large-gradient")
                if not np.allclose(n1, n2, rtol=SMOOTH_RTOL, atol=SMOOTH_ATOL):
                    if info.tie:
                        return value, None, info
                    raise Rejected("not-smooth")
                numeric.append(n1)
        except _PLAIN_ERRORS as exc:
            raise Rejected(f"domain-near:{type(exc).__name__}") from None
        except TypeError as exc:  # a power of a negative number went complex near the point
            if "complex" not in str(exc):
                raise
            raise Rejected("domain-near:complex") from None
        return value, numeric, info

    def fresh_compile_agrees(self):
        """Does a fresh compile, called first at the current point, agree with plain Python and
        central differences (so the failure comes from the version an earlier call picked)?"""
        point, value, numeric = self.current
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cvalue, cgrads = self.compile()(*_copy_args(point))
        except Exception:  # noqa: BLE001
            return False
        if not np.isclose(cvalue, value, rtol=1e-9, atol=1e-12):
            return False
        if any(np.shape(c) != np.shape(p) for c, p in zip(cgrads, point)):
            return False
        return numeric is None or all(compare(c, n)[2] for c, n in zip(cgrads, numeric))

    def fail(self, kind, message, info):
        """Raise Mismatch, or Rejected("known-bug") when a known bug explains it."""
        if not os.environ.get("SOURCEAD_FUZZ_STRICT"):
            for name, pred in KNOWN_ARRAY_BUGS.items():
                if pred(self, info, kind):
                    STATS["known_" + name] += 1
                    self.known_hit = True
                    raise Rejected("known-bug")
        raise Mismatch(kind, message)

    def call_compiled(self, args, saved, info, where, which):
        error = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = self.compiled(*args)
        except GradError as exc:
            error, refusal = None, Refused(exc, f"{which} call")
        except Exception as exc:  # noqa: BLE001 -- anything else the compiled gradient raises is a bug
            error, refusal = f"{type(exc).__name__}: {exc}", None
        else:
            refusal = None
        changed = [i for i, (a, b) in enumerate(zip(args, saved)) if not np.array_equal(a, b)]
        if changed:
            self.fail("compiled-mutated-argument",
                      f"{where}: the {which} call changed argument {changed[0]} to "
                      f"{_fmt(args[changed[0]])}\n\n{self.source}", info)
        if refusal is not None:
            raise refusal
        if error is not None:
            if _known_error(KNOWN_COMPILER_ERRORS, self, None, None, error):
                raise Rejected("known-bug")
            self.fail("compiled-raised", f"{where} ({which} call): {error}\n\n{self.source}", info)
        return out

    def check(self, point):
        """Rejected, or None when all agree; raises Mismatch when they do not, Refused when the
        compiler refuses at the call."""
        value, numeric, info = self.screen(point)
        self.current = (point, value, numeric)
        where = f"at {describe_point(point)}"
        # (exceptions are turned into messages and re-raised outside the `except`, so that the
        # Mismatch has no __context__ in a generated file: Hypothesis tells bugs apart by origin)
        args = _copy_args(point)
        saved = _copy_args(point)
        cvalue, cgrads = self.call_compiled(args, saved, info, where, "first")
        again = self.call_compiled(args, saved, info, where, "second")
        if not _same(again, (cvalue, cgrads)):
            self.fail("compiled-second-call",
                      f"{where}: the second call gave {again!r}, the first {(cvalue, cgrads)!r}"
                      f"\n\n{self.source}", info)
        if info.writes["arg"] or info.mutated:
            STATS["argument_write_points"] += 1
            if ARGUMENT_WRITES_MUST_BE_REFUSED:
                self.fail("argument-write-accepted",
                          f"{where}: the program writes into its arguments (plain Python changed "
                          f"them), the compiler should refuse it\n\n{self.source}", info)
        for i, c in zip(self.wrt, cgrads):
            if np.shape(c) != np.shape(point[i]):
                self.fail("compiled-grad-shape", self.report(point, value, cvalue, None, cgrads,
                                                             None, numeric), info)
        if info.tie:
            if not np.isclose(cvalue, value, rtol=1e-9, atol=1e-12):
                self.fail("compiled-value", self.report(point, value, cvalue, None, cgrads, None,
                                                        numeric), info)
            STATS["tie_points_checked"] += 1
            if numeric is not None:   # SOURCEAD_FUZZ_TIES=1: see how often the split agrees
                agree = all(compare(c, n)[2] for c, n in zip(cgrads, numeric))
                STATS["tie_grad_" + ("agrees" if agree else "differs")] += 1
            return None
        # the tape follows views and aliases (runtime/views.py) when the tape's copy writes in
        # place too (it does in "alias" programs, Renderer.inplace_tape); it refuses in-place
        # changes of its leaves, the arguments
        tape_applies = not (info.writes["arg"] or info.mutated or self.constructs & TAPE_SKIP) \
            and (not info.writes["alias"] or "alias_program" in self.constructs)
        tvalue, tgrads = None, None
        if tape_applies:
            error = None
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
                    tape_applies = False
                else:
                    raise Mismatch("tape-raised", f"{where}: {error}\n\n{self.source}")
        if not tape_applies:
            STATS["tape_skipped"] += 1

        report = self.report(point, value, cvalue, tvalue, cgrads, tgrads, numeric)
        if not np.isclose(cvalue, value, rtol=VALUE_RTOL, atol=VALUE_ATOL):
            self.fail("compiled-value", report, info)
        if tape_applies and not np.isclose(tvalue, value, rtol=1e-9, atol=1e-9):
            raise Mismatch("tape-value", report)
        for i, c, n in zip(self.wrt, cgrads, numeric):
            c_ok = compare(c, n)[2]
            if not tape_applies:
                if not c_ok:
                    self.fail("compiled-grad", report, info)
                continue
            t = tgrads[i]
            if np.shape(t) != np.shape(point[i]):
                raise Mismatch("tape-grad-shape", report)
            t_ok = compare(t, n)[2]
            if not c_ok and t_ok:
                self.fail("compiled-grad", report, info)
            if c_ok and not t_ok:
                raise Mismatch("tape-grad", report)
            if not c_ok and not t_ok:
                self.fail("both-grad", report, info)
            if not np.allclose(c, t, rtol=AD_RTOL, atol=AD_ATOL):
                self.fail("compiled-vs-tape", report, info)
        if self.layout is None and (LONG_FORWARD or not getattr(self, "forward_done", False)):
            self.forward_done = True  # (one point per program in the default run)
            self.check_forward(point, cvalue, cgrads, where)
        if self.layout is None and all(type(a) is float for a in point) and \
                (LONG_FORWARD or not getattr(self, "numpy_done", False)):
            self.numpy_done = True
            self.check_numpy_scalars(point, cvalue, cgrads, where, info)
        return None

    def check_numpy_scalars(self, point, cvalue, cgrads, where, info):
        """The same point as NumPy float64s: their own version of the gradient (NumPy's
        arithmetic spelled with operators) gives the same numbers, and float64 gradients."""
        args = tuple(np.float64(a) for a in point)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                nvalue, ngrads = self.compiled(*args)
        except Exception as exc:  # noqa: BLE001
            self.fail("numpy-scalars-raised", f"{where}, as np.float64: {type(exc).__name__}: "
                      f"{exc}\n\n{self.source}", info)
        close = np.isclose(nvalue, cvalue, rtol=VALUE_RTOL, atol=VALUE_ATOL, equal_nan=True) and \
            all(np.isclose(n, c, rtol=1e-10, atol=1e-12, equal_nan=True)
                for n, c in zip(ngrads, cgrads))
        if not close or any(type(n) is not np.float64 for n in ngrads):
            self.fail("numpy-scalars", f"{where}: with np.float64 arguments value {nvalue!r}, "
                      f"gradients {ngrads!r}; with floats {cvalue!r}, {cgrads!r}\n\n{self.source}",
                      info)

    def check_forward(self, point, cvalue, cgrads, where):
        """Forward mode on the same program: jvp along a random direction must give the value and
        the directional derivative the (checked) reverse gradient gives, sum(grad_i * v_i)."""
        rng = np.random.default_rng(len(self.source) + len(STATS))
        tangents = tuple(rng.normal(size=np.shape(a)) if np.ndim(a) else float(rng.normal())
                         for a in point)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fvalue, ftangent = jvp(self.f, _copy_args(point), tangents)
        except GradError as exc:
            if "internal compiler error" in str(exc):
                raise Mismatch("forward-internal-error", f"{where}: {exc}\n\n{self.source}")
            STATS["forward_refused"] += 1
            return
        except Exception as exc:  # noqa: BLE001
            raise Mismatch("forward-raised",
                           f"{where}: jvp raised {type(exc).__name__}: {exc}\n\n{self.source}")
        want = sum(float(np.sum(np.asarray(g) * v)) for g, v in zip(cgrads, tangents))
        scale = 1.0 + sum(float(np.sum(np.abs(np.asarray(g) * v))) for g, v in zip(cgrads, tangents))
        if not np.isclose(fvalue, cvalue, rtol=1e-9, atol=1e-12):
            raise Mismatch("forward-value", f"{where}: jvp's value {fvalue!r}, the gradient's "
                                            f"{cvalue!r}\n\n{self.source}")
        if np.shape(ftangent) != () or not abs(float(ftangent) - want) <= 1e-7 * scale:
            raise Mismatch("forward-tangent",
                           f"{where}: jvp along {tangents!r} gives {ftangent!r}, the reverse "
                           f"gradient gives {want!r}\n\n{self.source}")
        STATS["forward_checked"] += 1

    def report(self, point, value, cvalue, tvalue, cgrads, tgrads, numeric):
        lines = [f"point {describe_point(point)}",
                 f"  value: plain {value!r}  compiled {cvalue!r}  tape {tvalue!r}"]
        for i, c in zip(self.wrt, cgrads):
            t = tgrads[i] if tgrads is not None else None
            n = numeric[i] if numeric is not None else None
            lines.append(f"  d/d arg{i}: compiled {_fmt(np.asarray(c))}\n"
                         f"            tape     {_fmt(np.asarray(t)) if t is not None else '-'}\n"
                         f"            numeric  {_fmt(np.asarray(n)) if n is not None else '-'}")
        return "\n".join(lines) + "\n\n" + self.source


# every checked point also through jvp (SOURCEAD_FUZZ_FORWARD=all), else one point per program
LONG_FORWARD = os.environ.get("SOURCEAD_FUZZ_FORWARD") == "all"


def _same(a, b):
    """Two (value, gradients) results agree (the second call runs the shape-specialised code)."""
    (va, ga), (vb, gb) = a, b
    if not np.allclose(va, vb, rtol=1e-9, atol=1e-12, equal_nan=True):
        return False
    ga = ga if isinstance(ga, tuple) else (ga,)
    gb = gb if isinstance(gb, tuple) else (gb,)
    return len(ga) == len(gb) and all(
        np.shape(x) == np.shape(y) and np.allclose(x, y, rtol=1e-9, atol=1e-12, equal_nan=True)
        for x, y in zip(ga, gb))


def check_program(source, guarded, points, tape_source=None, constructs=(), ties=False,
                  layout=None):
    """Check `source` at each point; returns how many points were checked (the rest rejected, or
    the program refused). Raises Mismatch on the first disagreement. `layout` (Program.layout):
    f takes its arrays in a container; points stay flat, gradients are compared leaf by leaf."""
    STATS["programs"] += 1
    constructs = frozenset(constructs)
    for c in constructs:
        STATS["c:tried:" + c] += 1
    saved = [_copy_args(p) for p in points]
    run = ProgramRun(source, guarded, tape_source, constructs, ties, layout,
                     len(points[0]) if points else None)
    run.known_hit = False
    checked = 0
    try:
        if any(not np.array_equal(a, b) for p, q in zip(points, saved) for a, b in zip(p, q)):
            raise Mismatch("decoration-mutated-argument", source)
        if run.refusal is not None:
            try:
                run.refused(run.refusal, points)
            except KnownRefusal:
                return 0
            for c in constructs:
                STATS["c:refused:" + c] += 1
            return 0
        STATS["programs_compiled"] += 1
        for point in points:
            try:
                run.check(point)
            except Rejected as why:
                STATS["points_rejected"] += 1
                STATS["rejected_" + str(why).split(":")[0]] += 1
                STATS["why_" + str(why)] += 1
                continue
            except Refused as refusal:
                try:
                    run.refused(refusal, points)
                except KnownRefusal:
                    return 0
                for c in constructs:
                    STATS["c:refused:" + c] += 1
                return 0
            checked += 1
            STATS["points_checked"] += 1
    finally:
        run.close()
    if checked:
        STATS["programs_checked"] += 1
        for c in constructs:
            STATS["c:accepted:" + c] += 1
    if run.known_hit:
        for c in constructs:
            STATS["c:known:" + c] += 1
    return checked


def summary(stats, family):
    """The lines a fuzz run prints: programs, points, refusals, known bugs, and per construct how
    many programs were accepted and checked at >= 1 point out of how many tried."""
    rejected = ", ".join(f"{k[9:]} {v}" for k, v in sorted(stats.items()) if k.startswith("rejected_"))
    known = ", ".join(f"{k} {v}" for k, v in sorted(stats.items())
                      if k.startswith(("known_", "tape_limitation_")))
    n = stats["programs"]
    lines = [f"[fuzz {family}] {n} programs tried, {stats['programs_checked']} checked at >= 1 "
             f"point; {stats['points_checked']} points checked, {stats['points_rejected']} "
             f"discarded ({rejected}); looked past: {known or 'nothing'}"]
    if family == "array":
        lines.append(f"  refused {stats['refused']} of {n} ({100.0 * stats['refused'] / max(n, 1):.1f}%, "
                     f"all writing through views/aliases or into arguments); tie points checked "
                     f"(value, no crash, arguments unchanged) {stats['tie_points_checked']}; "
                     f"tape skipped at {stats['tape_skipped']} points (shared writes, repeated "
                     f"indices); argument-write points {stats['argument_write_points']}")
        if stats["tie_grad_agrees"] or stats["tie_grad_differs"]:
            lines.append(f"  at ties, the gradient agrees with central differences "
                         f"{stats['tie_grad_agrees']}, differs {stats['tie_grad_differs']}")
    if stats["programs"]:   # per construct (both families)
        tags = sorted({k[8:] for k in stats if k.startswith("c:tried:")},
                      key=lambda t: -stats["c:accepted:" + t])
        cells = [f"{t} {stats['c:accepted:' + t]}/{stats['c:tried:' + t]}"
                 + (f" r{stats['c:refused:' + t]}" if stats["c:refused:" + t] else "")
                 + (f" k{stats['c:known:' + t]}" if stats["c:known:" + t] else "") for t in tags]
        lines.append("  accepted and checked/tried per construct (rN refused, kN hit a known bug):")
        row = "   "
        for cell in cells:
            if len(row) + len(cell) > 100:
                lines.append(row)
                row = "   "
            row += " " + cell + ","
        lines.append(row.rstrip(","))
    return "\n".join(lines)


def check_function(fn, *points, wrt=None, tape=True):
    """For regression tests: compiled vs tape vs central differences for a function defined in a
    real file, at points chosen away from kinks, with one compiled function called at the points
    in turn (twice each: the second call must agree with the first). Raises Mismatch on
    disagreement. tape=False leaves the tape out (writes through views, repeated indices)."""
    wrt = tuple(range(fn.__code__.co_argcount)) if wrt is None else tuple(wrt)
    compiled = value_and_grad(fn, wrt=wrt)
    taped = tape_runner(fn, wrt) if tape else None
    for point in points:
        value = fn(*_copy_args(point))
        args = _copy_args(point)
        cvalue, cgrads = compiled(*args)
        again = compiled(*args)
        tvalue, tgrads = taped(*_copy_args(point)) if tape else (value, None)
        numeric = [numerical_grad(fn, _copy_args(point), i) for i in wrt]
        where = f"at {describe_point(point)}"
        details = (f"{where}\n  value: plain {value!r} compiled {cvalue!r} tape {tvalue!r}\n"
                   + "\n".join(f"  d/d arg{i}: compiled {_fmt(np.asarray(c))} tape "
                               f"{_fmt(np.asarray(t)) if t is not None else '-'} numeric "
                               f"{_fmt(np.asarray(n))}"
                               for i, c, t, n in zip(wrt, cgrads, tgrads or [None] * len(wrt),
                                                     numeric)))
        for a, b in zip(args, point):
            if not np.array_equal(a, b):
                raise Mismatch("compiled-mutated-argument", details)
        if not _same(again, (cvalue, cgrads)):
            raise Mismatch("compiled-second-call", f"{details}\n  second call: {again!r}")
        if not np.isclose(cvalue, value, rtol=VALUE_RTOL, atol=VALUE_ATOL):
            raise Mismatch("compiled-value", details)
        if tape and not np.isclose(tvalue, value, rtol=1e-9, atol=1e-9):
            raise Mismatch("tape-value", details)
        for k, (i, c, n) in enumerate(zip(wrt, cgrads, numeric)):
            if np.shape(c) != np.shape(point[i]) or not compare(c, n)[2]:
                raise Mismatch("compiled-grad", details)
            t = tgrads[k] if tape else None
            if tape and (np.shape(t) != np.shape(point[i]) or not compare(t, n)[2]):
                raise Mismatch("tape-grad", details)
    return True


def check_refused(fn, *point, wrt=None):
    """For regression tests: the compiler refuses fn (a GradError when decorated or at the first
    call), and the caller's arrays are unchanged."""
    wrt = tuple(range(fn.__code__.co_argcount)) if wrt is None else tuple(wrt)
    args = _copy_args(point)
    try:
        compiled = value_and_grad(fn, wrt=wrt)
        compiled(*args)
    except GradError:
        if any(not np.array_equal(a, b) for a, b in zip(args, point)):
            raise Mismatch("refused-after-mutating-argument", f"arguments became {args}") from None
        return True
    changed = [i for i, (a, b) in enumerate(zip(args, point)) if not np.array_equal(a, b)]
    raise Mismatch("argument-write-accepted",
                   f"accepted; the call changed argument(s) {changed}: {args}" if changed else
                   "accepted (the caller's arrays unchanged)")


