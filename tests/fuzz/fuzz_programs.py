"""Hypothesis strategies that write random Python programs, for the differential fuzzer.

A program is a small module: imports, up to two helper functions, and `f`. It is built as a tree
of tuples (below) and rendered to source three times:

* plain: the program the compiler, plain Python and central differences run;
* guarded: the same program with every non-smooth or domain-restricted operation (comparisons,
  abs, max/min, np.where, np.clip, division, log/sqrt/asin/... of raw values, np.max, np.prod)
  routed through `_g.call(kind, fn, *args)` / `_g.cmp(op, a, b)`, which record how far the point
  is from a switch, a tie or a domain edge (`Guard` below). The fuzzer runs the guarded copy on
  plain values first and discards points closer than `Guard.THRESHOLD` to any of those;
* tape: the plain program with `name op= e` spelled `name = name op e` (see `Program`).

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
* `array_programs()`: `f(x, y, w, s)` with x: (3,), y: (2, 3), w: (2, 1), s: float, over NumPy:
  broadcasting arithmetic, ufuncs, np.maximum/minimum/where/clip/logaddexp/arctan2/hypot,
  np.sum/mean/max/min/prod with axis (int, negative, tuple) and keepdims (and as methods), @ /
  np.dot / np.outer, .T, indexing and slicing (x[1:], y[:, 0], x[::-1], x[idx], x[i % 3]),
  np.expand_dims / np.squeeze / reshape / [:, None], copies like x * 1.0 that must not become
  aliases, index assignment (a[i] = v, a[i] += v) on arrays f made, loops over range(len(x)) /
  range(y.shape[1]), the same control flow on scalar conditions, and a final reduction to a scalar.

Each strategy returns a `Program`. Only syntax the README says the compiler supports is produced,
and only operations the tape has too (no % or //). Constructs the compiler refuses although the
README lists them (a def or a list inside a branch or after a possible return: see
test_fuzz_regressions.py's test_gap_*) are not generated.
"""
from __future__ import annotations

import dataclasses
import operator
import os

import numpy as np
from hypothesis import strategies as st

# Generate around bugs still open in test_fuzz_regressions.py (SOURCEAD_FUZZ_STRICT=1 does not);
# none at the moment (the np.where and a[i] *= v workarounds went with their fixes).
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
    """Collects margins while the guarded copy of a program runs on plain values."""

    THRESHOLD = 1e-3

    truediv = staticmethod(operator.truediv)
    pow = staticmethod(operator.pow)

    def __init__(self):
        self.margins = []

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

    def _record(self, kind, margin):
        self.margins.append((kind, margin))
        if not margin >= self.THRESHOLD:   # stop here: later code may be out of its domain
            raise GuardTripped(kind)

    def smallest(self):
        return min((m for _, m in self.margins), default=np.inf)

    def ok(self):
        return self.smallest() >= self.THRESHOLD


_CMP = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}

# ------------------------------------------------------------------------------------------------
# the tree and its rendering
# ------------------------------------------------------------------------------------------------
# expressions:
#   ("atom", text)                            a name, a constant, `i`
#   ("bin", op, a, b)                         (a op b), op in + - * / **
#   ("neg", a)                                (-a)
#   ("tmpl", "fmt {0} {1}", args)             any template; {M} is the math prefix, {N} numpy's
#   ("guard", kind, callee, args, kwargs)     callee(*args, **kwargs), guarded by kind; callee
#                                             "/" or "**" is infix
#   ("cmp", op, a, b), ("bool", "and"|"or", a, b), ("not", a), ("ifexp", cond, a, b)
# statements:
#   ("assign", target_text, expr), ("aug", target_text, op, expr), ("tuple", [names], [exprs])
#   ("if", cond, body, orelse), ("for", targets_text, iterable_text, body),
#   ("while", counter, bound, cond, body)
#   ("break",), ("continue",), ("return", expr), ("def", name, params, body)


