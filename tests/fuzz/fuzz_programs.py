"""Hypothesis strategies that write random Python programs, for the differential fuzzer.

A program is a small module: imports, up to two helper functions, and `f`. It is built as a tree
of tuples (below) and rendered to source three times:

* plain: the program the compiler, plain Python and central differences run;
* guarded: the same program with every non-smooth or domain-restricted operation (comparisons,
  abs, max/min, np.where, np.clip, division, log/sqrt/asin/... of raw values, np.max, np.prod)
  routed through `_g.call(kind, fn, *args)` / `_g.cmp(op, a, b)`, which record how far the point
  is from a switch, a tie or a domain edge (`Guard` below). The fuzzer runs the guarded copy on
  plain values first and discards points closer than `Guard.THRESHOLD` to any of those (array
  programs: a tie of max/min or a kink of abs/clip is kept as a "tie point", see the harness).
  Before every index assignment and augmented assignment the guarded copy calls
  `_g.write(name, array, locals())`, which records whether the array written into is shared with
  an argument, with another name, or with nobody;
* tape: the plain program with `name op= e` spelled `name = name op e` (see `Program`), except
  in "alias" array programs (writes through views must reach the other names), and with the few
  spellings the tape lacks
  replaced (np.array(list) -> np.stack, np.full(shape, t) -> t * np.ones(shape), a.copy() ->
  a + 0.0, ndarray.dot(t) -> np.dot).

The plain rendering also collects construct tags (`Program.constructs`: "matmul", "index_repeats",
"view_write", "two_stacked_lists"...), counted per construct by the tests; a write through a view,
an alias or into an argument is marked with a comment naming its tag.

Two families:

* `scalar_programs()`: `f(x[, y[, z]])` over Python floats: + - * /, ** with safe exponents, unary -,
  abs, max/min (2 or 3 arguments), pow, math.* (sin cos tan tanh exp log log1p log2 log10 sqrt
  atan asin acos atan2 hypot sinh cosh expm1 fabs), a few np.* on floats, conditional
  expressions, helper functions (default arguments, keyword calls), closures defined in f,
  assignment, augmented assignment, tuple assignment and swaps, if/elif/else on data-dependent
  comparisons (with and/or/not), for over range / enumerate(range) / zip(range, range) with
  loop-carried values and break/continue/early return, while with a bounded counter (and a
  data-dependent condition), lists built with .append and read with sum()/len().
  The math module is spelled `math.`, `m.` (import math as m) or bare (from math import ...).
* `array_programs()`: `f(x, y, w, s)` with x: (N,), y: (M, N), w: (M, 1), s: float, N in {2, 3, 4}
  and M in {1, 2, 3} drawn per program, over NumPy: every expression is built for an exact target
  shape from elementwise ufuncs (and np.abs/exp/log/sqrt/arcsin, guarded), broadcasting between
  different shapes, np.maximum/minimum/where/clip (function and method), reductions
  (np.sum/mean/max/min/prod and methods, axis int/negative/tuple, keepdims), @ / np.dot /
  np.matmul / .dot / np.outer, .T / np.transpose, reshape (including .T.reshape, which copies),
  np.expand_dims / np.squeeze / [:, None], np.concatenate (axis 0, 1, -1), np.stack (axis 0, 1,
  2-D and 3-D), indexing of every kind (ints, negative ints, slices, negative steps, steps, integer
  lists and arrays with repeats, paired integer arrays, constant masks, masks on data); statements:
  copies (x * 1.0, .copy()) that must not become aliases, index assignment and augmented
  assignment (= += -= *= /=, also with repeated integer indices and masks) and in-place
  `a op= v` on arrays f made; "alias" programs (ALIAS_SHARE) also write through views and aliases
  (`r = a[0:1]; r *= 3.0`, `z = a; z -= c`, `r = a.T; r[0] = v`, `r = a.reshape(-1); r += 1.0`,
  `a[k][j] = v`) and into arrays a view was taken of, and "argument" programs (ARGUMENT_SHARE)
  write into their arguments (`x *= 2.0`, `x[0] = ...`, `z = x; z += 1.0`, `r = y[0]; r -= v`),
  which the compiler should refuse; one, two or three lists built with .append in a loop and
  read with np.stack (axis 0/1), np.array, sum(); loops over range(...), shapes and the rows of a
  matrix (`for row in y`), defs inside f and inside loops, branches on data, and a final reduction
  to a scalar that reads every name written through a view.

Both families also write the README's "Containers, comprehensions, lambdas" forms (FormsMixin):
comprehensions and generator expressions over literal tuples/lists, `range(k)` and local
containers, consumed by sum()/np.sum/np.stack/max/min; lambdas assigned and called, called inline
and passed to a module-level `apply(fn, v)` / `twice(fn, v)`; local dicts, lists (also list
comprehensions) and tuples read by key or index, reduced and iterated (`.items()`, `.values()`,
`enumerate`, `zip`). A share of the plain array programs (DICT_SHARE, "dict_params") take their
arrays in a dict, `f(p, s)` with p = {"x": x, "y": y, "w": w} (or {"x": x, "m": [y, w]}):
`Program.layout` says how, and the harness compares the gradient dict leaf by leaf.

Each strategy returns a `Program`. Only syntax the README says the compiler supports is produced
(plus a[k][j] writes, whose refusal is allowed), and only operations the tape has too (no % or
//). Constructs the compiler refuses although the README lists them (a def or a list inside a
branch or after a possible return: see test_fuzz_regressions.py's test_gap_*) are not generated;
the rest of the known bugs are looked past by the harness (fuzz_harness.KNOWN_*).
"""
from __future__ import annotations

import collections
import dataclasses
import itertools
import operator
import os

import numpy as np
from hypothesis import strategies as st

# Generate around bugs still open in test_fuzz_regressions.py (SOURCEAD_FUZZ_STRICT=1 does not);
# none at the moment (the np.where and a[i] *= v workarounds went with their fixes; the array bugs
# open now are looked past by fuzz_harness.KNOWN_ARRAY_BUGS / KNOWN_ARRAY_REFUSALS instead, so that
# the programs that show them are still generated and counted).
AVOID_KNOWN_BUGS = not os.environ.get("SOURCEAD_FUZZ_STRICT")

# ------------------------------------------------------------------------------------------------
# guards: margins to the nearest switch / tie / domain edge
# ------------------------------------------------------------------------------------------------


def _amin(v):
    return float(np.min(v)) if np.size(v) else np.inf


def _amax(v):
    return float(np.max(v)) if np.size(v) else -np.inf


def _pairwise_gap(*args):
    gaps = [np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))
            for i, a in enumerate(args) for b in args[i + 1:]]
    return min(_amin(g) for g in gaps)


def _top_gap(a, axis=None, keepdims=False):
    a = np.asarray(a, dtype=float)
    if a.size < 2 or (axis is not None and a.shape[axis] < 2):
        return np.inf
    s = np.sort(a.reshape(-1) if axis is None else a, axis=-1 if axis is None else axis)
    s = np.moveaxis(s, -1 if axis is None else axis, -1)
    return min(_amin(s[..., -1] - s[..., -2]), _amin(s[..., 1] - s[..., 0]))


MARGINS = {
    # distance to the kink / tie / switch
    "abs": lambda a: _amin(np.abs(a)),
    "minmax": _pairwise_gap,
    "npmax": _top_gap,
    "clip": lambda a, lo, hi: min(_amin(np.abs(np.asarray(a) - lo)), _amin(np.abs(np.asarray(a) - hi))),
    # distance to a domain edge (or to where values get too large to compare well)
    "div": lambda a, b: _amin(np.abs(b)) - 0.1,
    "pos": lambda a, *rest: _amin(a) - 0.05,         # log, sqrt, a ** 0.5, a ** -1, positive bases
    "log1p": lambda a: _amin(a) + 0.95,
    "unit": lambda a: 0.95 - _amax(np.abs(a)),         # asin, acos
    "exp": lambda a: 12.0 - _amax(np.abs(a)),          # exp, sinh, cosh, expm1
    "rpow": lambda base, a: 12.0 - _amax(np.abs(a)),   # 2.0 ** a
    "tan": lambda a: _amin(np.abs(np.cos(a))) - 0.1,
    "atan2": lambda a, b: _amin(np.maximum(np.asarray(b, dtype=float), np.abs(a))) - 0.05,
    "hypot": lambda a, b: _amin(np.hypot(a, b)) - 0.05,
    "prod": lambda a: _amin(np.abs(a)) - 0.01,
}


class GuardTripped(Exception):
    """The guarded copy came closer than Guard.THRESHOLD to a switch, tie or domain edge."""


class Guard:
    """Collects margins while the guarded copy of a program runs on plain values.

    `soft` kinds (Guard.TIE_KINDS for the array fuzzer's tie points) are recorded without stopping
    the run: a tie of max/min or a kink of abs/clip leaves the value well defined, so the fuzzer
    still runs the compiled code there (it must not crash and its value must be right) but does
    not compare gradients. `write(...)` (the guarded copy calls it before every index assignment
    and augmented assignment) records whether the array written into is shared with an argument
    ("arg"), with another name ("alias": an alias, a view, an array a view was taken of) or with
    nobody ("own"): `writes` counts them."""

    THRESHOLD = 1e-3
    TIE_KINDS = frozenset({"minmax", "npmax", "abs", "clip"})

    truediv = staticmethod(operator.truediv)
    pow = staticmethod(operator.pow)

    def __init__(self, soft=()):
        self.margins = []
        self.soft = frozenset(soft)
        self.args = ()
        self.writes = collections.Counter()

    def call(self, kind, fn, *args, **kwargs):
        if any(np.iscomplexobj(a) for a in args):   # e.g. a constant (-1.5) ** 0.5
            self._record("complex", -np.inf)
        self._record(kind, MARGINS[kind](*args, **kwargs))
        return fn(*args, **kwargs)

    def cmp(self, op, a, b):
        fa = np.asarray(a, dtype=float)
        fb = np.asarray(b, dtype=float)
        scale = np.maximum(1.0, np.maximum(np.abs(fa), np.abs(fb)))
        self._record("cmp", _amin(np.abs(fa - fb) / scale))
        return _CMP[op](a, b)

    def divisor(self, v):
        """`a /= v`: v must stay away from 0 (as the "div" guard of `a / v`)."""
        self._record("div", _amin(np.abs(v)) - 0.1)
        return v

    def write(self, name, array, names):
        if not isinstance(array, np.ndarray):
            return            # `c += 1.0` on a float or a NumPy scalar rebinds c
        if any(_shares(a, array) for a in self.args):
            self.writes["arg"] += 1
        elif any(k != name and _shares(v, array) for k, v in names.items()):
            self.writes["alias"] += 1
        else:
            self.writes["own"] += 1

    def _record(self, kind, margin):
        self.margins.append((kind, margin))
        if not margin >= self.THRESHOLD and kind not in self.soft:
            raise GuardTripped(kind)   # stop here: later code may be out of its domain

    def smallest(self):
        return min((m for _, m in self.margins), default=np.inf)

    def ok(self):
        """No hard margin below the threshold (soft ones are tie())."""
        return min((m for k, m in self.margins if k not in self.soft), default=np.inf) \
            >= self.THRESHOLD

    def tie(self):
        """Some soft margin (a tie of max/min, a kink of abs/clip) below the threshold."""
        return any(not m >= self.THRESHOLD for k, m in self.margins if k in self.soft)


def _shares(value, array):
    if isinstance(value, np.ndarray):
        return np.shares_memory(value, array)
    if isinstance(value, (list, tuple)):
        return any(_shares(v, array) for v in value)
    return False


_CMP = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}

# ------------------------------------------------------------------------------------------------
# the tree and its rendering
# ------------------------------------------------------------------------------------------------
# expressions:
#   ("atom", text)                            a name, a constant, `i`
#   ("bin", op, a, b)                         (a op b), op in + - * / **
#   ("neg", a)                                (-a)
#   ("tmpl", "fmt {0} {1}", args[, tape_fmt]) any template; {M} is the math prefix, {N} numpy's;
#                                             tape_fmt, if given, is what the tape runs instead
#   ("view", "fmt {0}", args)                 a template whose value may share memory with its
#                                             first argument (a slice, .T, reshape, [:, None]...)
#   ("tag", tags, expr)                       expr, noting the constructs `tags` (Program.constructs)
#   ("guard", kind, callee, args, kwargs)     callee(*args, **kwargs), guarded by kind; callee
#                                             "/" or "**" is infix, ".name" a method of args[0]
#   ("cmp", op, a, b), ("bool", "and"|"or", a, b), ("not", a), ("ifexp", cond, a, b)
# statements (an optional last element is a tuple of construct tags):
#   ("assign", target, expr), ("aug", target, op, expr), ("tuple", [names], [exprs])
#       target: a name or `name[index]` text, or ("mask", name, cond_expr) for name[cond] (guarded)
#   ("if", cond, body, orelse), ("for", targets_text, iterable_text, body),
#   ("while", counter, bound, cond, body)
#   ("break",), ("continue",), ("return", expr), ("def", name, params, body)

# construct tags shown as a comment on the statement (the rest are only counted)
COMMENT_TAGS = ("view_write", "alias_write", "base_write", "arg_inplace", "chained_write",
                "copy_write")


SHARED_WRITE_TAGS = ("view_write", "alias_write", "base_write", "chained_write")


def _target_base(target):
    return target[1] if isinstance(target, tuple) else target.split("[")[0]


def _tags_of(s, n):
    """The construct tags of a statement whose plain form has n fields."""
    return tuple(s[n]) if len(s) > n and s[n] else ()