class Renderer:
    def __init__(self, guarded, math_prefix, tape=False):
        self.guarded = guarded
        self.m = math_prefix
        self.tape = tape

    def expr(self, e):
        kind = e[0]
        if kind == "atom":
            return e[1]
        if kind == "bin":
            _, op, a, b = e
            return f"({self.expr(a)} {op} {self.expr(b)})"
        if kind == "neg":
            return f"(-{self.expr(e[1])})"
        if kind == "tmpl":
            _, fmt, args = e
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
                return f"_g.call({gk!r}, {', '.join([fn] + rargs + rkw)})"
            if callee in ("/", "**"):
                return f"({rargs[0]} {callee} {rargs[1]})"
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

    def stmts(self, body, indent):
        pad = "    " * indent
        if not body:
            return [f"{pad}pass"]
        out = []
        for s in body:
            kind = s[0]
            if kind == "assign":
                out.append(f"{pad}{s[1]} = {self.top(s[2])}")
            elif kind == "aug" and self.tape and s[1].isidentifier():
                # the tape's Tensor is updated in place by +=, a float is rebound (see Program)
                out.append(f"{pad}{s[1]} = {s[1]} {s[2]} {self.expr(s[3])}")
            elif kind == "aug":
                out.append(f"{pad}{s[1]} {s[2]}= {self.top(s[3])}")
            elif kind == "tuple":
                out.append(f"{pad}{', '.join(s[1])} = {', '.join(self.top(e) for e in s[2])}")
            elif kind == "if":
                _, c, then, orelse = s
                out.append(f"{pad}if {self.cond(c)}:")
                out += self.stmts(then, indent + 1)
                while len(orelse) == 1 and orelse[0][0] == "if" and orelse[0][3]:
                    _, c2, then2, orelse = orelse[0]
                    out.append(f"{pad}elif {self.cond(c2)}:")
                    out += self.stmts(then2, indent + 1)
                if orelse:
                    out.append(f"{pad}else:")
                    out += self.stmts(orelse, indent + 1)
            elif kind == "for":
                _, var, iterable, body = s
                out.append(f"{pad}for {var} in {iterable}:")
                out += self.stmts(body, indent + 1)
            elif kind == "while":
                _, counter, bound, c, body = s
                out.append(f"{pad}{counter} = 0")
                extra = f" and {self.expr(c)}" if c is not None else ""
                out.append(f"{pad}while {counter} < {bound}{extra}:")
                out.append(f"{pad}    {counter} += 1")
                out += self.stmts(body, indent + 1)
            elif kind == "break":
                out.append(f"{pad}break")
            elif kind == "continue":
                out.append(f"{pad}continue")
            elif kind == "return":
                out.append(f"{pad}return {self.top(s[1])}")
            elif kind == "def":
                _, name, params, body = s
                out.append(f"{pad}def {name}({', '.join(params)}):")
                out += self.stmts(body, indent + 1)
            elif kind == "expr_call":
                out.append(f"{pad}{s[1]}({self.top(s[2])})")
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

    def __str__(self):
        return self.source


HEADERS = {
    "math.": "import math\nimport numpy as np\n",
    "m.": "import math as m\nimport numpy as np\n",
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


_EXPR_KINDS = {"atom", "bin", "neg", "tmpl", "guard", "cmp", "bool", "not", "ifexp"}


def _alias_atoms(e):
    """Names whose object the value of `e` may be (not a new value)."""
    kind = e[0]
    if kind == "atom":
        return {e[1]} if e[1].isidentifier() else set()
    if kind == "ifexp":
        return _alias_atoms(e[2]) | _alias_atoms(e[3])
    if kind == "guard" and e[2] in ("max", "min"):
        return set().union(*[_alias_atoms(a) for a in e[3]])
    if kind == "tmpl" and e[1].startswith(("h0(", "h1(", "inner")):
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
            out.append(("for", s[1], s[2], _no_aliased_aug(s[3], tainted)))
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
            out.append(("for", s[1], s[2], _only_owned_writes(s[3], allowed)))
        elif kind == "while":
            out.append(("while", s[1], s[2], s[3], _only_owned_writes(s[4], allowed)))
        elif kind == "seq":
            out.append(("seq", _only_owned_writes(s[1], allowed)))
        else:
            out.append(s)
    return out


def _render(prefix, helpers, params, body, kinds, family):
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
    for guarded, tape in ((False, False), (True, False), (False, True)):
        r = Renderer(guarded, prefix, tape)
        lines = [HEADERS[prefix]]
        for name, hparams, hbody in helpers:
            lines.append(f"\ndef {name}({', '.join(hparams)}):")
            lines += r.stmts(_flatten(hbody), 1)
            lines.append("")
        lines.append(f"\ndef f({', '.join(params)}):")
        lines += r.stmts(_flatten(body), 1)
        sources.append("\n".join(lines) + "\n")
    return Program(sources[0], sources[1], tuple(kinds), family, sources[2])


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

    def copy(self, **changes):
        e = Env(self.names, self.ints, self.helpers, self.in_loop, self.in_def)
        e.in_branch = self.in_branch
        e.owned = set(self.owned)
        e.def_locals = set(self.def_locals)
        e.ret_shape = self.ret_shape
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


class ScalarBuilder(Builder):

    def __init__(self, draw):
        super().__init__(draw)
        self.max_depth = 3

    def new_shape(self, env):
        return ()

    def shape_of(self, value, shape):
        return ()

    def note_owned(self, env, name, value):
        pass

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
        kind = self.pick(options)
        if kind == "name":
            return ("atom", self.pick(names))
        if kind == "const":
            return ("atom", self.pick(SCALAR_CONSTS))
        return ("bin", "*", ("atom", self.pick(env.ints)), ("atom", self.pick(names)))

    def expr(self, env, depth):
        if depth <= 0:
            return self.leaf(env)
        options = ["leaf", "bin", "bin", "bin", "unary", "unary", "unary", "neg", "guarded",
                   "minmax", "binary_tmpl", "div", "ifexp", "powvar"]
        if env.helpers:
            options += ["call", "call"]
        kind = self.pick(options)
        sub = lambda: self.expr(env, depth - 1)  # noqa: E731
        if kind == "leaf":
            return self.leaf(env)
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
    prefix = b.pick(["math.", "m.", ""])
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
    return _render(prefix, helpers, params, _flatten(body), [()] * nargs, "scalar")


def _flatten(body):
    """Expand ("seq", [...]) and ("tmpl_stmt", callee, expr) helper nodes."""
    out = []
    for s in body:
        if s[0] == "seq":
            out += _flatten(s[1])
        elif s[0] == "tmpl_stmt":
            out.append(("expr_call", s[1], s[2]))
        elif s[0] == "if":
            out.append(("if", s[1], _flatten(s[2]), _flatten(s[3])))
        elif s[0] == "for":
            out.append(("for", s[1], s[2], _flatten(s[3])))
        elif s[0] == "while":
            out.append(("while", s[1], s[2], s[3], _flatten(s[4])))
        elif s[0] == "def":
            out.append(("def", s[1], s[2], _flatten(s[3])))
        else:
            out.append(s)
    return out



# ------------------------------------------------------------------------------------------------
# array programs
# ------------------------------------------------------------------------------------------------

ARG_SHAPES = {"x": (3,), "y": (2, 3), "w": (2, 1), "s": ()}
SHAPES = [(), (3,), (2,), (2, 1), (2, 3)]


def fits(small, big):
    try:
        return np.broadcast_shapes(small, big) == big
    except ValueError:
        return False


ARRAY_CONSTS = ["0.5", "1.5", "2.0", "0.25", "(-0.5)", "0.7"]
ARRAY_UNARY = [
    "np.sin({0})", "np.cos({0})", "np.tanh({0})", "np.arctan({0})", "np.exp(np.tanh({0}))",
    "np.log(1.0 + {0} * {0})", "np.sqrt(1.0 + {0} * {0})", "np.log1p({0} * {0})", "{0} ** 2",
    "np.exp(-{0} * {0})", "np.arcsin(0.9 * np.tanh({0}))", "np.sinh(np.tanh({0}))",
    "np.cosh(np.sin({0}))", "np.expm1(np.tanh({0}))", "np.log2(2.0 + np.sin({0}))",
    "np.power({0}, 2)", "{0} / (1.0 + {0} * {0})", "np.negative({0})", "np.tan(np.tanh({0}))",
    "np.arccos(0.5 * np.sin({0}))", "np.log10(1.5 + np.cos({0}))",
]
ARRAY_GUARDED_UNARY = [("np.abs", "abs"), ("np.exp", "exp"), ("np.log", "pos"), ("np.sqrt", "pos"),
                       ("np.absolute", "abs"), ("np.arcsin", "unit")]
ARRAY_BINARY_TMPL = ["np.logaddexp({0}, {1})", "np.arctan2({0}, 1.0 + {1} * {1})",
                     "np.hypot({0}, 1.0 + {1} * {1})", "{0} / (1.0 + {1} * {1})",
                     "np.multiply({0}, {1})", "np.add({0}, {1})", "np.subtract({0}, {1})"]


class ArrayBuilder(Builder):
    LOCALS = ("a", "b", "c", "d")
    max_stmts = 4

    def __init__(self, draw):
        super().__init__(draw)
        self.max_depth = 3

    def new_shape(self, env):
        return self.pick(SHAPES)

    def shape_of(self, value, shape):
        return shape

    def param_shape(self):
        return self.pick(SHAPES)

    def shape_ranges(self):
        return ["range(len(x))", "range(y.shape[1])", "range(w.shape[0])", "range(len(y))",
                "range(x.shape[0] - 1)"]

    def note_owned(self, env, name, value):
        """Is `name` now an array f made, with no other name for it (so index assignment reaches
        neither an argument nor an alias, which the compiler refuses to write through)?"""
        env.owned.discard(name)
        env.owned -= _alias_atoms(value)
        if env.names[name] == () or _alias_atoms(value):
            return
        fresh = value[0] in ("bin", "neg") or (
            value[0] in ("tmpl", "guard") and value[2 if value[0] == "guard" else 1].startswith("np.")
            and not any(v in (value[1] if value[0] == "tmpl" else value[2])
                        for v in ("[", ".T", "expand_dims", "squeeze", "reshape")))
        if fresh:
            env.owned.add(name)

    def extra_statements(self, env):
        opts = []
        if env.owned and not env.in_def:
            opts += ["setitem", "setitem"]
        if not env.in_def:
            opts += ["copy"]
        return opts

    def stmt_copy(self, env, depth, params):
        """`a = x * 1.0`-style fresh copies (that a compiler must not fold into an alias of x)."""
        fresh = [n for n in self.LOCALS if n not in env.names]
        if not fresh:
            return self.stmt_assign(env, depth, params)
        name = fresh[0]
        src = self.pick([n for n, s in env.names.items() if s != ()] or ["x"])
        value = self.pick([("bin", "*", ("atom", src), ("atom", "1.0")),
                           ("bin", "+", ("atom", src), ("atom", "0.0")),
                           ("tmpl", "np.add({0}, 0.0)", [("atom", src)]),
                           ("bin", "-", ("atom", src), ("atom", "0.0"))])
        env = env.copy()
        env.names[name] = env.names[src]
        env.owned.add(name)
        return ("assign", name, value), env

    def stmt_setitem(self, env, depth, params):
        name = self.pick(sorted(env.owned))
        shape = env.names[name]
        idx_opts = {
            (3,): [("[0]", ()), ("[1:]", (2,)), ("[2]", ())],
            (2,): [("[0]", ()), ("[1]", ())],
            (2, 1): [("[0]", (1,)), ("[1, 0]", ()), ("[:, 0]", (2,))],
            (2, 3): [("[0]", (3,)), ("[:, 1]", (2,)), ("[1, 2]", ()), ("[:, 0:2]", (2, 2))],
        }[shape]
        if env.ints and shape in ((3,), (2,), (2, 3)) and self.coin(0.3):
            var = self.pick(env.ints)
            n = shape[0]
            idx, sub = (f"[{var} % {n}]", shape[1:])
        else:
            idx, sub = self.pick(idx_opts)
        vshape = self.pick([s for s in SHAPES if fits(s, sub)] or [()])
        value = self.exact(env, vshape, self.count(0, 2))
        if self.coin(0.3):
            return ("aug", name + idx, self.pick(["+", "*"]), value), env
        return ("assign", name + idx, value), env

    def result(self, env):
        shape = self.pick(SHAPES)
        e = self.exact(env, shape, self.count(1, self.max_depth))
        if shape == ():
            return e
        return ("tmpl", self.pick(["np.sum({0})", "np.mean({0})", "np.sum({0} * {0})",
                                   "({0}).sum()", "np.sum(np.tanh({0}))"]), [e])

    def value(self, env, shape, fresh_name=False):
        return self.exact(env, shape, self.count(0, self.max_depth))

    def operand_for(self, env, shape):
        sub = self.pick([s for s in SHAPES if fits(s, shape)])
        return self.exact(env, sub, self.count(0, 2))

    # ---- expressions ----
    def leaves(self, env, shape):
        return [n for n, s in env.names.items() if s == shape]

    def leaf(self, env, shape):
        names = self.leaves(env, shape)
        if shape == () and (not names or self.coin(0.25)):
            return ("atom", self.pick(ARRAY_CONSTS))
        return ("atom", self.pick(names))

    def exact(self, env, shape, depth):
        """An expression of exactly this shape."""
        leaves = self.leaves(env, shape) or (["1.0"] if shape == () else [])
        if depth <= 0 and leaves:
            return self.leaf(env, shape)
        if depth <= 0:
            if all(n not in env.names for n in ARG_SHAPES):  # in a helper: no arguments of f
                return ("tmpl", f"np.full({shape}, {{0}})", [("atom", self.pick(ARRAY_CONSTS))])
            return self.structural(env, shape, 0)
        options = ["leaf", "elementwise", "elementwise", "unary", "unary", "structural",
                   "structural", "special", "neg", "ifexp"]
        if any(s == shape for _, _, s in env.helpers):
            options.append("call")
        kind = self.pick(options)
        sub = lambda s=shape: self.exact(env, s, depth - 1)  # noqa: E731
        if kind == "leaf":
            return self.leaf(env, shape) if leaves else self.structural(env, shape, depth - 1)
        if kind == "elementwise":
            other = self.pick([s for s in SHAPES if fits(s, shape)])
            a, b = sub(), sub(other)
            if self.coin():
                a, b = b, a
            form = self.pick(["+", "*", "-", "tmpl", "div"])
            if form == "tmpl":
                return ("tmpl", self.pick(ARRAY_BINARY_TMPL), [a, b])
            if form == "div":
                return ("guard", "div", "/", [a, b], [])
            return ("bin", form, a, b)
        if kind == "unary":
            if self.coin(0.25):
                callee, gk = self.pick(ARRAY_GUARDED_UNARY)
                return ("guard", gk, callee, [sub()], [])
            return ("tmpl", self.pick(ARRAY_UNARY), [sub()])
        if kind == "neg":
            return ("neg", sub())
        if kind == "ifexp":
            return ("ifexp", self.condition(env), sub(), sub())
        if kind == "special":
            other = self.pick([s for s in SHAPES if fits(s, shape)])
            a, b = sub(), sub(other)
            form = self.pick(["maximum", "minimum", "where", "clip"])
            if form == "where":
                c1 = self.exact(env, self.pick([s for s in SHAPES if fits(s, shape)]), depth - 1)
                return ("tmpl", "np.where({0}, {1}, {2})",
                        [("cmp", self.pick(["<", ">"]), c1, ("atom", self.pick(ARRAY_CONSTS))), a, b])
            if form == "clip":
                return ("guard", "clip", "np.clip", [a, ("atom", "-0.5"), ("atom", "0.5")], [])
            if self.coin():
                a, b = b, a
            return ("guard", "minmax", "np." + form, [a, b], [])
        if kind == "call":
            name, arity, _ = self.pick([h for h in env.helpers if h[2] == shape])
            return ("tmpl", name + "(" + ", ".join("{%d}" % i for i in range(arity)) + ")",
                    [sub() for _ in range(arity)])
        return self.structural(env, shape, depth - 1)

    def structural(self, env, shape, depth):
        """Shape-changing producers of exactly `shape`."""
        e = lambda s: self.exact(env, s, depth)  # noqa: E731
        if shape == (2, 3):
            form = self.pick(["bcast", "outer", "bcast2"])
            if form == "outer":
                return ("tmpl", "np.outer({0}, {1})", [e((2,)), e((3,))])
            if form == "bcast2":
                return ("bin", self.pick(["+", "*"]), e((2, 1)), e((2, 3)))
            return ("bin", self.pick(["+", "*", "-"]), e((2, 1)), e((3,)))
        if shape == (3,):
            form = self.pick(["sum0", "row", "mean0", "Tmat", "rev", "max0", "method"])
            if form == "sum0":
                return ("tmpl", "np.sum({0}, axis=0)", [e((2, 3))])
            if form == "mean0":
                return ("tmpl", "np.mean({0}, axis=0)", [e((2, 3))])
            if form == "method":
                return ("tmpl", "{0}.sum(axis=0)", [e((2, 3))])
            if form == "row":
                return ("tmpl", self.pick(["{0}[0]", "{0}[1]", "{0}[-1]"]), [e((2, 3))])
            if form == "Tmat":
                return ("tmpl", self.pick(["{0}.T @ {1}", "np.dot({0}.T, {1})"]), [e((2, 3)), e((2,))])
            if form == "max0":
                return ("guard", "npmax", self.pick(["np.max", "np.min"]), [e((2, 3))], [("axis", "0")])
            return ("tmpl", "{0}[::-1]", [e((3,))])
        if shape == (2,):
            form = self.pick(["matvec", "sum1", "col", "slice", "mean1", "squeeze", "dot"])
            if form == "matvec":
                return ("tmpl", "{0} @ {1}", [e((2, 3)), e((3,))])
            if form == "dot":
                return ("tmpl", "np.dot({0}, {1})", [e((2, 3)), e((3,))])
            if form == "sum1":
                return ("tmpl", self.pick(["np.sum({0}, axis=1)", "np.sum({0}, axis=-1)"]), [e((2, 3))])
            if form == "mean1":
                return ("tmpl", "{0}.mean(axis=1)", [e((2, 3))])
            if form == "col":
                return ("tmpl", self.pick(["{0}[:, 0]", "{0}[:, 2]", "{0}[:, -1]"]), [e((2, 3))])
            if form == "squeeze":
                return ("tmpl", self.pick(["{0}[:, 0]", "np.squeeze({0}, axis=1)", "{0}.reshape(2)"]),
                        [e((2, 1))])
            return ("tmpl", self.pick(["{0}[1:]", "{0}[:2]", "{0}[np.array([0, 2])]"]), [e((3,))])
        if shape == (2, 1):
            form = self.pick(["sumk", "slice", "expand", "none", "meank"])
            if form == "sumk":
                return ("tmpl", "np.sum({0}, axis=1, keepdims=True)", [e((2, 3))])
            if form == "meank":
                return ("tmpl", "np.mean({0}, axis=-1, keepdims=True)", [e((2, 3))])
            if form == "slice":
                return ("tmpl", "{0}[:, 1:2]", [e((2, 3))])
            if form == "expand":
                return ("tmpl", "np.expand_dims({0}, 1)", [e((2,))])
            return ("tmpl", "{0}[:, None]", [e((2,))])
        # scalars
        form = self.pick(["sum", "mean", "dot", "item", "max", "prod", "sum_axes"])
        src = self.pick([(2, 3), (3,), (2,), (2, 1)])
        if form == "sum":
            return ("tmpl", "np.sum({0})", [e(src)])
        if form == "mean":
            return ("tmpl", "np.mean({0})", [e(src)])
        if form == "sum_axes":
            return ("tmpl", "np.sum({0}, axis=(0, 1))", [e((2, 3))])
        if form == "dot":
            v = self.pick([(3,), (2,)])
            return ("tmpl", self.pick(["{0} @ {1}", "np.dot({0}, {1})"]), [e(v), e(v)])
        if form == "item":
            v = self.pick([(3,), (2,)])
            if env.ints and self.coin(0.5):   # x[i % 3]: integer arithmetic on a loop variable
                return ("tmpl", "{0}[%s %% %d]" % (self.pick(env.ints), v[0]), [e(v)])
            return ("tmpl", self.pick(["{0}[0]", "{0}[-1]"]), [e(v)])
        if form == "prod":
            return ("guard", "prod", "np.prod", [e(self.pick([(3,), (2,)]))], [])
        return ("guard", "npmax", self.pick(["np.max", "np.min"]), [e(src)], [])

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
    b = ArrayBuilder(draw)
    b.max_depth = max_depth
    params = ["x", "y", "w", "s"]
    helpers = []
    if b.coin(0.3):
        shape = b.pick(SHAPES)
        henv = Env({"p": shape}, in_def=True)
        henv.ret_shape = shape
        body, henv = b.block(henv, 0, 0, 1, params=["p"])
        body.append(("return", b.exact(henv, shape, b.count(1, 2))))
        helpers.append(("h0", ["p"], body, shape))
    env = Env(dict(ARG_SHAPES), helpers=[(n, 1, s) for n, _, _, s in helpers])
    b.returned = False
    body, env = b.block(env, 2, 1, b.max_stmts, params=())
    body.append(("return", b.result(env)))
    return _render("math.", [h[:3] for h in helpers], params, _flatten(body),
                   [ARG_SHAPES[p] for p in params], "array")


# ------------------------------------------------------------------------------------------------
# points
# ------------------------------------------------------------------------------------------------

COORD = st.floats(-2.0, 2.0, allow_nan=False, allow_subnormal=False).map(lambda v: round(v, 4))


def points_for(kinds, n=3):
    """n points for a program's arguments: floats for () and float64 arrays for shapes."""
    def one(kind):
        if kind == ():
            return COORD
        size = int(np.prod(kind))
        return st.lists(COORD, min_size=size, max_size=size).map(
            lambda v, shape=kind: np.array(v, dtype=np.float64).reshape(shape))
    point = st.tuples(*[one(k) for k in kinds])
    return st.lists(point, min_size=n, max_size=n)