class Renderer:
    def __init__(self, guarded, math_prefix, tape=False, inplace_tape=False):
        self.guarded = guarded
        self.m = math_prefix
        self.tape = tape
        self.inplace_tape = inplace_tape
        self.tags = collections.Counter()   # construct tags met (Program.constructs)
        self.loops = 0
        self.sees = {}          # name -> names whose array it may share (from `r = a[0]`, `z = a`)
        self.shared = set()     # names whose array was written while another name saw it

    def expr(self, e):
        kind = e[0]
        if kind == "atom":
            return e[1]
        if kind == "tag":
            for t in ((e[1],) if isinstance(e[1], str) else e[1]):
                self.tags[t] += 1
            return self.expr(e[2])
        if kind == "bin":
            _, op, a, b = e
            return f"({self.expr(a)} {op} {self.expr(b)})"
        if kind == "neg":
            return f"(-{self.expr(e[1])})"
        if kind in ("tmpl", "view"):
            fmt, args = e[1], e[2]
            if self.tape and len(e) > 3 and e[3]:
                fmt = e[3]
            text = fmt.format(*[self.expr(a) for a in args], M=self.m, N="np.")
            return text if _is_call(text) else f"({text})"
        if kind == "guard":
            _, gk, callee, args, kwargs = e
            callee = callee.format(M=self.m, N="np.")
            rargs = [self.expr(a) for a in args]
            rkw = [f"{k}={v}" for k, v in kwargs]
            constant = not any(_names_in(a) for a in args)
            same = gk == "minmax" and len(set(rargs)) == 1   # max(a, a) is smooth
            if self.guarded and not constant and not same:
                fn = {"/": "_g.truediv", "**": "_g.pow"}.get(callee, callee)
                if fn.startswith("."):
                    fn = "np" + fn
                return f"_g.call({gk!r}, {', '.join([fn] + rargs + rkw)})"
            if callee in ("/", "**"):
                return f"({rargs[0]} {callee} {rargs[1]})"
            if callee.startswith("."):
                return f"{rargs[0]}{callee}({', '.join(rargs[1:] + rkw)})"
            return f"{callee}({', '.join(rargs + rkw)})"
        if kind == "cmp":
            _, op, a, b = e
            if self.guarded and not _is_int(a) and not _is_int(b) and (_names_in(a) or _names_in(b)) \
                    and self.expr(a) != self.expr(b):
                return f"_g.cmp({op!r}, {self.expr(a)}, {self.expr(b)})"
            return f"({self.expr(a)} {op} {self.expr(b)})"
        if kind == "bool":
            _, op, a, b = e
            return f"({self.expr(a)} {op} {self.expr(b)})"
        if kind == "not":
            return f"(not {self.expr(e[1])})"
        if kind == "ifexp":
            _, c, a, b = e
            return f"({self.expr(a)} if {self.expr(c)} else {self.expr(b)})"
        raise ValueError(e)

    def cond(self, c):
        text = self.expr(c)
        return text[1:-1] if text.startswith("(") and _matching(text, 0) == len(text) - 1 else text

    def target(self, t):
        if isinstance(t, tuple):   # ("mask", name, cond): name[cond]
            return f"{t[1]}[{self.cond(t[2])}]"
        return t

    def note(self, tags, line):
        for t in tags:
            self.tags[t] += 1
        if self.loops and any(t in SHARED_WRITE_TAGS for t in tags):
            self.tags["shared_write_in_loop"] += 1
        shown = [t for t in tags if t in COMMENT_TAGS]
        return line + (f"  # {', '.join(shown)}" if shown and not self.guarded else "")

    def note_assign(self, s):
        """Follow `r = a[0]` (r sees a) and writes through them, for the tag
        "rebind_after_shared_write": `a = a * 2.0` after a write through r (or into a)."""
        target, value = s[1], s[2]
        if not isinstance(target, str) or "[" in target:
            return
        if target in self.shared and target in _names_in(value):
            self.tags["rebind_after_shared_write"] += 1
        seen = _alias_names(value) - {target}
        self.sees[target] = seen
        for n in seen:
            self.sees.setdefault(n, set()).add(target)

    def note_write(self, target, tags):
        if any(t in SHARED_WRITE_TAGS for t in tags):
            base = _target_base(target)
            self.shared |= {base} | self.sees.get(base, set())

    def write_hook(self, pad, target):
        """In the guarded copy: tell the guard which array is about to be written into."""
        base = _target_base(target)
        return [f"{pad}_g.write({base!r}, {base}, locals())"] if self.guarded else []

    def stmts(self, body, indent):
        pad = "    " * indent
        if not body:
            return [f"{pad}pass"]
        out = []
        for s in body:
            kind = s[0]
            if kind == "assign":
                if not isinstance(s[1], str) or "[" in s[1]:
                    out += self.write_hook(pad, s[1])
                    self.note_write(s[1], _tags_of(s, 3))
                else:
                    self.note_assign(s)
                if s[2] == ("atom", "[]"):
                    self.tags["list"] += 1
                out.append(self.note(_tags_of(s, 3),
                                     f"{pad}{self.target(s[1])} = {self.top(s[2])}"))
            elif kind == "aug" and self.tape and isinstance(s[1], str) and s[1].isidentifier() \
                    and not self.inplace_tape:
                # the tape's Tensor is updated in place by +=, a float is rebound (see Program);
                # in "alias" programs writes stay in place: other names must see them
                out.append(self.note(_tags_of(s, 4),
                                     f"{pad}{s[1]} = {s[1]} {s[2]} {self.expr(s[3])}"))
            elif kind == "aug":
                out += self.write_hook(pad, s[1])
                self.note_write(s[1], _tags_of(s, 4))
                value = self.top(s[3])
                if s[2] == "/" and self.guarded:
                    value = f"_g.divisor({value})"
                out.append(self.note(_tags_of(s, 4),
                                     f"{pad}{self.target(s[1])} {s[2]}= {value}"))
            elif kind == "tuple":
                out.append(f"{pad}{', '.join(s[1])} = {', '.join(self.top(e) for e in s[2])}")
            elif kind == "if":
                _, c, then, orelse = s[:4]
                if _names_in(c):
                    self.tags["branch"] += 1
                out.append(f"{pad}if {self.cond(c)}:")
                out += self.stmts(then, indent + 1)
                while len(orelse) == 1 and orelse[0][0] == "if" and orelse[0][3]:
                    _, c2, then2, orelse = orelse[0][:4]
                    out.append(f"{pad}elif {self.cond(c2)}:")
                    out += self.stmts(then2, indent + 1)
                if orelse:
                    out.append(f"{pad}else:")
                    out += self.stmts(orelse, indent + 1)
            elif kind == "for":
                _, var, iterable, body = s[:4]
                out.append(self.note(_tags_of(s, 4) + ("loop",),
                                     f"{pad}for {var} in {iterable}:"))
                self.loops += 1
                out += self.stmts(body, indent + 1)
                self.loops -= 1
            elif kind == "while":
                _, counter, bound, c, body = s[:5]
                self.tags["while"] += 1
                out.append(f"{pad}{counter} = 0")
                extra = f" and {self.expr(c)}" if c is not None else ""
                out.append(f"{pad}while {counter} < {bound}{extra}:")
                out.append(f"{pad}    {counter} += 1")
                self.loops += 1
                out += self.stmts(body, indent + 1)
                self.loops -= 1
            elif kind == "break":
                out.append(f"{pad}break")
            elif kind == "continue":
                out.append(f"{pad}continue")
            elif kind == "return":
                out.append(f"{pad}return {self.top(s[1])}")
            elif kind == "def":
                _, name, params, body = s[:4]
                self.tags["def_in_loop" if self.loops else "closure"] += 1
                out.append(f"{pad}def {name}({', '.join(params)}):")
                loops, self.loops = self.loops, 0
                out += self.stmts(body, indent + 1)
                self.loops = loops
            elif kind == "expr_call":
                out.append(self.note(_tags_of(s, 3), f"{pad}{s[1]}({self.top(s[2])})"))
            else:
                raise ValueError(s)
        return out

    def top(self, e):
        text = self.expr(e)
        if text.startswith("(") and _matching(text, 0) == len(text) - 1 and e[0] != "atom":
            return text[1:-1]
        return text


def _is_call(text):
    """`name(...)` or `a.b(...)` as one atom (so it needs no parentheses around it)."""
    head = text.split("(", 1)[0]
    return bool(head) and head.replace(".", "").replace("_", "").isalnum() and \
        text.endswith(")") and _balanced(text[len(head) + 1:-1]) and \
        _matching(text, len(head)) == len(text) - 1


def _matching(text, open_at):
    depth = 0
    for pos in range(open_at, len(text)):
        depth += text[pos] == "("
        depth -= text[pos] == ")"
        if depth == 0:
            return pos
    return -1


def _balanced(text):
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


def _is_int(e):
    return e[0] == "atom" and e[1] in INT_ATOMS


INT_ATOMS = {"i", "j", "k", "n1", "n2", "n3", "0", "1", "2", "3"}

# ------------------------------------------------------------------------------------------------
# programs
# ------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Program:
    source: str             # what the compiler (and plain Python, and central differences) run
    guarded: str            # the same program with guards (needs a `_g` global)
    kinds: tuple            # per argument of f: () for a float, else the array shape
    family: str
    tape_source: str = None  # what the tape runs: `name op= e` spelled `name = name op e`
    # (a float or a NumPy scalar is rebound by +=, but the tape's Tensor -- like PyTorch's -- is
    # updated in place: an alias would see it, a leaf refuses it, and a value saved for backward
    # makes backward() raise. Names the generator updates with += have no aliases, so the two
    # spellings mean the same in Python; index updates `a[i] += e` are kept.)
    constructs: frozenset = frozenset()   # what the program does (tags: "matmul", "view_write"...)
    # "dict" array programs: f(p, s) gets its arrays in a container; `layout` is the call's
    # arguments written over the flat ones, e.g. '{"x": x, "y": y, "w": w}, s' (the points, central
    # differences and the kinds stay flat: fuzz_harness packs them and compares the gradient
    # dict leaf by leaf)
    layout: str = None

    def __str__(self):
        return self.source


HEADERS = {
    "math.": "import math\nimport numpy as np\n",
    "m.": "import math as m\nimport numpy as np\n",
    "np.": "import math\nimport numpy as np\n",
    "": ("from math import (acos, asin, atan, atan2, cos, cosh, exp, expm1, fabs, hypot, log, log1p,\n"
         "                  log2, log10, sin, sinh, sqrt, tan, tanh)\nimport numpy as np\n"),
}


def _names_in(e):
    """The variable names an expression reads."""
    if e[0] == "atom":
        return {e[1]} if e[1].isidentifier() else set()
    out = set()
    for part in e[1:]:
        if isinstance(part, tuple) and part and isinstance(part[0], str) and part[0] in _EXPR_KINDS:
            out |= _names_in(part)
        elif isinstance(part, list):
            for p in part:
                if isinstance(p, tuple) and p and p[0] in _EXPR_KINDS:
                    out |= _names_in(p)
    return out


_EXPR_KINDS = {"atom", "bin", "neg", "tmpl", "guard", "cmp", "bool", "not", "ifexp", "tag", "view"}


def _alias_atoms(e):
    """Names whose object the value of `e` may be (not a new value)."""
    kind = e[0]
    if kind == "atom":
        return {e[1]} if e[1].isidentifier() else set()
    if kind == "ifexp":
        return _alias_atoms(e[2]) | _alias_atoms(e[3])
    if kind == "tag":
        return _alias_atoms(e[2])
    if kind == "view":
        return _alias_atoms(e[2][0])
    if kind == "guard" and e[2] in ("max", "min"):
        return set().union(*[_alias_atoms(a) for a in e[3]])
    if kind == "tmpl" and e[1].startswith(("h0(", "h1(", "inner", "lam")):
        return set().union(*[_alias_atoms(a) for a in e[2]])
    return set()


def _tainted(body, out):
    """Names that may share their object with another name (through `b = a`, a swap, max(a, b),
    a conditional expression, a helper returning its argument, a list)."""
    for s in body:
        kind = s[0]
        if kind == "assign":
            names = _alias_atoms(s[2]) if s[2] is not None else set()
            if names:
                out |= names | {s[1]}
        elif kind == "tuple":
            for t, v in zip(s[1], s[2]):
                names = _alias_atoms(v)
                if names:
                    out |= names | {t}
        elif kind == "expr_call":
            out |= _alias_atoms(s[2])
        elif kind == "if":
            _tainted(s[2], out)
            _tainted(s[3], out)
        elif kind in ("for", "def"):
            _tainted(s[3], out)
        elif kind == "while":
            _tainted(s[4], out)
    return out


def _no_aliased_aug(body, tainted):
    """`a += e` -> `a = a + e` when `a` may alias another name or is a parameter: a float is
    rebound by +=, but the tape's Tensor (like PyTorch's) is updated in place, so every alias
    would see the change (and a parameter is a leaf, which refuses in-place updates)."""
    out = []
    for s in body:
        kind = s[0]
        if kind == "aug" and s[1] in tainted:
            out.append(("assign", s[1], ("bin", s[2], ("atom", s[1]), s[3])))
        elif kind == "if":
            out.append(("if", s[1], _no_aliased_aug(s[2], tainted), _no_aliased_aug(s[3], tainted)))
        elif kind == "for":
            out.append(("for", s[1], s[2], _no_aliased_aug(s[3], tainted)) + tuple(s[4:]))
        elif kind == "def":
            out.append(("def", s[1], s[2], _no_aliased_aug(s[3], tainted | set(s[2]))))
        elif kind == "while":
            out.append(("while", s[1], s[2], s[3], _no_aliased_aug(s[4], tainted)))
        else:
            out.append(s)
    return out


def _only_owned_writes(body, allowed):
    out = []
    for s in body:
        kind = s[0]
        if kind in ("assign", "aug") and "[" in s[1]:
            if s[1].split("[")[0] in allowed:
                out.append(s)
        elif kind == "aug" and s[1] not in allowed:
            out.append(("assign", s[1], ("bin", s[2], ("atom", s[1]), s[3])))
        elif kind == "if":
            out.append(("if", s[1], _only_owned_writes(s[2], allowed),
                        _only_owned_writes(s[3], allowed)))
        elif kind == "for":
            out.append(("for", s[1], s[2], _only_owned_writes(s[3], allowed)) + tuple(s[4:]))
        elif kind == "while":
            out.append(("while", s[1], s[2], s[3], _only_owned_writes(s[4], allowed)))
        elif kind == "seq":
            out.append(("seq", _only_owned_writes(s[1], allowed)))
        else:
            out.append(s)
    return out


def _render(prefix, helpers, params, body, kinds, family, inplace_tape=False):
    body = _flatten(body)
    helpers = [(n, ps, _flatten(b)) for n, ps, b in helpers]
    if family == "scalar":
        tainted = set(params)
        for _, ps, b in helpers:
            tainted |= {p.split("=")[0] for p in ps}
            _tainted(b, tainted)
        _tainted(body, tainted)
        body = _no_aliased_aug(body, tainted)
        helpers = [(n, ps, _no_aliased_aug(b, tainted)) for n, ps, b in helpers]
    sources = []
    tags = collections.Counter()
    for guarded, tape in ((False, False), (True, False), (False, True)):
        r = Renderer(guarded, prefix, tape, inplace_tape)
        lines = [HEADERS[prefix]]
        for name, hparams, hbody in helpers:
            lines.append(f"\ndef {name}({', '.join(hparams)}):")
            lines += r.stmts(_flatten(hbody), 1)
            lines.append("")
            r.tags["helper"] += 1
        lines.append(f"\ndef f({', '.join(params)}):")
        lines += r.stmts(_flatten(body), 1)
        sources.append("\n".join(lines) + "\n")
        if not guarded and not tape:
            tags = r.tags
    constructs = set(tags)
    if tags["list"] >= 2:
        constructs.add("two_lists")
    if tags["list_stack"] >= 2:
        constructs.add("two_stacked_lists")
    return Program(sources[0], sources[1], tuple(kinds), family, sources[2], frozenset(constructs))


class Env:
    """What the generator may read at a point of the program."""

    def __init__(self, names, ints=(), helpers=(), in_loop=False, in_def=False):
        self.names = dict(names)          # name -> shape
        self.ints = list(ints)            # loop variables and counters in scope
        self.helpers = list(helpers)      # (name, arity) callable here
        self.in_loop = in_loop
        self.in_def = in_def
        self.in_branch = False            # inside an if (a list or def made there is refused)
        self.owned = set()                # array names safe for index assignment
        self.def_locals = set()           # names a def assigned (the only ones it may reassign)
        self.ret_shape = None             # shape a `return` in a def must have (None: f's result)
        # array programs:
        self.roots = {}                   # name -> the arrays (ids) its value may share memory with
        self.kind = {}                    # name -> "fresh", "alias" (z = a) or "view" (r = a[0])
        self.observe = set()              # names written through a view/alias: the result reads them
        self.exits_ok = True              # break/continue/return allowed (not in a list's loop)
        self.containers = {}              # local dict/list/tuple name -> (kind, keys, element shape)

    def copy(self, **changes):
        e = Env(self.names, self.ints, self.helpers, self.in_loop, self.in_def)
        e.in_branch = self.in_branch
        e.owned = set(self.owned)
        e.def_locals = set(self.def_locals)
        e.ret_shape = self.ret_shape
        e.roots = dict(self.roots)
        e.kind = dict(self.kind)
        e.observe = set(self.observe)
        e.exits_ok = self.exits_ok
        e.containers = dict(self.containers)
        for k, v in changes.items():
            setattr(e, k, v)
        return e


class Builder:
    """Shared statement generation; subclasses generate expressions."""

    LOCALS = ("a", "b", "c", "d")
    max_stmts = 4

    def __init__(self, draw):
        self.draw = draw
        self.counters = 0
        self.inner_defs = 0
        self.lists = 0
        self.returned = False

    # ---- small draws (the first option is the one Hypothesis shrinks towards) ----
    def pick(self, options):
        options = list(options)
        if len(options) == 1:
            return options[0]
        return self.draw(st.sampled_from(options))

    def coin(self, p_true=0.5):
        return self.draw(st.floats(0, 1)) < p_true

    def count(self, lo, hi):
        return self.draw(st.integers(lo, hi))

    # ---- statements ----
    def block(self, env, depth, lo=1, hi=None, params=()):
        """A list of statements; returns (stmts, env after)."""
        hi = self.max_stmts if hi is None else hi
        out = []
        n = self.count(lo, hi)
        for _ in range(n):
            stmt, env = self.statement(env, depth, params)
            out.append(stmt)
        return out, env

    def statement(self, env, depth, params=()):
        options = ["assign", "assign", "aug"]
        if len(self.assignable(env, params)) >= 2:
            options.append("tuple")
        if depth > 0:
            options += ["if", "if", "for", "while"]
            if not env.in_def and not env.in_loop and not env.in_branch and not self.returned:
                options.append("def")   # (a def or a list after a possible return is refused)
        if env.in_loop:
            options += ["break", "continue"]
        if self.may_return(env):
            options += ["return"]
        options += self.extra_statements(env)
        kind = self.pick(options)
        return getattr(self, "stmt_" + kind)(env, depth, params)

    def extra_statements(self, env):
        return []

    def assignable(self, env, params):
        if env.in_def:  # never a name of the enclosing function (it would become local to the def)
            return [n for n in env.names if n in env.def_locals or n in params]
        return [n for n in env.names if n in self.LOCALS or n in params]

    def stmt_assign(self, env, depth, params):
        existing = self.assignable(env, params)
        fresh = [n for n in self.LOCALS if n not in env.names]
        if existing and (not fresh or self.coin(0.4)):
            name = self.pick(existing)
            shape = env.names[name]
            value = self.value(env, shape, fresh_name=False)
        else:
            name = fresh[0] if fresh else self.pick(self.LOCALS)
            shape = self.new_shape(env)
            value = self.value(env, shape, fresh_name=True)
        env = env.copy()
        env.names[name] = self.shape_of(value, shape)
        if env.in_def:
            env.def_locals.add(name)
        self.note_owned(env, name, value)
        return ("assign", name, value), env

    def stmt_aug(self, env, depth, params):
        existing = self.assignable(env, params)
        if not existing:
            return self.stmt_assign(env, depth, params)
        name = self.pick(existing)
        op = self.pick(["+", "*", "-"])
        shape = env.names[name]
        value = self.operand_for(env, shape)
        if (shape != () and name not in env.owned) or (shape == () and isinstance(self, ArrayBuilder)):
            # an array f does not own would be written into; a NumPy scalar is immutable but the
            # tape's 0-d Tensor is not (an alias would see the update)
            return ("assign", name, ("bin", op, ("atom", name), value)), env
        return ("aug", name, op, value), env

    def stmt_tuple(self, env, depth, params):
        names = self.assignable(env, params)
        n1 = self.pick(names)
        n2 = self.pick([n for n in names if n != n1])
        e1 = self.value(env, env.names[n1])
        e2 = self.value(env, env.names[n2])
        if self.coin(0.3):
            e1, e2 = ("atom", n2), ("atom", n1)
            if env.names[n1] != env.names[n2]:
                return self.stmt_assign(env, depth, params)
        env = env.copy()
        env.owned -= {n1, n2} | _alias_atoms(e1) | _alias_atoms(e2)
        return ("tuple", [n1, n2], [e1, e2]), env

    def stmt_if(self, env, depth, params):
        cond = self.condition(env)
        then, env_then = self.block(env.copy(in_branch=True), depth - 1, 1, 3, params)
        if self.coin(0.6):
            orelse, env_else = self.block(env.copy(in_branch=True), depth - 1, 1, 3, params)
        else:
            orelse, env_else = [], env
        merged = env.copy()
        merged.names = {n: s for n, s in env_then.names.items() if env_else.names.get(n) == s}
        merged.helpers = env.helpers
        merged.owned = env_then.owned & env_else.owned & set(merged.names)
        return ("if", cond, then, orelse), merged

    def loop_body(self, env, depth, params):
        """A loop body: existing names keep their shapes (loop-carried values)."""
        inner = env.copy(in_loop=True)
        body, after = self.block(inner, depth - 1, 1, 3, params)
        if self.coin(0.35):  # a guarded exit somewhere in the body
            exit_kind = self.pick(["break", "continue"] + (["return"] if self.may_return(inner) else []))
            exit_stmt = self.stmt_exit(inner, exit_kind)  # reads only names set before the loop
            pos = self.count(0, len(body))
            body.insert(pos, exit_stmt)
        out = env.copy()
        out.names = {n: s for n, s in env.names.items() if after.names.get(n) == s}
        out.owned = env.owned & after.owned & set(out.names)
        # the next iteration writes into what a name holds at the end of this one: keep writes
        # (a[i] = v, a += v) only to names owned both at the start and at the end of the body
        body = _only_owned_writes(body, out.owned | {n for n, s in env.names.items() if s == ()})
        return body, out

    def may_return(self, env):
        return True

    def stmt_exit(self, env, kind):
        if kind == "return":
            self.returned = True   # the rest of the function runs under `if not returned:`
            value = self.result(env) if env.ret_shape is None else self.value(env, env.ret_shape)
            return ("if", self.condition(env), [("return", value)], [])
        return ("if", self.condition(env), [(kind,)], [])

    def stmt_for(self, env, depth, params):
        var = self.pick([v for v in ("i", "j", "k") if v not in env.ints] or ["k"])
        k = self.count(1, 4)
        form = self.pick(["range", "range", "enumerate", "zip"] + self.shape_ranges())
        if form == "enumerate":   # for i, ii in enumerate(range(...)): i counts from 0
            rng = f"enumerate(range({self.pick([f'{k}', f'1, {k + 1}'])}))"
            var_text = f"{var}, {var}{var}"
        elif form == "zip":
            rng = f"zip(range({k}), range(1, {k + 1}))"
            var_text = f"{var}, {var}{var}"
        elif form == "range":
            rng = "range(" + self.pick([f"{k}", f"{k}", f"1, {k + 1}", f"{k}, 0, -1",
                                        f"0, {k + 1}, 2"]) + ")"
            var_text = var
        else:
            rng, var_text = form, var
        inner = env.copy(ints=env.ints + [var])
        body, after = self.loop_body(inner, depth, params)
        if self.can_append() and not (env.in_branch or env.in_loop or self.returned) \
                and self.coin(0.2):
            return self.list_loop(env, depth, var, var_text, rng, body, after, params)
        after = after.copy(ints=env.ints)
        return ("for", var_text, rng, body), after

    def can_append(self):
        return False

    def shape_ranges(self):
        return []

    def stmt_while(self, env, depth, params):
        self.counters += 1
        counter = f"n{min(self.counters, 3)}"
        if counter in env.ints:
            return self.stmt_assign(env, depth, params)
        bound = self.count(1, 4)
        cond = self.condition(env) if self.coin(0.4) else None
        inner = env.copy(ints=env.ints + [counter])
        body, after = self.loop_body(inner, depth, params)
        after = after.copy(ints=env.ints)
        return ("while", counter, bound, cond, body), after

    def stmt_break(self, env, depth, params):
        return self.stmt_exit(env, "break"), env

    def stmt_continue(self, env, depth, params):
        return self.stmt_exit(env, "continue"), env

    def stmt_return(self, env, depth, params):
        return self.stmt_exit(env, "return"), env

    def stmt_def(self, env, depth, params):
        """A closure defined inside f: reads names of f, called later."""
        self.inner_defs += 1
        name = f"inner{self.inner_defs}"
        hparams = ["t"] if self.coin(0.6) else ["t", "u"]
        shape = self.param_shape()
        hnames = {p: shape for p in hparams}
        henv = env.copy(in_def=True, in_loop=False, ints=[], ret_shape=shape)
        henv.names.update(hnames)
        henv.owned = set()
        henv.def_locals = set()
        body, henv_after = self.block(henv, 0, 0, 2, params=hparams)
        body.append(("return", self.value(henv_after, shape)))
        env = env.copy()
        env.helpers = env.helpers + [(name, len(hparams), shape)]
        return ("def", name, hparams, body), env

    def param_shape(self):
        return ()


# ------------------------------------------------------------------------------------------------
# comprehensions, lambdas, local containers (both families)
# ------------------------------------------------------------------------------------------------
# Forms of the README's "Containers, comprehensions, lambdas", written by both builders:
#
# * comprehensions and generator expressions over a tuple or list written in the program
#   (`(0.5, x, 1.5)`), over `range(k)` with a literal k (with an `if` on the int, known when the
#   graph is built) and over local containers (`d.values()`, `d.items()`, `enumerate(l)`,
#   `zip(l1, l2)`), consumed by sum(), np.sum, np.stack, max/min;
# * lambdas assigned to a name and called (`lam1 = lambda l1: ...; lam1(a)`), called inline
#   (`(lambda l2: ...)(a)`) and passed to a module-level helper (`apply(fn, v)`,
#   `twice(fn, v)`);
# * local dicts, lists and tuples of values (`dd1 = {"a": x, "b": y * 2.0}`), read by key or
#   index (`dd1["b"]`, `ls1[-1]`, `ls1[i % 2]`), reduced (`sum(ls1)`, `max(ls1)`) and iterated
#   (`for k1, v1 in dd1.items():`, `for v1, u1 in zip(ls1, ls2):`).
#
# A container holds new values of one shape (an array an argument or another name sees is copied
# with * 1.0 first: a write into it would show through the container); reading an element is a
# "view" of the container (Env.roots) so that nothing writes into it. A lambda's body is an
# arithmetic expression, so it never returns its argument itself. Containers and assigned lambdas
# are made only at the top level of f, before any possible return (as defs and lists are).
# The tape runs these natively; only np.sum(list) is spelled np.sum(np.stack(list)) there.

HELPER_DEFS = {
    "apply": (["fn", "v"], "fn(v) + v"),
    "twice": (["fn", "v"], "fn(fn(v)) * 0.5"),
}
DICT_KEYS = ("a", "b", "c")


def _without_exits(body, nested=False):
    """The body of a loop over a container without its `break`s and `continue`s (README: not
    supported there; those of nested loops are refused too, a bug: they are kept only with
    SOURCEAD_FUZZ_STRICT=1) and without any `return` (also refused there, although the README
    does not say so: test_gap_return_in_loop_over_container)."""
    out = []
    for s in body:
        if s[0] in ("break", "continue") and (not nested or AVOID_KNOWN_BUGS):
            continue   # (nested: test_bug_exit_of_inner_loop_in_container_loop_refused)
        if s[0] == "return" and AVOID_KNOWN_BUGS:
            continue
        if s[0] == "if":
            out.append(("if", s[1], _without_exits(s[2], nested), _without_exits(s[3], nested))
                       + tuple(s[4:]))
        elif s[0] == "seq":
            out.append(("seq", _without_exits(s[1], nested)))
        elif s[0] == "for":
            out.append(("for", s[1], s[2], _without_exits(s[3], True)) + tuple(s[4:]))
        elif s[0] == "while":
            out.append(("while", s[1], s[2], s[3], _without_exits(s[4], True)) + tuple(s[5:]))
        else:
            out.append(s)
    return out


class FormsMixin:
    """Comprehensions, lambdas and local containers; needs sub(env, shape, depth), unary() and
    fresh_elem(env, value)."""

    def next_id(self):
        self.form_ids = getattr(self, "form_ids", 0) + 1
        return self.form_ids

    def use_helper(self, name):
        if not hasattr(self, "used_helpers"):
            self.used_helpers = []
        if name not in self.used_helpers:
            self.used_helpers.append(name)

    def helper_defs(self):
        return [(n, HELPER_DEFS[n][0], [("return", ("atom", HELPER_DEFS[n][1]))])
                for n in getattr(self, "used_helpers", [])]

    def top_level(self, env):
        return not (env.in_def or env.in_loop or env.in_branch or self.returned)

    def form_statements(self, env):
        opts = []
        if self.top_level(env):
            opts += ["container", "container", "container", "lambda", "lambda"]
        if env.containers:
            opts += ["container_for"]
        return opts

    # ---- containers ----
    def stmt_container(self, env, depth, params):
        cid = self.next_id()
        kind = self.pick(["dict", "list", "tuple", "dict", "list", "listcomp"])
        es = self.elem_shape()
        n = self.count(2, 3)
        if kind == "listcomp":   # ys = [v * x for v in range(3)]: a list of known length
            v = f"v{cid}"
            inner = env.copy(ints=env.ints + [v])
            k = self.count(2, 4)
            cond = self.pick(["", "", f" if {v} != 1"])
            term = self.pick([("atom", v), ("bin", "+", ("atom", v), ("atom", "0.5"))])
            body = ("bin", self.pick(["*", "+"]), term, self.sub(inner, es, self.count(0, 2)))
            name = f"ls{cid}"
            env = env.copy()
            env.containers[name] = ("list", k - 1 if cond else k, es)
            self.note_container(env, name)
            return ("assign", name, ("tmpl", "[{0} for %s in range(%d)%s]" % (v, k, cond), [body]),
                    ("list_local", "listcomp", "comprehension", "comp_range")
                    + (("comp_if",) if cond else ())), env
        values = [self.fresh_elem(env, self.sub(env, es, self.count(0, 2))) for _ in range(n)]
        if kind == "dict":
            name = f"dd{cid}"
            keys = DICT_KEYS[:n]
            fmt = "{{" + ", ".join(f'"{k}": {{{i}}}' for i, k in enumerate(keys)) + "}}"
            tags = ("dict_local",)
        else:
            name = f"ls{cid}" if kind == "list" else f"tp{cid}"
            keys = n
            inner = ", ".join("{%d}" % i for i in range(n))
            fmt = f"[{inner}]" if kind == "list" else f"({inner})"
            tags = ("list_local",) if kind == "list" else ("tuple_local",)
        env = env.copy()
        env.containers[name] = (kind, keys, es)
        self.note_container(env, name)
        return ("assign", name, ("tmpl", fmt, values), tags), env

    def note_container(self, env, name):
        pass

    def containers_of(self, env, shape):
        return sorted(n for n, (_, _, es) in env.containers.items() if es == shape)

    def container_read(self, env, shape):
        """`dd1["b"]`, `ls1[-1]`, `ls1[i % 2]`, `sum(ls1)`, `sum(dd1.values())`, `max(ls1)`."""
        name = self.pick(self.containers_of(env, shape))
        kind, keys, es = env.containers[name]
        forms = ["key", "key", "key", "sum"]
        if kind != "dict" and shape == ():
            forms.append("max")
        unrolled = [i for i in env.ints if i[:1] in "vj" and i[1:].isdigit()]   # v3, j4: unrolled
        if kind != "dict" and unrolled:
            forms.append("int")
        form = self.pick(forms)
        if form == "key":
            if kind == "dict":
                text = f'{{0}}["{self.pick(keys)}"]'
            else:
                text = "{0}[%d]" % self.count(-keys, keys - 1)
            return tag("container_read", ("view", text, [("atom", name)]))
        if form == "int":
            text = "{0}[%s %% %d]" % (self.pick(unrolled), keys)
            return tag(("container_read", "container_read_int"), ("view", text, [("atom", name)]))
        if form == "max":
            return tag(("container_read", "container_max"),
                       ("guard", "npmax", self.pick(["max", "min"]), [("atom", name)], []))
        text = "sum({0}.values())" if kind == "dict" else "sum({0})"
        return tag(("container_read", "container_sum"), ("tmpl", text, [("atom", name)]))

    def stmt_container_for(self, env, depth, params):
        """`for k1, v1 in dd1.items():`, `for v1 in ls1:`, `for j1, v1 in enumerate(ls1):`,
        `for v1, u1 in zip(ls1, ls2):` (the body reads v1, u1, j1)."""
        cid = self.next_id()
        name = self.pick(sorted(env.containers))
        kind, keys, es = env.containers[name]
        v, u, k, j = f"v{cid}", f"u{cid}", f"k{cid}", f"j{cid}"
        inner = env.copy()
        others = sorted(n for n, c in env.containers.items() if c[0] != "dict" and n != name)
        if kind == "dict":
            form = self.pick(["items", "values"])
            var_text, rng = (f"{k}, {v}", f"{name}.items()") if form == "items" else \
                (v, f"{name}.values()")
            tags = ("container_loop", "dict_" + form)
            bound = {v: (es, name)}
        else:
            form = self.pick(["plain", "enumerate", "zip"] if others else ["plain", "enumerate"])
            if form == "plain":
                var_text, rng, bound = v, name, {v: (es, name)}
            elif form == "enumerate":
                var_text, rng, bound = f"{j}, {v}", f"enumerate({name})", {v: (es, name)}
                inner.ints = env.ints + [j]
            else:
                other = self.pick(others)
                var_text, rng = f"{v}, {u}", f"zip({name}, {other})"
                bound = {v: (es, name), u: (env.containers[other][2], other)}
            tags = ("container_loop", "list_" + form)
        for n, (shape, src) in bound.items():
            self.bind_elem(inner, n, shape, src)
        body, after = self.loop_body(inner, depth, params)
        body = _without_exits(body)   # (README: no break/continue in a loop over a container)
        after = after.copy(ints=env.ints)
        for n in bound:
            after.names.pop(n, None)
        return ("for", var_text, rng, body, tags), after

    def bind_elem(self, env, name, shape, src):
        env.names[name] = shape

    # ---- comprehensions ----
    def comprehension(self, env, shape, depth):
        """A reduction of a comprehension or generator expression, of exactly `shape`."""
        cid = self.next_id()
        v = f"v{cid}"
        inner = env.copy()
        usable = [n for n, c in env.containers.items() if fits(c[2], shape)]
        source = self.pick(["tuple", "range", "range", "tuple"] + (["container"] * 2 if usable else []))
        cond, iter_args, tags = "", [], ["comprehension"]
        if source == "range":
            k = self.count(2, 4)
            iterable = self.pick([f"range({k})", f"range(1, {k + 1})"])
            inner.ints = env.ints + [v]
            if self.coin(0.3):
                cond = self.pick([f" if {v} != 1", f" if {v} > 0"])
                tags.append("comp_if")
            vterm = self.pick([("atom", v), ("bin", "+", ("atom", v), ("atom", "0.5"))])
            var_text = v
            tags.append("comp_range")
        elif source == "tuple":
            es = self.comp_elem_shape(shape)
            n = self.count(2, 3)
            iter_args = [self.sub(env, es, self.pick([0, 0, 1])) for _ in range(n)]
            inner_text = ", ".join("{%d}" % (i + 1) for i in range(n))
            iterable = self.pick([f"({inner_text})", f"[{inner_text}]"])
            self.bind_comp_var(inner, v, es, iter_args)
            vterm = self.comp_vterm(v)
            var_text = v
            tags.append("comp_tuple")
        else:
            name = self.pick(sorted(usable))
            kind, keys, es = env.containers[name]
            if kind == "dict":
                form = self.pick(["values", "items"])
                var_text = v if form == "values" else f"k{cid}, {v}"
                iterable = f"{name}.{form}()"
                if form == "items" and self.coin(0.3):
                    cond = f' if k{cid} != "{self.pick(keys[1:])}"'
                    tags.append("comp_if")
            else:
                form = self.pick(["plain", "enumerate"])
                var_text = v if form == "plain" else f"j{cid}, {v}"
                iterable = name if form == "plain" else f"enumerate({name})"
                if form == "enumerate":
                    inner.ints = env.ints + [f"j{cid}"]
            self.bind_elem(inner, v, es, name)
            vterm = self.comp_vterm(v)
            tags.append("comp_container")
        other = self.sub(inner, shape, max(depth - 1, 0))
        body = ("bin", self.pick(["*", "+", "*"]), vterm, other)
        if self.coin(0.3):
            body = ("tmpl", self.unary(), [body])
        core = "{0} for " + var_text + " in " + iterable + cond
        args = [body] + iter_args
        return self.consume(core, args, shape, tags)

    def comp_vterm(self, v):
        return self.pick([("atom", v), ("tmpl", self.unary(), [("atom", v)])])

    def consume(self, core, args, shape, tags):
        """sum(genexp), sum([...]), np.sum([...]), np.stack, max/min of a comprehension."""
        lst = ("tmpl", "[" + core + "]", args)
        if shape == ():
            form = self.pick(["sum_gen", "sum_gen", "sum_list", "np_sum", "stack_sum", "max"])
        else:
            form = self.pick(["sum_gen", "sum_gen", "stack_axis0", "stack_last", "stack_mean",
                              "stack_max"])
        if form == "sum_gen":
            return tag(tags + ["genexp"], ("tmpl", "sum(" + core + ")", args))
        if form == "sum_list":
            return tag(tags + ["listcomp"], ("tmpl", "sum([" + core + "])", args))
        if form == "np_sum":
            return tag(tags + ["listcomp", "np_sum_list"],
                       ("tmpl", "np.sum([" + core + "])", args, "np.sum(np.stack([" + core + "]))"))
        if form == "stack_sum":
            return tag(tags + ["listcomp", "comp_stack"],
                       ("tmpl", "np.sum(np.stack([" + core + "]))", args))
        if form == "max":
            return tag(tags + ["listcomp", "comp_max"],
                       ("guard", "npmax", self.pick(["max", "min"]), [lst], []))
        if form == "stack_max":
            return tag(tags + ["listcomp", "comp_stack", "comp_max"],
                       ("guard", "npmax", self.pick(["np.max", "np.min"]),
                        [("tmpl", "np.stack([" + core + "])", args)], [("axis", "0")]))
        fmt = {"stack_axis0": "np.sum(np.stack([" + core + "]), axis=0)",
               "stack_last": "np.stack([" + core + "])[-1]",
               "stack_mean": "np.mean(np.stack([" + core + "]), axis=0)"}[form]
        return tag(tags + ["listcomp", "comp_stack"], ("tmpl", fmt, args))

    def stmt_listcomp(self, env, depth, params):
        """`ys = [v * x for v in range(3)]`: a list comprehension kept as a local list."""
        return self.stmt_container(env, depth, params)

    # ---- lambdas ----
    def lambda_body(self, env, p, shape, depth):
        other = self.sub(env, shape, max(depth, 0))
        term = self.pick([("atom", p), ("tmpl", self.unary(), [("atom", p)])])
        return ("bin", self.pick(["*", "+", "-"]), term, other)

    def lambda_env(self, env, p, shape):
        inner = env.copy()
        inner.names[p] = shape
        return inner

    def lambda_expr(self, env, shape, depth):
        """`(lambda l1: ...)(a)`, `apply(lambda l1: ..., a)`, `apply(lam1, a)`."""
        lid = self.next_id()
        p = f"l{lid}"
        named = [h for h in env.helpers if h[0].startswith("lam") and h[2] == shape]
        arg = self.sub(env, shape, max(depth - 1, 0))
        form = self.pick(["inline", "apply", "apply"] + (["named"] if named else []))
        helper = self.pick(["apply", "apply", "twice"])
        if form == "named":
            self.use_helper(helper)
            return tag(("lambda_apply", "lambda_named_apply"),
                       ("tmpl", f"{helper}({self.pick(named)[0]}, {{0}})", [arg]))
        body = self.lambda_body(self.lambda_env(env, p, shape), p, shape, depth - 1)
        if form == "inline":
            return tag("lambda_inline", ("tmpl", f"(lambda {p}: {{0}})({{1}})", [body, arg]))
        self.use_helper(helper)
        return tag("lambda_apply", ("tmpl", f"{helper}(lambda {p}: {{0}}, {{1}})", [body, arg]))

    def stmt_lambda(self, env, depth, params):
        lid = self.next_id()
        name, p = f"lam{lid}", f"l{lid}"
        shape = self.param_shape()
        body = self.lambda_body(self.lambda_env(env, p, shape), p, shape, self.count(0, 2))
        env = env.copy()
        env.helpers = env.helpers + [self.lambda_helper(name, shape)]
        return ("assign", name, ("tmpl", f"lambda {p}: {{0}}", [body]), ("lambda",)), env


# ------------------------------------------------------------------------------------------------
# scalar programs
# ------------------------------------------------------------------------------------------------

SCALAR_CONSTS = ["0.5", "1.5", "2.0", "0.25", "3.0", "0.7", "1.25", "2", "3", "(-0.5)", "(-1.5)"]

# (template, guard) -- unary math; {0} the argument, {M} the math prefix
SCALAR_UNARY = [
    "{M}sin({0})", "{M}cos({0})", "{M}tanh({0})", "{M}atan({0})",
    "{M}exp({M}tanh({0}))", "{M}log(1.0 + {0} * {0})", "{M}sqrt(1.0 + {0} * {0})",
    "{M}log1p({0} * {0})", "{M}log2(2.0 + {M}sin({0}))", "{M}log10(1.5 + {M}cos({0}))",
    "{M}asin(0.9 * {M}tanh({0}))", "{M}acos(0.5 * {M}sin({0}))", "{M}sinh({M}tanh({0}))",
    "{M}cosh({M}sin({0}))", "{M}expm1({M}tanh({0}))", "{M}tan({M}tanh({0}))",
    "{M}exp(-{0} * {0})", "{0} ** 2", "{0} ** 3", "pow({0}, 2)", "(1.0 + {0} * {0}) ** 0.5",
    "(0.5 + {0} * {0}) ** -1.5", "{0} / (1.0 + {0} * {0})", "2.0 ** {M}sin({0})",
    "np.sin({0})", "np.tanh({0})",
]
# guarded raw calls: (callee, kind)
SCALAR_GUARDED_UNARY = [
    ("abs", "abs"), ("{M}fabs", "abs"), ("{M}exp", "exp"), ("{M}log", "pos"), ("{M}sqrt", "pos"),
    ("{M}log1p", "log1p"), ("{M}asin", "unit"), ("{M}acos", "unit"), ("{M}tan", "tan"),
    ("{M}sinh", "exp"), ("{M}cosh", "exp"), ("{M}log10", "pos"), ("{M}log2", "pos"),
]
SCALAR_BINARY_TMPL = [
    "{M}hypot({0}, 1.0 + {1} * {1})", "{M}atan2({0}, 1.0 + {1} * {1})", "{0} / (1.0 + {1} * {1})",
    "(1.0 + {0} * {0}) ** {M}sin({1})", "{0} * {M}exp(-{1} * {1})",
]


class ScalarBuilder(FormsMixin, Builder):

    def __init__(self, draw):
        super().__init__(draw)
        self.max_depth = 3

    def new_shape(self, env):
        return ()

    def shape_of(self, value, shape):
        return ()

    def note_owned(self, env, name, value):
        pass

    # (FormsMixin)
    def sub(self, env, shape, depth):
        return self.expr(env, depth)

    def unary(self):
        return self.pick(SCALAR_UNARY)

    def fresh_elem(self, env, value):
        return value

    def elem_shape(self):
        return ()

    def comp_elem_shape(self, shape):
        return ()

    def bind_comp_var(self, env, v, es, args):
        env.names[v] = ()

    def lambda_helper(self, name, shape):
        return (name, 1, ())

    def extra_statements(self, env):
        return self.form_statements(env) if not env.in_def else []

    def result(self, env):
        if self.coin(0.15):   # a bare name: e.g. a loop-carried value returned as it is
            return ("atom", self.pick(list(env.names)))
        return self.expr(env, self.count(1, self.max_depth))

    def value(self, env, shape, fresh_name=False):
        return self.expr(env, self.count(0, self.max_depth))

    def operand_for(self, env, shape):
        return self.expr(env, self.count(0, 2))

    def can_append(self):
        return True

    def list_loop(self, env, depth, var, var_text, rng, body, after, params):
        """`accN = []` before, `accN.append(v)` in the body, `a = sum(accN)` after."""
        self.lists += 1
        lst = f"acc{self.lists}"
        pos = self.count(0, len(body))
        inner = env.copy(ints=env.ints + [var])
        body.insert(pos, ("tmpl_stmt", f"{lst}.append", self.expr(inner, 2)))
        fresh = [n for n in self.LOCALS if n not in after.names] or ["a"]
        name = fresh[0]
        reducer = self.pick([f"sum({lst})", f"sum({lst}) * 0.5 + len({lst})"])
        after = after.copy(ints=env.ints)
        after.names[name] = ()
        return ("seq", [("assign", lst, ("atom", "[]")),
                        ("for", var_text, rng, body),
                        ("assign", name, ("atom", reducer))]), after

    # ---- expressions ----
    def leaf(self, env):
        names = list(env.names)
        options = ["name"] * 4 + ["const"]
        if env.ints:
            options.append("int")
        if env.containers:
            options.append("container")
        kind = self.pick(options)
        if kind == "name":
            return ("atom", self.pick(names))
        if kind == "container":
            return self.container_read(env, ())
        if kind == "const":
            return ("atom", self.pick(SCALAR_CONSTS))
        return ("bin", "*", ("atom", self.pick(env.ints)), ("atom", self.pick(names)))

    def expr(self, env, depth):
        if depth <= 0:
            return self.leaf(env)
        options = ["leaf", "bin", "bin", "bin", "unary", "unary", "unary", "neg", "guarded",
                   "minmax", "binary_tmpl", "div", "ifexp", "powvar", "forms"]
        if env.helpers:
            options += ["call", "call"]
        kind = self.pick(options)
        sub = lambda: self.expr(env, depth - 1)  # noqa: E731
        if kind == "leaf":
            return self.leaf(env)
        if kind == "forms":
            form = self.pick(["comp", "comp", "lambda"] + (["container"] if env.containers else []))
            if form == "comp":
                return self.comprehension(env, (), depth - 1)
            if form == "lambda":
                return self.lambda_expr(env, (), depth)
            return self.container_read(env, ())
        if kind == "bin":
            return ("bin", self.pick(["+", "*", "-"]), sub(), sub())
        if kind == "unary":
            return ("tmpl", self.pick(SCALAR_UNARY), [sub()])
        if kind == "neg":
            return ("neg", sub())
        if kind == "guarded":
            callee, gk = self.pick(SCALAR_GUARDED_UNARY)
            return ("guard", gk, callee, [sub()], [])
        if kind == "minmax":
            args = [sub() for _ in range(self.pick([2, 2, 3]))]
            return ("guard", "minmax", self.pick(["max", "min"]), args, [])
        if kind == "binary_tmpl":
            if self.coin(0.2):
                callee, gk = self.pick([("{M}hypot", "hypot"), ("{M}atan2", "atan2")])
                return ("guard", gk, callee, [sub(), sub()], [])
            return ("tmpl", self.pick(SCALAR_BINARY_TMPL), [sub(), sub()])
        if kind == "div":
            return ("guard", "div", "/", [sub(), sub()], [])
        if kind == "powvar":
            if self.coin():
                return ("guard", "pos", "**", [sub(), ("atom", self.pick(["0.5", "-1", "1.5", "-0.5"]))], [])
            return ("guard", "rpow", "**", [("atom", "2.0"), sub()], [])
        if kind == "ifexp":
            return ("ifexp", self.condition(env), sub(), sub())
        if kind == "call":
            name, hparams, _ = self.pick(env.helpers)
            return self.call(name, hparams, sub)
        raise AssertionError(kind)

    def call(self, name, hparams, sub):
        """h(a, b), h(a, q=b), h(q=b, p=a), or h(a) when q has a default."""
        if isinstance(hparams, int):
            hparams = ["t", "u"][:hparams]
        names = [p.split("=")[0] for p in hparams]
        forms = ["positional"]
        if len(names) == 2:
            forms += ["keyword", "swapped"]
            if "=" in hparams[1]:
                forms.append("default")
        form = self.pick(forms)
        if form == "positional":
            text = ", ".join("{%d}" % i for i in range(len(names)))
        elif form == "keyword":
            text = "{0}, %s={1}" % names[1]
        elif form == "swapped":
            text = "%s={1}, %s={0}" % (names[1], names[0])
        else:
            return ("tmpl", name + "({0})", [sub()])
        return ("tmpl", name + "(" + text + ")", [sub() for _ in names])

    def condition(self, env, depth=0):
        kind = self.pick(["cmp", "cmp", "cmp", "and", "or", "not", "int"] if env.ints else
                         ["cmp", "cmp", "cmp", "and", "or", "not"])
        if kind == "cmp" or depth > 0:
            a = self.expr(env, self.count(0, 2))
            b = self.expr(env, self.count(0, 1)) if self.coin(0.5) else ("atom", self.pick(SCALAR_CONSTS))
            return ("cmp", self.pick(["<", ">", "<=", ">="]), a, b)
        if kind == "int":
            return ("cmp", self.pick([">", "<", ">="]), ("atom", self.pick(env.ints)),
                    ("atom", self.pick(["1", "2", "3"])))
        if kind == "not":
            return ("not", self.condition(env, depth + 1))
        return ("bool", kind, self.condition(env, depth + 1), self.condition(env, depth + 1))


@st.composite
def scalar_programs(draw, max_depth=3):
    b = ScalarBuilder(draw)
    b.max_depth = max_depth
    # NumPy 2 names math's functions too (np.asin, np.atan2): scalar code spelled with NumPy
    prefix = b.pick(["math.", "m.", "", "np."] if hasattr(np, "atan2") else ["math.", "m.", ""])
    nargs = b.count(1, 3)
    params = ["x", "y", "z"][:nargs]
    helpers = []
    for h in range(b.count(0, 2)):
        hparams = b.pick([["p"], ["p", "q"], ["p", "q=0.5"]])
        henv = Env({p.split("=")[0]: () for p in hparams},
                   helpers=[(n, ps, ()) for n, ps, _ in helpers], in_def=True)
        henv.ret_shape = ()
        b.returned = False
        body, henv = b.block(henv, 1, 0, 2, params=[p.split("=")[0] for p in hparams])
        body.append(("return", b.expr(henv, b.count(1, 3))))
        helpers.append((f"h{h}", hparams, body))
    env = Env({p: () for p in params}, helpers=[(n, ps, ()) for n, ps, _ in helpers])
    b.returned = False
    body, env = b.block(env, 2, 1, b.max_stmts, params=params)
    body.append(("return", b.result(env)))
    return _render(prefix, b.helper_defs() + helpers, params, _flatten(body), [()] * nargs, "scalar")


def _flatten(body):
    """Expand ("seq", [...]) and ("tmpl_stmt", callee, expr) helper nodes."""
    out = []
    for s in body:
        if s[0] == "seq":
            out += _flatten(s[1])
        elif s[0] == "tmpl_stmt":
            out.append(("expr_call",) + tuple(s[1:]))
        elif s[0] == "if":
            out.append(("if", s[1], _flatten(s[2]), _flatten(s[3])) + tuple(s[4:]))
        elif s[0] in ("for", "def"):
            out.append((s[0], s[1], s[2], _flatten(s[3])) + tuple(s[4:]))
        elif s[0] == "while":
            out.append(("while", s[1], s[2], s[3], _flatten(s[4])) + tuple(s[5:]))
        else:
            out.append(s)
    return out


# ------------------------------------------------------------------------------------------------
# array programs
# ------------------------------------------------------------------------------------------------
# f(x, y, w, s) with x: (N,), y: (M, N), w: (M, 1), s: float, N in {3, 2, 4} and M in {2, 1, 3}
# drawn per program. Expressions are built for an exact target shape (`exact`); names hold
# shapes of the program's "universe" (), (N,), (M,), (M, 1), (M, N), (N, M), and odd shapes made by
# views, stacked lists and reshapes. The generator tracks which arrays each name may share memory
# with (Env.roots): a plain program writes only into arrays no other name sees; an "alias" program
# (ALIAS_SHARE of them) also writes through views and aliases (`r = a[0:1]; r *= 3.0`) and into
# arrays a view was taken of; an "argument" program (ARGUMENT_SHARE) writes into its arguments
# (`x *= 2.0`, `x[0] = ...`, `z = x; z += 1.0`), which the compiler should refuse.

ARRAY_CONSTS = ["0.5", "1.5", "2.0", "0.25", "(-0.5)", "0.7"]
ARRAY_UNARY = [
    "np.sin({0})", "np.cos({0})", "np.tanh({0})", "np.arctan({0})", "np.exp(np.tanh({0}))",
    "np.log(1.0 + {0} * {0})", "np.sqrt(1.0 + {0} * {0})", "np.log1p({0} * {0})", "{0} ** 2",
    "np.exp(-{0} * {0})", "np.arcsin(0.9 * np.tanh({0}))", "np.sinh(np.tanh({0}))",
    "np.cosh(np.sin({0}))", "np.expm1(np.tanh({0}))", "np.log2(2.0 + np.sin({0}))",
    "np.power({0}, 2)", "{0} / (1.0 + {0} * {0})", "np.negative({0})", "np.tan(np.tanh({0}))",
    "np.arccos(0.5 * np.sin({0}))", "np.log10(1.5 + np.cos({0}))", "np.square({0})",
]
ARRAY_GUARDED_UNARY = [("np.abs", "abs"), ("np.exp", "exp"), ("np.log", "pos"), ("np.sqrt", "pos"),
                       ("np.absolute", "abs"), ("np.arcsin", "unit")]
ARRAY_BINARY_TMPL = ["np.logaddexp({0}, {1})", "np.arctan2({0}, 1.0 + {1} * {1})",
                     "np.hypot({0}, 1.0 + {1} * {1})", "{0} / (1.0 + {1} * {1})",
                     "np.multiply({0}, {1})", "np.add({0}, {1})", "np.subtract({0}, {1})"]

DICT_SHARE = 0.15       # (of the plain ones) programs whose arrays arrive in a dict: f(p, s)
ALIAS_SHARE = 0.12      # programs that write through views and aliases
ARGUMENT_SHARE = 0.04   # programs that write into their arguments (the compiler should refuse)
ARG_NAMES = ("x", "y", "w")
AUG_TAGS = {"+": "iadd", "-": "isub", "*": "imul", "/": "idiv"}


def fits(small, big):
    try:
        return np.broadcast_shapes(small, big) == big
    except ValueError:
        return False


def _unique(seq):
    out = []
    for v in seq:
        if v not in out:
            out.append(v)
    return out


def tag(tags, e):
    return ("tag", (tags,) if isinstance(tags, str) else tuple(tags), e)


def _alias_names(e):
    """Names whose array the value of `e` may be or see (an alias, a view, a helper's result)."""
    kind = e[0]
    if kind == "atom":
        return {e[1]} if e[1].isidentifier() else set()
    if kind == "tag":
        return _alias_names(e[2])
    if kind == "view":
        return _alias_names(e[2][0])
    if kind == "ifexp":
        return _alias_names(e[2]) | _alias_names(e[3])
    if kind == "tmpl" and e[1].startswith(("h0(", "inner", "lam")):
        return set().union(*[_alias_names(a) for a in e[2]])
    return set()


def _walk(body):
    """Every statement of a body, nested ones too."""
    for s in body:
        yield s
        if s[0] == "if":
            yield from _walk(s[2])
            yield from _walk(s[3])
        elif s[0] in ("for", "def"):
            yield from _walk(s[3])
        elif s[0] == "while":
            yield from _walk(s[4])
        elif s[0] == "seq":
            yield from _walk(s[1])


def _trip_count(form, dims):
    """How many times `for ... in form` runs (form as stmt_for writes it)."""
    N, M = dims
    fixed = {"range(len(x))": N, "range(y.shape[1])": N, "range(w.shape[0])": M,
             "range(len(y))": M, "range(x.shape[0] - 1)": N - 1}
    if form in fixed:
        return fixed[form]
    inner = form
    if form.startswith("enumerate("):
        inner = form[len("enumerate("):-1]
    elif form.startswith("zip("):
        inner = form[len("zip("):].split("),")[0] + ")"
    return len(eval(inner, {"range": range}))  # noqa: S307 -- our own range(...) text


class ArrayBuilder(FormsMixin, Builder):
    LOCALS = ("a", "b", "c", "d", "e")
    VIEWS = ("r", "z")
    max_stmts = 4

    def __init__(self, draw, dims=(3, 2), mode="plain"):
        super().__init__(draw)
        self.max_depth = 3
        self.dims = dims
        N, M = dims
        self.arg_shapes = {"x": (N,), "y": (M, N), "w": (M, 1), "s": ()}
        self.shapes = _unique([(), (N,), (M,), (M, 1), (M, N), (N, M)])
        self.mode = mode
        self.ids = itertools.count()
        self.rows = 0

    def coin(self, p_true=0.5):
        """True with probability p_true (floats(0, 1) would give 0.0, so True, far too often)."""
        return self.draw(st.sampled_from(range(100))) < 100 * p_true

    # ---- who shares memory with whom ----
    ARG_ROOTS = frozenset("@" + n for n in ARG_NAMES)

    def new_root(self):
        return frozenset({f"#{next(self.ids)}"})

    def roots_of(self, env, e):
        """The arrays the value of `e` may share memory with (empty: a new array)."""
        kind = e[0]
        if kind == "atom":
            return env.roots.get(e[1], frozenset())
        if kind == "tag":
            return self.roots_of(env, e[2])
        if kind == "view":
            return self.roots_of(env, e[2][0])
        if kind == "ifexp":
            return self.roots_of(env, e[2]) | self.roots_of(env, e[3])
        if kind == "tmpl" and e[1].startswith(("h0(", "inner", "lam")):
            out = frozenset().union(*[self.roots_of(env, a) for a in e[2]])
            for h in env.helpers:
                if e[1].startswith(h[0] + "(") and len(h) > 3:
                    out = out.union(*[env.roots.get(c, frozenset()) for c in h[3]])
            return out
        return frozenset()

    def bind(self, env, name, value, shape):
        """env after `name = value` (env is changed: pass a copy)."""
        env.names[name] = shape
        roots = self.roots_of(env, value) if shape != () else frozenset()
        if roots:
            env.roots[name] = roots
            env.kind[name] = "alias" if value[0] == "atom" else "view"
        else:
            env.roots[name] = self.new_root() if shape != () else frozenset()
            env.kind[name] = "fresh"

    def sharers(self, env, name):
        r = env.roots.get(name, frozenset())
        return [o for o, ro in env.roots.items() if o != name and ro & r]

    def owned(self, env, name):
        """An array f made that no other name sees: writing into it changes nothing else."""
        shape = env.names.get(name)
        r = env.roots.get(name, frozenset())
        return bool(shape) and bool(r) and not (r & self.ARG_ROOTS) and not self.sharers(env, name)

    def write_kind(self, env, name):
        """The construct tag of a write into `name`: None for an array only `name` sees."""
        r = env.roots.get(name, frozenset())
        if r & self.ARG_ROOTS:
            return "arg_inplace"
        if self.owned(env, name):
            return None
        if env.kind.get(name) == "view":
            return "view_write"
        if env.kind.get(name) == "alias":
            return "alias_write"
        return "base_write"

    def write_targets(self, env):
        out = []
        for n, s in env.names.items():
            if not s or n in self.arg_shapes and self.mode != "argument":
                continue
            kind = self.write_kind(env, n)
            if kind is None or (kind == "arg_inplace" and self.mode == "argument") or \
                    (kind not in ("arg_inplace",) and self.mode == "alias"):
                out.append(n)
        return sorted(out)

    # ---- FormsMixin ----
    def sub(self, env, shape, depth):
        return self.exact(env, shape, depth)

    def unary(self):
        return self.pick(ARRAY_UNARY)

    def fresh_elem(self, env, value):
        """A container holds new arrays (a write into a name would show through it)."""
        return ("bin", "*", value, ("atom", "1.0")) if self.roots_of(env, value) else value

    def elem_shape(self):
        return self.pick(self.shapes)

    def comp_elem_shape(self, shape):
        return self.pick([s for s in self.shapes if fits(s, shape)] + [shape])

    def note_container(self, env, name):
        env.roots[name] = self.new_root()

    def bind_comp_var(self, env, v, es, args):
        env.names[v] = es
        env.roots[v] = frozenset().union(*[self.roots_of(env, a) for a in args]) if es else frozenset()
        env.kind[v] = "view"

    def bind_elem(self, env, name, shape, src):
        env.names[name] = shape
        env.roots[name] = env.roots.get(src, frozenset()) if shape else frozenset()
        env.kind[name] = "view"

    def lambda_env(self, env, p, shape):
        inner = env.copy()
        inner.names[p] = shape
        inner.roots[p] = frozenset({"@param"})
        inner.kind[p] = "alias"
        return inner

    def lambda_helper(self, name, shape):
        return (name, 1, shape, ())

    # ---- statements ----
    def new_shape(self, env):
        return self.pick(self.shapes)

    def param_shape(self):
        return self.pick(self.shapes)

    def shape_ranges(self):
        return ["range(len(x))", "range(y.shape[1])", "range(w.shape[0])", "range(len(y))",
                "range(x.shape[0] - 1)"]

    def may_return(self, env):
        return env.exits_ok

    def statement(self, env, depth, params=()):
        options = ["assign", "assign", "aug"]
        if len(self.assignable(env, params)) >= 2:
            options.append("tuple")
        if depth > 0:
            options += ["if", "if", "for", "for", "while"]
            if not env.in_def and not env.in_branch and not self.returned:
                options.append("def")   # (a def or a list after a possible return is refused)
        if env.in_loop and env.exits_ok:
            options += ["break", "continue"]
        if self.may_return(env):
            options += ["return"]
        options += self.extra_statements(env)
        kind = self.pick(options)
        return getattr(self, "stmt_" + kind)(env, depth, params)

    def extra_statements(self, env):
        if env.in_def:
            return []
        opts = ["copy"] + self.form_statements(env)
        if self.write_targets(env):
            opts += ["setitem", "setitem", "inplace"]
        if self.mode == "alias":
            opts += ["viewwrite", "viewwrite"]
        if self.mode == "argument":
            opts += ["argwrite"]
        return opts

    def stmt_assign(self, env, depth, params):
        existing = self.assignable(env, params)
        fresh = [n for n in self.LOCALS if n not in env.names]
        if existing and (not fresh or self.coin(0.4)):
            name = self.pick(existing)
            shape = env.names[name]
        else:
            name = fresh[0] if fresh else self.pick(self.LOCALS)
            shape = self.new_shape(env)
        value = self.value(env, shape)
        env = env.copy()
        self.bind(env, name, value, shape)
        if env.in_def:
            env.def_locals.add(name)
        return ("assign", name, value), env

    def stmt_tuple(self, env, depth, params):
        names = self.assignable(env, params)
        n1 = self.pick(names)
        n2 = self.pick([n for n in names if n != n1])
        e1 = self.value(env, env.names[n1])
        e2 = self.value(env, env.names[n2])
        if self.coin(0.3):
            e1, e2 = ("atom", n2), ("atom", n1)
            if env.names[n1] != env.names[n2]:
                return self.stmt_assign(env, depth, params)
        new = env.copy()
        for n, v in ((n1, e1), (n2, e2)):   # both values are read before either name is bound
            probe = env.copy()
            self.bind(probe, n, v, env.names[n])
            new.roots[n], new.kind[n] = probe.roots[n], probe.kind[n]
        return ("tuple", [n1, n2], [e1, e2]), new

    def stmt_aug(self, env, depth, params):
        """`a op= v`: in place on an array only `a` sees, else spelled `a = a op v`."""
        names = self.assignable(env, params)
        if not names:
            return self.stmt_assign(env, depth, params)
        name = self.pick(names)
        shape = env.names[name]
        op = self.pick(["+", "*", "-", "/"])
        value = self.operand_for(env, shape)
        if op == "/":
            value = self.divisor(value)
        if shape == () or not self.owned(env, name) or env.in_def:
            new = ("bin", op, ("atom", name), value)
            env = env.copy()
            self.bind(env, name, new, shape)
            return ("assign", name, new), env
        return ("aug", name, op, value, ("aug_whole", AUG_TAGS[op])), env

    def divisor(self, value):
        if self.coin(0.5):
            return ("bin", "+", ("atom", "1.5"), ("tmpl", "np.tanh({0})", [value]))
        return value   # the guarded copy checks |v| >= 0.1 (Guard.divisor)

    def stmt_copy(self, env, depth, params):
        """`a = x * 1.0`, `a = y.copy()`: new arrays (that a compiler must not fold into aliases)."""
        fresh = [n for n in self.LOCALS if n not in env.names]
        if not fresh:
            return self.stmt_assign(env, depth, params)
        name = fresh[0]
        src = self.pick([n for n, s in env.names.items() if s != ()] or ["x"])
        value = self.pick([("bin", "*", ("atom", src), ("atom", "1.0")),
                           ("bin", "+", ("atom", src), ("atom", "0.0")),
                           ("tmpl", "np.add({0}, 0.0)", [("atom", src)]),
                           tag("copy", ("tmpl", "{0}.copy()", [("atom", src)], "({0} + 0.0)")),
                           ("bin", "-", ("atom", src), ("atom", "0.0"))])
        env = env.copy()
        self.bind(env, name, value, env.names[src])
        return ("assign", name, value), env

    # -- writes --
    def stmt_setitem(self, env, depth, params):
        name = self.pick(self.write_targets(env))
        return self.index_write(env, name), env

    def stmt_inplace(self, env, depth, params):
        name = self.pick(self.write_targets(env))
        return self.whole_write(env, name), env

    def whole_write(self, env, name, extra=()):
        """`a op= v` with v broadcast into a's shape."""
        shape = env.names[name]
        op = self.pick(["+", "*", "-", "/"])
        value = self.operand_for(env, shape)
        if op == "/":
            value = self.divisor(value)
        kind = self.write_kind(env, name)
        tags = ("aug_whole", AUG_TAGS[op]) + ((kind,) if kind else ()) + tuple(extra)
        return ("aug", name, op, value, tags)

    def index_write(self, env, name, extra=()):
        """`a[idx] = v` or `a[idx] op= v`, v broadcast into the shape of a[idx]."""
        shape = env.names[name]
        kind = self.write_kind(env, name)
        tags = ((kind,) if kind else ()) + tuple(extra)
        if self.coin(0.12):     # a[cond] = v, a[cond] *= v (data-dependent mask)
            cond = ("cmp", self.pick([">", "<"]), ("atom", name), ("atom", self.pick(ARRAY_CONSTS)))
            target = ("mask", name, cond)
            sub, itags = (), ("index_mask_data",)
        elif len(shape) == 2 and self.mode == "alias" and self.coin(0.1):
            # a[k][j] = v writes into a through the temporary view a[k]
            k, j = self.count(-shape[0], shape[0] - 1), self.count(-shape[1], shape[1] - 1)
            target, sub, itags = f"{name}[{k}][{j}]", (), ("index_int", "chained_write")
        elif len(shape) in (1, 2) and self.coin(0.2):
            # repeated integer indices, y[[1, 0, 1]] += v: NumPy reads once and writes once, so
            # each repeat gets one of the values (the last) and the update counts once
            L = self.pick([3, 2, 4])
            idx, _ = self.fancy(L, shape[0], repeat=True)
            inner = self.pick([str(idx), f"np.array({idx})"])
            target = f"{name}[{inner}]"
            sub, itags = (L,) + shape[1:], ("index_fancy", "index_repeats")
        else:
            desc, sub = self.pick(self.index_forms(shape, env.ints))
            text, itags, _ = self.index_text(desc)
            target = name + text
        vshape = self.pick([s for s in self.shapes if fits(s, sub)] + [sub])
        value = self.exact(env, vshape, self.count(0, 2))
        repeats = "index_repeats" in itags
        if self.coin(0.45):
            op = self.pick(["+", "*", "-", "/"])
            if op == "/":
                value = self.divisor(value)
            tags += ("aug_index", AUG_TAGS[op]) + itags + (("aug_index_repeats",) if repeats else ())
            return ("aug", target, op, value, tags)
        tags += ("setitem",) + itags + (("setitem_repeats",) if repeats else ())
        return ("assign", target, value, tags)

    VIEW_FORMS_1D = [("{0}", "alias"), ("{0}[1:]", "view"), ("{0}[::-1]", "view"),
                     ("{0}[:2]", "view"), ("{0}[::2]", "view"), ("{0}[:, None]", "view"),
                     ("{0}.reshape(1, -1)", "view"), ("{0}.copy()", "copy"),
                     ("{0}[[0, 0]]", "copy"), ("np.expand_dims({0}, 0)", "view")]
    VIEW_FORMS_2D = [("{0}", "alias"), ("{0}[0:1]", "view"), ("{0}[0]", "view"), ("{0}[-1]", "view"),
                     ("{0}[:, 0]", "view"), ("{0}.T", "view"), ("np.transpose({0})", "view"),
                     ("{0}.reshape(-1)", "view"), ("{0}[::-1]", "view"), ("{0}[:, 1:]", "view"),
                     ("{0}.T.reshape(-1)", "copy"), ("{0}.copy()", "copy"), ("{0}[[0, 0]]", "copy")]

    def stmt_viewwrite(self, env, depth, params):
        """`r = <view or alias of a>`, then a write into r, or into a while r sees it."""
        bases = [n for n, s in env.names.items()
                 if s and n not in self.arg_shapes and not env.roots.get(n, set()) & self.ARG_ROOTS]
        first = []
        if not bases or self.coin(0.3):    # a new array to take the view of
            made, made_env = self.stmt_copy(env, depth, params) if self.coin() else \
                self.stmt_assign(env, depth, params)
            if made[0] == "assign" and made_env.names.get(made[1]) and made[1] in self.LOCALS \
                    and not made_env.roots.get(made[1], set()) & self.ARG_ROOTS:
                first, bases, env = [made], [made[1]], made_env
            elif not bases:
                return made, made_env
        base = self.pick(sorted(bases))
        shape = env.names[base]
        form, how = self.pick(self.VIEW_FORMS_1D if len(shape) == 1 else self.VIEW_FORMS_2D)
        probe = np.empty(shape)
        made = eval(form.format("v"), {"np": np, "v": probe})  # noqa: S307 -- our own forms
        vshape = made.shape
        if 0 in vshape:
            form, how, vshape = "{0}", "alias", shape
        elif how == "copy" and np.shares_memory(made, probe):
            how = "view"     # a.T.reshape(-1) of a (2, 1) array is a view (of a contiguous base)
        vname = self.pick(self.VIEWS)
        vtags = {"{0}.T.reshape(-1)": ("T_reshape",), "{0}.copy()": ("copy",)}.get(form, ())
        value = (("atom", base) if how == "alias" else
                 (("view" if how == "view" else "tmpl"), form, [("atom", base)],
                  "({0} + 0.0)" if form == "{0}.copy()" else None))
        if vtags:
            value = tag(vtags, value)
        env = env.copy()
        self.bind(env, vname, value, vshape)
        assign = ("assign", vname, value)
        where = self.pick(["view", "view", "base"])
        target = vname if where == "view" else base
        extra = ("copy_write",) if how == "copy" else ()
        if self.coin(0.5):
            write = self.whole_write(env, target, extra)
        else:
            write = self.index_write(env, target, extra)
        env.observe |= {base, vname}
        return ("seq", first + [assign, write]), env

    def stmt_argwrite(self, env, depth, params):
        """In-place on an argument: `x *= 2.0`, `y[0] = v`, `z = x; z += 1.0`, `r = y[0]; r -= v`."""
        arg = self.pick(["x", "y", "w"])
        form = self.pick(["whole", "index", "alias", "view"])
        env = env.copy()
        env.observe.add(arg)
        if form == "whole":
            return self.whole_write(env, arg), env
        if form == "index":
            return self.index_write(env, arg), env
        vname = self.pick(self.VIEWS)
        if form == "alias":
            value, vshape = ("atom", arg), self.arg_shapes[arg]
        else:
            fmt = "{0}[0]" if arg != "x" else "{0}[1:]"
            value = ("view", fmt, [("atom", arg)])
            vshape = {"x": (self.dims[0] - 1,), "y": (self.dims[0],), "w": (1,)}[arg]
        self.bind(env, vname, value, vshape)
        env.observe.add(vname)
        write = self.whole_write(env, vname) if self.coin() else self.index_write(env, vname)
        return ("seq", [("assign", vname, value), write]), env

    # -- control flow --
    def merge(self, env, a, b):
        """Names (and may-share sets) after a branch: a name kept if both sides agree on its shape."""
        out = env.copy()
        out.names = {n: s for n, s in a.names.items() if b.names.get(n) == s}
        out.helpers = env.helpers
        out.roots = {n: a.roots.get(n, frozenset()) | b.roots.get(n, frozenset())
                     for n in set(a.roots) | set(b.roots)}
        out.kind = {n: (a.kind.get(n) if a.kind.get(n) == b.kind.get(n) else "view")
                    for n in set(a.kind) | set(b.kind)}
        out.observe = a.observe | b.observe
        return out

    def stmt_if(self, env, depth, params):
        cond = self.condition(env)
        then, env_then = self.block(env.copy(in_branch=True), depth - 1, 1, 3, params)
        if self.coin(0.6):
            orelse, env_else = self.block(env.copy(in_branch=True), depth - 1, 1, 3, params)
        else:
            orelse, env_else = [], env
        merged = self.merge(env, env_then, env_else)
        merged.in_branch = env.in_branch
        return ("if", cond, then, orelse), merged

    def loop_body(self, env, depth, params):
        inner = env.copy(in_loop=True)
        body, after = self.block(inner, depth - 1, 1, 3, params)
        if env.exits_ok and self.coin(0.35):  # a guarded exit somewhere in the body
            exit_kind = self.pick(["break", "continue"] + (["return"] if self.may_return(inner) else []))
            body.insert(self.count(0, len(body)), self.stmt_exit(inner, exit_kind))
        out = self.merge(env, after, env)
        out.in_loop = env.in_loop
        # the next iteration starts from what the names hold at the end of this one: in a plain
        # program, keep writes only into arrays that no other name may see then either
        if self.mode == "plain":
            body = self.owned_writes_only(body, {n for n in out.names if self.owned(out, n)})
        return body, out

    def owned_writes_only(self, body, allowed):
        out = []
        for s in body:
            kind = s[0]
            if kind in ("assign", "aug") and (not isinstance(s[1], str) or "[" in s[1]):
                if _target_base(s[1]) in allowed:
                    out.append(s)
            elif kind == "aug" and s[1] not in allowed:
                out.append(("assign", s[1], ("bin", s[2], ("atom", s[1]), s[3])))
            elif kind == "if":
                out.append(("if", s[1], self.owned_writes_only(s[2], allowed),
                            self.owned_writes_only(s[3], allowed)))
            elif kind == "for":
                out.append(("for", s[1], s[2], self.owned_writes_only(s[3], allowed)) + s[4:])
            elif kind == "while":
                out.append(("while", s[1], s[2], s[3], self.owned_writes_only(s[4], allowed)))
            elif kind == "seq":
                out.append(("seq", self.owned_writes_only(s[1], allowed)))
            else:
                out.append(s)
        return out

    def stmt_for(self, env, depth, params):
        two_d = [n for n, s in env.names.items() if len(s) == 2]
        forms = ["range", "range", "enumerate", "zip"] + self.shape_ranges()
        if two_d and self.rows < 2:
            forms += ["rows", "rows"]
        form = self.pick(forms)
        lists = 0
        if not (env.in_branch or env.in_loop or self.returned or env.in_def) and self.coin(0.25):
            lists = self.pick([1, 1, 2, 3])
        if form == "rows":
            self.rows += 1
            src = self.pick(sorted(two_d))
            var = "row" if self.rows == 1 else "row2"
            var_text, rng, trip = var, src, env.names[src][0]
            inner = env.copy()
            inner.names[var] = env.names[src][1:]
            inner.roots[var] = env.roots.get(src, frozenset())
            inner.kind[var] = "view"
        else:
            var = self.pick([v for v in ("i", "j", "k") if v not in env.ints] or ["k"])
            k = self.count(1, 4)
            if form == "enumerate":   # for i, ii in enumerate(range(...)): i counts from 0
                rng = f"enumerate(range({self.pick([f'{k}', f'1, {k + 1}'])}))"
                var_text = f"{var}, {var}{var}"
            elif form == "zip":
                rng = f"zip(range({k}), range(1, {k + 1}))"
                var_text = f"{var}, {var}{var}"
            elif form == "range":
                rng = "range(" + self.pick([f"{k}", f"{k}", f"1, {k + 1}", f"{k}, 0, -1",
                                            f"0, {k + 1}, 2"]) + ")"
                var_text = var
            else:
                rng, var_text = form, var
            trip = _trip_count(rng, self.dims)
            inner = env.copy(ints=env.ints + [var])
        if lists:
            inner.exits_ok = False
        body, after = self.loop_body(inner, depth, params)
        after = after.copy(ints=env.ints, exits_ok=env.exits_ok)
        after.names.pop(var, None)      # (a row loop's `row` still holds a view of its array:
        loop = ("for", var_text, rng, body) + ((("row_loop",),) if form == "rows" else ())
        if not lists:                   #  its roots stay in after.roots)
            return loop, after
        return self.list_loop(inner, after, loop, lists, trip)

    def list_loop(self, inner, after, loop, n_lists, trip):
        """`accK = []` before the loop, `accK.append(v)` in its body, then each list stacked."""
        _, var_text, rng, body = loop[:4]
        body = list(body)
        inits, reducers = [], []
        after = after.copy()
        for _ in range(n_lists):
            self.lists += 1
            lst = f"acc{self.lists}"
            shape = self.pick([s for s in self.shapes if s != ()] + [()])
            value = self.exact(inner, shape, self.count(0, 2))
            if self.roots_of(inner, value):   # the list would see later writes into the array
                value = ("bin", "*", value, ("atom", "1.0"))
            body.insert(self.count(0, len(body)),
                        ("tmpl_stmt", f"{lst}.append", value, ("list_append",)))
            inits.append(("assign", lst, ("atom", "[]")))
            fresh = [n for n in self.LOCALS if n not in after.names]
            name = fresh[0] if fresh else self.pick(self.LOCALS)
            forms = [(f"np.stack({lst})", (trip,) + shape, ("list_stack",)),
                     (f"np.array({lst})", (trip,) + shape, ("list_stack", "list_array")),
                     (f"sum({lst})", shape, ("list_sum",)),
                     (f"np.sum(np.stack({lst}), axis=0)", shape, ("list_stack",)),
                     (f"np.stack({lst})[-1]", shape, ("list_stack",))]
            if len(shape) >= 1:
                forms.append((f"np.stack({lst}, axis=1)", shape[:1] + (trip,) + shape[1:],
                              ("list_stack",)))
            text, rshape, tags = self.pick(forms)
            tape_text = text.replace("np.array(", "np.stack(")   # the tape: np.stack of Tensors
            value = tag(tags, ("atom", text) if tape_text == text else ("tmpl", text, [], tape_text))
            reducers.append(("assign", name, value))
            after.names[name] = rshape
            after.roots[name] = self.new_root() if rshape else frozenset()
            after.kind[name] = "fresh"
        return ("seq", inits + [("for", var_text, rng, body) + tuple(loop[4:])] + reducers), after

    def can_append(self):
        return True

    def stmt_def(self, env, depth, params):
        """A closure defined inside f (also inside a loop), reading names of f, called later."""
        self.inner_defs += 1
        name = f"inner{self.inner_defs}"
        hparams = ["t"] if self.coin(0.6) else ["t", "u"]
        shape = self.param_shape()
        henv = env.copy(in_def=True, in_loop=False, ret_shape=shape, exits_ok=True)
        henv.names.update({p: shape for p in hparams})
        for p in hparams:
            henv.roots[p] = frozenset({"@param"})   # (never written: no writes in a def)
            henv.kind[p] = "alias"
        henv.def_locals = set()
        body, henv_after = self.block(henv, 0, 0, 2, params=hparams)
        ret = self.value(henv_after, shape)
        body.append(("return", ret))
        captured = set()
        for s in _walk(body):
            if s[0] == "assign":
                captured |= _alias_names(s[2])
            elif s[0] == "tuple":
                captured |= set().union(*[_alias_names(v) for v in s[2]])
            elif s[0] == "return":
                captured |= _alias_names(s[1])
        captured -= set(hparams)
        env = env.copy()
        env.helpers = env.helpers + [(name, len(hparams), shape, tuple(sorted(captured)))]
        return ("def", name, hparams, body), env

    # ---- the result ----
    def result(self, env):
        shape = self.pick(self.shapes)
        e = self.exact(env, shape, self.count(1, self.max_depth))
        if shape != ():
            e = ("tmpl", self.pick(["np.sum({0})", "np.mean({0})", "np.sum({0} * {0})",
                                    "({0}).sum()", "np.sum(np.tanh({0}))"]), [e])
        # names written through views and aliases (and the arrays they see): read them all
        for name in sorted(n for n in env.observe if env.names.get(n) not in (None, ())):
            e = ("bin", "+", e, ("tmpl", self.pick(["np.sum({0} * {0})", "np.sum(np.sin({0}))"]),
                                 [("atom", name)]))
        return e

    def value(self, env, shape, fresh_name=False):
        return self.exact(env, shape, self.count(0, self.max_depth))

    def operand_for(self, env, shape):
        sub = self.pick([s for s in self.shapes if fits(s, shape)] + [shape])
        return self.exact(env, sub, self.count(0, 2))

    # ---- indexing ----
    def index_forms(self, shape, ints=()):
        """[(descriptor, shape of a[index])] for an array of this shape."""
        forms = []
        if len(shape) == 1:
            n = shape[0]
            forms += [(("int", k), ()) for k in _unique([0, n - 1, -1])]
            forms += [(("loop", v, n), ()) for v in ints]
            forms += [(("slice", lo, hi, n), (hi - lo,)) for lo in range(n)
                      for hi in range(lo + 1, n + 1) if hi - lo < n]
            forms += [(("rev",), (n,)), (("step", 2), ((n + 1) // 2,)),
                      (("step", -2), ((n + 1) // 2,))]
            if n >= 2:
                forms += [(("revfrom", n - 2), (n - 1,)), (("revto", n - 1, 0), (n - 1,))]
            forms += [(("fancy", L, n), (L,)) for L in (1, 2, 3, 4)]
            forms += [(("mask", n, c), (c,)) for c in range(1, n + 1)]
        elif len(shape) == 2:
            p, q = shape
            forms += [(("row", k), (q,)) for k in _unique([0, p - 1, -1])]
            forms += [(("looprow", v, p), (q,)) for v in ints]
            forms += [(("col", j), (p,)) for j in _unique([0, q - 1, -1])]
            forms += [(("elem", p, q), ()), (("elem", p, q), ())]
            forms += [(("rows", lo, hi), (hi - lo, q)) for lo in range(p)
                      for hi in range(lo + 1, p + 1) if hi - lo < p]
            forms += [(("cols", lo, hi), (p, hi - lo)) for lo in range(q)
                      for hi in range(lo + 1, q + 1) if hi - lo < q]
            forms += [(("rrev",), (p, q)), (("crev",), (p, q)), (("revcol", q), (p,))]
            forms += [(("frows", L, p), (L, q)) for L in (1, 2, 3)]
            forms += [(("fcols", L, q), (p, L)) for L in (1, 2, 3)]
            forms += [(("fpair", L, p, q), (L,)) for L in (1, 2, 3)]
            forms += [(("mrows", p, c), (c, q)) for c in range(1, p + 1)]
        elif len(shape) > 2:
            forms += [(("row", k), shape[1:]) for k in _unique([0, shape[0] - 1, -1])]
            forms += [(("rrev",), shape)]
        return forms

    def fancy(self, L, n, repeat=False):
        idx = [self.count(-n, n - 1) for _ in range(L)]
        if repeat and L >= 2 and len({i % n for i in idx}) == L:   # y[[1, 0, 1]]
            idx[-1] = idx[0] if self.coin() else idx[0] % n - n
        return idx, len({i % n for i in idx}) < L

    def index_text(self, desc):
        """(text, construct tags, is the result a view)"""
        kind = desc[0]
        if kind == "int":
            return f"[{desc[1]}]", ("index_int",), False
        if kind == "loop":
            return f"[{desc[1]} % {desc[2]}]", ("index_int",), False
        if kind == "slice":
            _, lo, hi, n = desc
            text = self.pick([f"[{lo}:{hi}]"] + ([f"[:{hi}]"] if lo == 0 else []) +
                             ([f"[{lo}:]"] if hi == n else []) + [f"[{lo - n}:{hi if hi < n else ''}]"])
            return text, ("index_slice",), True
        if kind == "rev":
            return "[::-1]", ("index_negstep",), True
        if kind == "step":
            return f"[::{desc[1]}]", ("index_step",) + (("index_negstep",) if desc[1] < 0 else ()), True
        if kind == "revfrom":
            return f"[{desc[1]}::-1]", ("index_negstep",), True
        if kind == "revto":
            return f"[{desc[1]}:{desc[2]}:-1]", ("index_negstep",), True
        if kind in ("fancy", "frows", "fcols"):
            idx, rep = self.fancy(desc[1], desc[2])
            inner = self.pick([str(idx), f"np.array({idx})"])
            text = f"[:, {inner}]" if kind == "fcols" else f"[{inner}]"
            return text, ("index_fancy",) + (("index_repeats",) if rep else ()), False
        if kind in ("mask", "mrows"):
            _, n, c = desc
            on = self.pick(list(itertools.combinations(range(n), c)))
            bools = [i in on for i in range(n)]
            return f"[np.array({bools})]", ("index_mask",), False
        if kind == "row":
            return f"[{desc[1]}]", ("index_int",), True
        if kind == "looprow":
            return f"[{desc[1]} % {desc[2]}]", ("index_int",), True
        if kind == "col":
            return f"[:, {desc[1]}]", ("index_slice",), True
        if kind == "elem":
            _, p, q = desc
            return f"[{self.count(-p, p - 1)}, {self.count(-q, q - 1)}]", ("index_int",), False
        if kind == "rows":
            return f"[{desc[1]}:{desc[2]}]", ("index_slice",), True
        if kind == "cols":
            return f"[:, {desc[1]}:{desc[2]}]", ("index_slice",), True
        if kind == "rrev":
            return "[::-1]", ("index_negstep",), True
        if kind == "crev":
            return "[:, ::-1]", ("index_negstep",), True
        if kind == "revcol":
            return f"[::-1, {self.count(0, desc[1] - 1)}]", ("index_negstep",), True
        if kind == "fpair":
            _, L, p, q = desc
            rows, rep1 = self.fancy(L, p)
            cols, _ = self.fancy(L, q)
            rep = len({(r % p, c % q) for r, c in zip(rows, cols)}) < L
            return f"[{rows}, {cols}]", ("index_fancy",) + (("index_repeats",) if rep else ()), False
        raise ValueError(desc)

    def index_to(self, env, shape, depth):
        """`A[index]` of exactly this shape, A of some other shape."""
        sources = _unique([s for s in self.shapes if s] + [s for s in env.names.values() if s])
        cands = [(s, d) for s in sources if len(s) <= 2
                 for d, r in self.index_forms(s, env.ints) if r == shape]
        if not cands:
            return None
        src, desc = self.pick(cands)
        text, tags, view = self.index_text(desc)
        return tag(tags, ("view" if view else "tmpl", "{0}" + text, [self.exact(env, src, depth)]))

    # ---- expressions ----
    def leaves(self, env, shape):
        return [n for n, s in env.names.items() if s == shape]

    def leaf(self, env, shape):
        if self.containers_of(env, shape) and self.coin(0.3):
            return self.container_read(env, shape)
        names = self.leaves(env, shape)
        if shape == () and (not names or self.coin(0.25)):
            return ("atom", self.pick(ARRAY_CONSTS))
        return ("atom", self.pick(names))

    def base(self, env, shape):
        """Something of this shape with no further recursion (depth exhausted, no name of it)."""
        if shape == ():
            return self.leaf(env, shape)
        if self.leaves(env, shape):
            return self.leaf(env, shape)
        names = sorted(env.names.items())
        if len(shape) == 1:     # a row or a column of a matrix, a vector of a column
            views = [(n, "{0}[:, %d]" % self.count(0, s[1] - 1)) for n, s in names
                     if len(s) == 2 and s[0] == shape[0]]
            views += [(n, "{0}[%d]" % self.count(0, s[0] - 1)) for n, s in names
                      if len(s) == 2 and s[1] == shape[0]]
            if views and self.coin(0.8):
                n, fmt = self.pick(views)
                return tag("index_int", ("view", fmt, [("atom", n)]))
        if len(shape) == 2:     # a transpose, a column times a row
            tr = [n for n, s in names if s == shape[::-1]]
            if tr and self.coin(0.5):
                return tag("transpose", ("view", "{0}.T", [("atom", self.pick(tr))]))
            cols = [n for n, s in names if s == (shape[0], 1)]
            rows = [n for n, s in names if s == (shape[1],)]
            if cols and rows and self.coin(0.8):
                return tag("broadcast", ("bin", self.pick(["*", "+"]), ("atom", self.pick(cols)),
                                         ("atom", self.pick(rows))))
        vecs = [n for n, s in env.names.items() if len(s) == 1]
        if len(shape) == 1 and vecs:
            src = self.pick(sorted(vecs))
            idx, rep = self.fancy(shape[0], env.names[src][0])
            return tag(("index_fancy",) + (("index_repeats",) if rep else ()),
                       ("tmpl", f"{{0}}[{idx}]", [("atom", src)]))
        if len(shape) == 2 and vecs:
            return tag("broadcast", ("bin", "*", ("view", "{0}[:, None]", [self.base(env, shape[:1])]),
                                     self.base(env, shape[1:])))
        if len(shape) == 1 and any(len(s) == 2 for s in env.names.values()):
            src = self.pick(sorted(n for n, s in env.names.items() if len(s) == 2))
            n = int(np.prod(env.names[src]))
            idx, rep = self.fancy(shape[0], n)
            return tag(("reshape", "index_fancy"),
                       ("tmpl", f"{{0}}.reshape(-1)[{idx}]", [("atom", src)]))
        scalars = [n for n, s in env.names.items() if s == ()]
        if scalars and self.coin():
            return tag("full_of_value", ("tmpl", f"np.full({shape}, {{0}})",
                                         [("atom", self.pick(sorted(scalars)))],
                                         f"({{0}} * np.ones({shape}))"))
        return ("tmpl", f"np.full({shape}, {{0}})", [("atom", self.pick(ARRAY_CONSTS))])

    def exact(self, env, shape, depth):
        """An expression of exactly this shape."""
        if depth <= 0:
            return self.base(env, shape)
        options = ["leaf", "elementwise", "elementwise", "unary", "unary", "structural",
                   "structural", "structural", "special", "neg", "ifexp", "forms"]
        if any(len(h) > 2 and h[2] == shape for h in env.helpers):
            options.append("call")
        kind = self.pick(options)
        sub = lambda s=shape: self.exact(env, s, depth - 1)  # noqa: E731
        if kind == "forms":
            forms = ["comp", "comp", "lambda"] + (["container"] * 2 if self.containers_of(env, shape)
                                                  else [])
            form = self.pick(forms)
            if form == "comp":
                return self.comprehension(env, shape, depth - 1)
            if form == "lambda":
                return self.lambda_expr(env, shape, depth)
            return self.container_read(env, shape)
        if kind == "leaf":
            return self.leaf(env, shape) if self.leaves(env, shape) or shape == () \
                else self.structural(env, shape, depth - 1)
        if kind == "elementwise":
            other = self.pick([s for s in self.shapes if fits(s, shape)] + [shape])
            a, b = sub(), sub(other)
            if self.coin():
                a, b = b, a
            form = self.pick(["+", "*", "-", "tmpl", "div"])
            if form == "tmpl":
                e = ("tmpl", self.pick(ARRAY_BINARY_TMPL), [a, b])
            elif form == "div":
                e = ("guard", "div", "/", [a, b], [])
            else:
                e = ("bin", form, a, b)
            return tag("broadcast", e) if other != shape and other != () else e
        if kind == "unary":
            if self.coin(0.25):
                callee, gk = self.pick(ARRAY_GUARDED_UNARY)
                return tag("ufunc", ("guard", gk, callee, [sub()], []))
            return tag("ufunc", ("tmpl", self.pick(ARRAY_UNARY), [sub()]))
        if kind == "neg":
            return ("neg", sub())
        if kind == "ifexp":
            return ("ifexp", self.condition(env), sub(), sub())
        if kind == "special":
            other = self.pick([s for s in self.shapes if fits(s, shape)] + [shape])
            a, b = sub(), sub(other)
            form = self.pick(["maximum", "minimum", "where", "clip", "clipm"])
            if form == "where":
                c1 = self.exact(env, self.pick([s for s in self.shapes if fits(s, shape)]), depth - 1)
                return tag("where", ("tmpl", "np.where({0}, {1}, {2})",
                                     [("cmp", self.pick(["<", ">"]), c1,
                                       ("atom", self.pick(ARRAY_CONSTS))), a, b]))
            if form == "clip":
                return tag("clip", ("guard", "clip", "np.clip", [a, ("atom", "-0.5"), ("atom", "0.5")], []))
            if form == "clipm" and shape != ():
                return tag("clip", ("guard", "clip", ".clip", [a, ("atom", "-0.5"), ("atom", "0.5")], []))
            if self.coin():
                a, b = b, a
            return tag("maximum", ("guard", "minmax", "np." + ("minimum" if form == "minimum" else "maximum"),
                                   [a, b], []))
        if kind == "call":
            h = self.pick([h for h in env.helpers if len(h) > 2 and h[2] == shape])
            return ("tmpl", h[0] + "(" + ", ".join("{%d}" % i for i in range(h[1])) + ")",
                    [sub() for _ in range(h[1])])
        return self.structural(env, shape, depth - 1)

    def structural(self, env, shape, depth):
        """Shape-changing producers of exactly `shape` (reductions, matmul, reshapes, joins...)."""
        if len(shape) > 2:     # (a stacked list's shape)
            if shape[0] > 3:
                return self.base(env, shape)
            parts = [self.exact(env, shape[1:], depth) for _ in range(shape[0])]
            return tag("stack", ("tmpl", "np.stack([%s])" % ", ".join("{%d}" % i for i in range(shape[0])),
                                 parts))
        if len(shape) == 0:
            forms = ["reduce", "reduce", "reduce_axes", "maxmin", "prod", "dot", "index", "index",
                     "mask_sum", "odd"]
        elif len(shape) == 1:
            forms = ["reduce_axis", "reduce_axis", "index", "index", "matvec", "reshape", "concat",
                     "stack_reduce", "maxmin_axis", "odd"]
        else:
            forms = ["bcast", "outer", "transpose", "transpose", "reshape", "matmul", "concat",
                     "stack", "index", "index", "keepdims", "expand", "stack3"]
        form = self.pick(forms)
        e = getattr(self, "form_" + form)(env, shape, depth)
        if e is None:   # the form cannot make this shape: fall back on a plain one
            e = self.base(env, shape) if depth <= 0 else self.exact(env, shape, depth)
        return e

    def dims_pick(self):
        return self.pick(_unique([self.dims[0], self.dims[1], 2]))

    def any_array_shape(self):
        return self.pick([s for s in self.shapes if s])

    # scalars
    def form_reduce(self, env, shape, depth):
        src = self.any_array_shape()
        return tag("reduce", ("tmpl", self.pick(["np.sum({0})", "np.mean({0})", "{0}.sum()",
                                                 "{0}.mean()"]), [self.exact(env, src, depth)]))

    def form_reduce_axes(self, env, shape, depth):
        src = self.pick([s for s in self.shapes if len(s) == 2])
        return tag(("reduce", "reduce_axis"),
                   ("tmpl", self.pick(["np.sum({0}, axis=(0, 1))", "np.mean({0}, axis=(1, 0))"]),
                    [self.exact(env, src, depth)]))

    def form_maxmin(self, env, shape, depth):
        src = self.any_array_shape()
        callee = self.pick(["np.max", "np.min", ".max", ".min", "np.amax"])
        return tag("maxmin", ("guard", "npmax", callee, [self.exact(env, src, depth)], []))

    def form_prod(self, env, shape, depth):
        src = self.pick([s for s in self.shapes if len(s) == 1 and s[0] <= 3] or [(2,)])
        return tag("prod", ("guard", "prod", self.pick(["np.prod", ".prod"]),
                            [self.exact(env, src, depth)], []))

    def form_dot(self, env, shape, depth):
        v = (self.dims_pick(),)
        fmt = self.pick(["{0} @ {1}", "np.dot({0}, {1})", "{0}.dot({1})", "np.matmul({0}, {1})"])
        # (an ndarray's .dot(Tensor) cannot reach the tape: np.dot for the tape)
        return tag("matmul", ("tmpl", fmt, [self.exact(env, v, depth), self.exact(env, v, depth)],
                              "np.dot({0}, {1})" if fmt == "{0}.dot({1})" else None))

    def form_index(self, env, shape, depth):
        return self.index_to(env, shape, depth)

    def form_mask_sum(self, env, shape, depth):
        src = self.any_array_shape()
        a = self.exact(env, src, min(depth, 0))
        cond = ("cmp", self.pick([">", "<"]), a, ("atom", self.pick(ARRAY_CONSTS)))
        return tag("index_mask_data", ("tmpl", self.pick(["np.sum({0}[{1}])", "np.sum({0}[{1}] ** 2)"]),
                                        [a, cond]))

    def form_odd(self, env, shape, depth):
        """Read a name of an odd shape (a stacked list, a view): reduce it to `shape`."""
        odd = [n for n, s in env.names.items() if s and s not in self.shapes]
        if not odd:
            return None
        name = self.pick(sorted(odd))
        s = env.names[name]
        a = ("atom", name)
        if shape == ():
            return tag("reduce", ("tmpl", self.pick(["np.sum({0})", "np.sum({0} * {0})"]), [a]))
        if s[1:] == shape:
            return tag("reduce_axis", ("tmpl", self.pick(["np.sum({0}, axis=0)", "{0}[-1]",
                                                          "{0}.mean(axis=0)"]), [a]))
        if s[:-1] == shape:
            return tag("reduce_axis", ("tmpl", "np.sum({0}, axis=-1)", [a]))
        if int(np.prod(s)) == int(np.prod(shape)):
            return tag("reshape", ("tmpl", "{0}.reshape(%s)" % ", ".join(map(str, shape)), [a]))
        return None

    # vectors
    def form_reduce_axis(self, env, shape, depth):
        a = shape[0]
        k = self.dims_pick()
        if self.coin():
            src, axis = (k, a), self.pick(["axis=0", "axis=-2"])
        else:
            src, axis = (a, k), self.pick(["axis=1", "axis=-1"])
        fn = self.pick(["np.sum({0}, %s)", "np.mean({0}, %s)", "{0}.sum(%s)", "{0}.mean(%s)"]) % axis
        return tag("reduce_axis", ("tmpl", fn, [self.exact(env, src, depth)]))

    def form_maxmin_axis(self, env, shape, depth):
        a = shape[0]
        k = self.dims_pick()
        src, axis = ((k, a), "0") if self.coin() else ((a, k), self.pick(["1", "-1"]))
        callee = self.pick(["np.max", "np.min", ".max", ".min"])
        return tag(("maxmin", "reduce_axis"),
                   ("guard", "npmax", callee, [self.exact(env, src, depth)], [("axis", axis)]))

    def form_matvec(self, env, shape, depth):
        a = shape[0]
        k = self.dims_pick()
        if self.coin():
            return tag("matmul", ("tmpl", self.pick(["{0} @ {1}", "np.dot({0}, {1})", "np.matmul({0}, {1})"]),
                                  [self.exact(env, (a, k), depth), self.exact(env, (k,), depth)]))
        return tag("matmul", ("tmpl", self.pick(["{0} @ {1}", "np.dot({0}, {1})"]),
                              [self.exact(env, (k,), depth), self.exact(env, (k, a), depth)]))

    def form_reshape(self, env, shape, depth):
        size = int(np.prod(shape))
        cands = [s for s in self.shapes if s and int(np.prod(s)) == size and s != shape]
        if len(shape) == 1:
            cands += [(shape[0], 1), (1, shape[0])]
        else:
            cands += [(size,)]
        src = self.pick(_unique(cands))
        a = self.exact(env, src, depth)
        if len(shape) == 1:
            if len(src) == 2 and self.coin(0.3):
                return tag(("reshape", "transpose", "T_reshape"),
                           ("tmpl", "{0}.T.reshape(-1)", [a]))
            squeeze = [f"np.squeeze({{0}}, axis={ax})" for ax in (0, 1)
                       if len(src) == 2 and src[ax] == 1 and src[1 - ax] == size]
            fmt = self.pick(["{0}.reshape(-1)", "{0}.reshape(%d)" % size,
                             "np.reshape({0}, (%d,))" % size] + squeeze)
            return tag("reshape", ("view", fmt, [a]))
        p, q = shape
        if len(src) == 2 and self.coin(0.3):
            return tag(("reshape", "transpose", "T_reshape"),
                       ("tmpl", "{0}.T.reshape(%d, %d)" % (p, q), [a]))
        fmt = self.pick(["{0}.reshape(%d, %d)" % (p, q), "{0}.reshape((%d, %d))" % (p, q),
                         "{0}.reshape(-1, %d)" % q, "np.reshape({0}, (%d, %d))" % (p, q)])
        return tag("reshape", ("view", fmt, [a]))

    def form_concat(self, env, shape, depth):
        if len(shape) == 1:
            if shape[0] < 2:
                return None
            a1 = self.count(1, shape[0] - 1)
            parts = [(a1,), (shape[0] - a1,)]
            fmt = self.pick(["np.concatenate([{0}, {1}])", "np.concatenate(({0}, {1}))",
                             "np.concatenate([{0}, {1}], axis=0)"])
        else:
            p, q = shape
            if p >= 2 and (q < 2 or self.coin()):
                a1 = self.count(1, p - 1)
                parts = [(a1, q), (p - a1, q)]
                fmt = self.pick(["np.concatenate([{0}, {1}])", "np.concatenate([{0}, {1}], axis=0)"])
            elif q >= 2:
                b1 = self.count(1, q - 1)
                parts = [(p, b1), (p, q - b1)]
                fmt = self.pick(["np.concatenate([{0}, {1}], axis=1)",
                                 "np.concatenate([{0}, {1}], axis=-1)"])
            else:
                return None
        return tag("concatenate", ("tmpl", fmt, [self.exact(env, s, depth) for s in parts]))

    def form_stack_reduce(self, env, shape, depth):
        parts = [self.exact(env, shape, depth) for _ in range(2)]
        fmt = self.pick(["np.sum(np.stack([{0}, {1}], axis=1), axis=1)",
                         "np.stack([{0}, {1}])[1]", "np.mean(np.stack([{0}, {1}]), axis=0)"])
        return tag("stack", ("tmpl", fmt, parts))

    # matrices
    def form_bcast(self, env, shape, depth):
        p, q = shape
        form = self.pick(["col_row", "col_mat", "row_mat"])
        if form == "col_row":
            a, b = self.exact(env, (p, 1), depth), self.exact(env, (q,), depth)
        elif form == "col_mat":
            a, b = self.exact(env, (p, 1), depth), self.exact(env, (p, q), depth)
        else:
            a, b = self.exact(env, (q,), depth), self.exact(env, (p, q), depth)
        if self.coin():
            a, b = b, a
        return tag("broadcast", ("bin", self.pick(["+", "*", "-"]), a, b))

    def form_outer(self, env, shape, depth):
        return tag("outer", ("tmpl", "np.outer({0}, {1})",
                             [self.exact(env, shape[:1], depth), self.exact(env, shape[1:], depth)]))

    def form_transpose(self, env, shape, depth):
        a = self.exact(env, shape[::-1], depth)
        return tag("transpose", ("view", self.pick(["{0}.T", "np.transpose({0})"]), [a]))

    def form_matmul(self, env, shape, depth):
        p, q = shape
        k = self.dims_pick()
        return tag("matmul", ("tmpl", self.pick(["{0} @ {1}", "np.matmul({0}, {1})", "np.dot({0}, {1})"]),
                              [self.exact(env, (p, k), depth), self.exact(env, (k, q), depth)]))

    def form_stack(self, env, shape, depth):
        p, q = shape
        if p <= 3 and (q > 3 or self.coin()):
            parts = [self.exact(env, (q,), depth) for _ in range(p)]
            fmt = "np.stack([%s])" % ", ".join("{%d}" % i for i in range(p))
        elif q <= 3:
            parts = [self.exact(env, (p,), depth) for _ in range(q)]
            fmt = "np.stack([%s], axis=%s)" % (", ".join("{%d}" % i for i in range(q)),
                                               self.pick(["1", "-1"]))
        else:
            return None
        return tag("stack", ("tmpl", fmt, parts))

    def form_keepdims(self, env, shape, depth):
        p, q = shape
        k = self.dims_pick()
        if q == 1:
            src, axis = (p, k), self.pick(["1", "-1"])
        elif p == 1:
            src, axis = (k, q), "0"
        else:
            return None
        a = self.exact(env, src, depth)
        if self.coin(0.3):
            return tag(("keepdims", "maxmin"), ("guard", "npmax", self.pick(["np.max", "np.min"]), [a],
                                                 [("axis", axis), ("keepdims", "True")]))
        fmt = self.pick(["np.sum({0}, axis=%s, keepdims=True)", "np.mean({0}, axis=%s, keepdims=True)",
                         "{0}.sum(axis=%s, keepdims=True)"]) % axis
        return tag(("keepdims", "reduce_axis"), ("tmpl", fmt, [a]))

    def form_expand(self, env, shape, depth):
        p, q = shape
        if q == 1:
            a = self.exact(env, (p,), depth)
            fmt = self.pick(["{0}[:, None]", "np.expand_dims({0}, 1)", "np.expand_dims({0}, axis=-1)"])
        elif p == 1:
            a = self.exact(env, (q,), depth)
            fmt = self.pick(["{0}[None]", "np.expand_dims({0}, 0)", "{0}[None, :]"])
        else:
            return None
        return tag("expand", ("view", fmt, [a]))

    def form_stack3(self, env, shape, depth):
        parts = [self.exact(env, shape, depth) for _ in range(2)]
        if self.coin(0.3):
            return tag(("stack", "stack3d", "maxmin"),
                       ("guard", "npmax", self.pick(["np.max", "np.min"]),
                        [("tmpl", "np.stack([{0}, {1}])", parts)], [("axis", "0")]))
        fmt = self.pick(["np.sum(np.stack([{0}, {1}]), axis=0)", "np.stack([{0}, {1}], axis=2).mean(axis=2)",
                         "np.stack([{0}, {1}])[0]"])
        return tag(("stack", "stack3d"), ("tmpl", fmt, parts))

    def condition(self, env, depth=0):
        kind = self.pick(["cmp", "cmp", "and", "not"] + (["int"] if env.ints else []))
        if kind == "cmp" or depth > 0:
            a = self.exact(env, (), self.count(0, 2))
            b = ("atom", self.pick(ARRAY_CONSTS)) if self.coin(0.6) else self.exact(env, (), 1)
            return ("cmp", self.pick(["<", ">"]), a, b)
        if kind == "int":
            return ("cmp", self.pick([">", "<"]), ("atom", self.pick(env.ints)), ("atom", "1"))
        if kind == "not":
            return ("not", self.condition(env, depth + 1))
        return ("bool", "and", self.condition(env, depth + 1), self.condition(env, depth + 1))


@st.composite
def array_programs(draw, max_depth=3):
    """A random NumPy program f(x, y, w, s); see the comment at the top of this section."""
    N = draw(st.sampled_from([3, 2, 4]))
    M = draw(st.sampled_from([2, 1, 3]))
    u = draw(st.sampled_from(range(100))) / 100   # (floats(0, 1) and integers draw 0 too often)
    mode = "alias" if u < ALIAS_SHARE else "argument" if u < ALIAS_SHARE + ARGUMENT_SHARE else "plain"
    b = ArrayBuilder(draw, (N, M), mode)
    b.max_depth = max_depth
    params = ["x", "y", "w", "s"]
    helpers = []
    if b.coin(0.3):
        shape = b.pick(b.shapes)
        henv = Env({"p": shape}, in_def=True)
        henv.roots = {"p": frozenset({"@param"})}
        henv.kind = {"p": "alias"}
        henv.ret_shape = shape
        body, henv = b.block(henv, 0, 0, 1, params=["p"])
        body.append(("return", b.exact(henv, shape, b.count(1, 2))))
        helpers.append(("h0", ["p"], body, shape))
    env = Env(dict(b.arg_shapes), helpers=[(n, 1, s) for n, _, _, s in helpers])
    env.roots = {n: (frozenset({"@" + n}) if n != "s" else frozenset()) for n in params}
    env.kind = {n: "fresh" for n in params}
    b.returned = False
    if mode == "plain":
        body, env = b.block(env, 2, 1, b.max_stmts, params=())
    else:   # at least one write through a view/alias (into an argument), somewhere at the top level
        body, env = b.block(env, 2, 0, 2, params=())
        special, env = (b.stmt_viewwrite if mode == "alias" else b.stmt_argwrite)(env, 2, ())
        more, env = b.block(env, 2, 0, 2, params=())
        body += [special] + more
    result = b.result(env)
    layout, fparams, extra = None, params, set()
    if mode == "plain" and not b.coin(1 - DICT_SHARE):   # (coin() leans to True)
        layout, prologue, result, extra = dict_layout(b, result)
        fparams = ["p", "s"]
        body = prologue + body
    body.append(("return", result))
    program = _render("math.", b.helper_defs() + [h[:3] for h in helpers], fparams, _flatten(body),
                      [b.arg_shapes[p] for p in params], "array", inplace_tape=mode == "alias")
    program.layout = layout
    program.constructs = program.constructs | extra
    if mode != "plain":
        program.constructs = program.constructs | {mode + "_program"}
    unbound = _reads_never_assigned(program.source)
    assert not unbound, f"generator bug: f reads {unbound}, never assigned\n{program.source}"
    return program


def dict_layout(b, result):
    """f(p, s) with x, y, w in p: a flat dict {"x": x, "y": y, "w": w} (in any key order) or a
    nested one {"x": x, "m": [y, w]}, read at the top of f (`x, y, w = p["x"], p["y"], p["w"]`,
    one `x = p["x"]` a line, `y, w = p["m"]`) and, in a flat dict, iterated in the result
    (`sum(np.sum(np.tanh(v)) for v in p.values())`, `for k, v in p.items()` in a comprehension)."""
    tags = {"dict_params"}
    if not b.coin(0.7):
        layout = '{"x": x, "m": [y, w]}, s'
        tags.add("dict_params_nested")
        prologue = [("assign", "x", ("atom", 'p["x"]')), ("tuple", ["y", "w"], [("atom", 'p["m"]')])] \
            if b.coin() else [("tuple", ["x", "m0"], [("atom", 'p["x"]'), ("atom", 'p["m"]')]),
                               ("assign", "y", ("atom", "m0[0]")), ("assign", "w", ("atom", "m0[1]"))]
        return layout, prologue, result, tags
    keys = b.pick([["x", "y", "w"], ["w", "x", "y"], ["y", "w", "x"]])
    layout = "{" + ", ".join(f'"{k}": {k}' for k in keys) + "}, s"
    if b.coin():
        prologue = [("tuple", ["x", "y", "w"], [("atom", f'p["{k}"]') for k in "xyw"])]
    else:
        prologue = [("assign", k, ("atom", f'p["{k}"]')) for k in "xyw"]
    if b.coin(0.5):
        tags.add("dict_params_iter")
        term = b.pick([
            ("atom", "sum(np.sum(np.tanh(v)) for v in p.values())"),
            ("atom", 'sum(np.sum(v * v) * s for k, v in p.items() if k != "w")'),
            ("atom", 'np.sum(np.stack([np.sum(p[k] * s) for k in ("x", "y")]))'),
            ("atom", "sum(np.mean(np.sin(v)) for v in p.values())"),
        ])
        result = ("bin", "+", result, term)
    return layout, prologue, result, tags


def _reads_never_assigned(source):
    """Names f reads that f never assigns (nor imports, nor are builtins): a generator bug."""
    import ast
    import builtins
    tree = ast.parse(source)
    f = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "f")
    known = {a.arg for a in f.args.args} | {n.name for n in tree.body
                                            if isinstance(n, ast.FunctionDef)} | {"np", "math"}
    reads = set()
    stack = list(f.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef):
            known.add(node.name)
            continue
        if isinstance(node, ast.Name):
            (known.add if isinstance(node.ctx, ast.Store) else reads.add)(node.id)
        if isinstance(node, ast.arg):   # a lambda's parameters
            known.add(node.arg)
        stack.extend(ast.iter_child_nodes(node))
    return reads - known - set(dir(builtins))


# ------------------------------------------------------------------------------------------------
# points
# ------------------------------------------------------------------------------------------------

COORD = st.floats(-2.0, 2.0, allow_nan=False, allow_subnormal=False).map(lambda v: round(v, 4))


def points_for(kinds, n=3, ties=0.0):
    """n points for a program's arguments: floats for () and float64 arrays for shapes. With
    probability `ties` a point is then placed exactly at a tie: an entry copied onto another (of the
    same or another argument), an argument filled with one value, a row copied onto another row, a
    row of y set to x, s set to an entry, or an entry set to 0 (abs's kink)."""
    def one(kind):
        if kind == ():
            return COORD
        size = int(np.prod(kind))
        return st.lists(COORD, min_size=size, max_size=size).map(
            lambda v, shape=kind: np.array(v, dtype=np.float64).reshape(shape))
    point = st.tuples(*[one(k) for k in kinds])
    if not ties:
        return st.lists(point, min_size=n, max_size=n)

    @st.composite
    def maybe_tied(draw):
        p = list(draw(point))
        if draw(st.floats(0, 1)) < ties:
            p = place_tie(draw, p)
        return tuple(p)
    return st.lists(maybe_tied(), min_size=n, max_size=n)


def place_tie(draw, point):
    point = [np.array(a) if isinstance(a, np.ndarray) else a for a in point]
    cells = [(i, idx) for i, a in enumerate(point) if isinstance(a, np.ndarray)
             for idx in np.ndindex(a.shape)] + [(i, None) for i, a in enumerate(point)
                                                 if not isinstance(a, np.ndarray)]
    arrays = [i for i, a in enumerate(point) if isinstance(a, np.ndarray) and a.size > 1]

    def get(cell):
        i, idx = cell
        return point[i] if idx is None else point[i][idx]

    def put(cell, v):
        i, idx = cell
        if idx is None:
            point[i] = float(v)
        else:
            point[i][idx] = v

    kind = draw(st.sampled_from(["dup", "dup", "fill", "rows", "cross", "zero"]))
    if kind == "fill" and arrays:
        i = draw(st.sampled_from(arrays))
        point[i][...] = point[i].reshape(-1)[0]
    elif kind == "rows" and any(point[i].ndim == 2 and point[i].shape[0] > 1 for i in arrays):
        i = draw(st.sampled_from([i for i in arrays if point[i].ndim == 2 and point[i].shape[0] > 1]))
        r = draw(st.integers(1, point[i].shape[0] - 1))
        point[i][r] = point[i][0]
    elif kind == "cross":
        vec = [i for i, a in enumerate(point) if isinstance(a, np.ndarray) and a.ndim == 1]
        mat = [i for i, a in enumerate(point) if isinstance(a, np.ndarray) and a.ndim == 2
               and vec and a.shape[1] == point[vec[0]].shape[0]]
        if vec and mat:
            point[mat[0]][draw(st.integers(0, point[mat[0]].shape[0] - 1))] = point[vec[0]]
        else:
            put(draw(st.sampled_from(cells)), get(draw(st.sampled_from(cells))))
    elif kind == "zero":
        put(draw(st.sampled_from(cells)), 0.0)
    else:
        a, b = draw(st.sampled_from(cells)), draw(st.sampled_from(cells))
        put(b, get(a))
    return point
