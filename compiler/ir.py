"""The static DAG: a small SSA intermediate representation, its printer and its verifier.

A `Graph` is a function: parameters, a list of equations in topological order, and results. Each
`Eqn` applies one primitive (named in `primitives.py`) to atoms (a `Var` or a `Const`) and defines
fresh `Var`s; a variable is defined exactly once, so a user's reassigned name becomes several
variables. Structured control flow fits the same shape: a primitive such as `cond` or `loop` keeps
its sub-graphs in `params` ("regions"), and passes recurse into them.

Variables are compared by identity. They carry a `hint` (the user's name, or the primitive that made
them) from which the printer and the code generator derive readable, deterministic names.
"""
from __future__ import annotations

import itertools

_ids = itertools.count()


class Dot:
    """The hint of a tangent (forward mode): named after its primal value, `q_dot` for `q`."""

    __slots__ = ("var",)

    def __init__(self, var):
        self.var = var


class Var:
    """One SSA value. `hint` is the user's name it came from (or '' for a temporary), or, for
    an adjoint, the Var it is the adjoint of (`dq`), or a Dot for a tangent (`q_dot`)."""

    __slots__ = ("hint", "id")

    def __init__(self, hint=""):
        self.hint = hint
        self.id = next(_ids)

    def __repr__(self):
        hint = self.hint if isinstance(self.hint, str) else \
            f"{self.hint.var.hint}_dot" if isinstance(self.hint, Dot) else f"d{self.hint.hint}"
        return f"Var({hint or '_'}#{self.id})"


class Const:
    """A literal value folded into the graph (numbers, booleans, None)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return (isinstance(other, Const) and type(self.value) is type(other.value)
                and _same_value(self.value, other.value))

    def __hash__(self):
        try:
            return hash((type(self.value), self.value))
        except TypeError:
            return id(self.value)

    def __repr__(self):
        return f"Const({self.value!r})"


def _same_value(a, b):
    if a is b:
        return True
    try:
        result = a == b
        return bool(result) and not (isinstance(a, float) and a == 0.0 and str(a) != str(b))
    except Exception:
        return False


def is_const(atom, value=None):
    if not isinstance(atom, Const):
        return False
    if value is None:
        return True
    v = atom.value
    return type(v) in (int, float) and v == value and not isinstance(v, bool)


class Eqn:
    """`outs = prim(*ins, **params)`; `loc` is the user's source location it came from (or None)."""

    __slots__ = ("prim", "ins", "outs", "params", "loc")

    def __init__(self, prim, ins, outs, params=None, loc=None):
        self.prim = prim
        self.ins = tuple(ins)
        self.outs = tuple(outs)
        self.params = params or {}
        self.loc = loc

    @property
    def out(self):
        return self.outs[0]

    def __repr__(self):
        return f"Eqn({self.prim}, {self.ins}, {self.outs})"


class Graph:
    """A function in SSA form: `results = body(params)`."""

    __slots__ = ("name", "params", "eqns", "results")

    def __init__(self, name, params, eqns, results):
        self.name = name
        self.params = list(params)
        self.eqns = list(eqns)
        self.results = list(results)

    def __str__(self):
        return format_graph(self)


def regions(eqn):
    """The sub-graphs an equation owns (empty for plain primitives)."""
    params = eqn.params
    if not params:  # (most equations: every pass asks this of each one)
        return _NO_REGIONS
    return [v for v in params.values() if isinstance(v, Graph)]


_NO_REGIONS = ()


# --- regions, read by role --------------------------------------------------------------------
#
# A loop equation's layout is positional (inputs: fixed bounds, then initial carried values; body
# parameters: the index, then the carried values; body results: the next carried values, then the
# stop flag). These views name the parts once, so no pass decodes the layout by hand.

class Loop:
    """A `for` or `while` equation by role. `save` (after reverse mode) names the body's values the
    forward loop pushes onto its tape; the tape is then the equation's last output."""

    def __init__(self, eqn):
        body = eqn.params["body"]
        self.eqn = eqn
        self.body = body
        self.test = eqn.params.get("test")
        n = len(body.results) - 1                 # the last result is the stop flag
        self.ncarried = n
        self.bounds = list(eqn.ins[:len(eqn.ins) - n])   # start, stop, step of a `for`
        self.inits = list(eqn.ins[len(eqn.ins) - n:])
        self.index = body.params[0] if len(body.params) > n else None
        self.carried = list(body.params[len(body.params) - n:])
        self.next = list(body.results[:n])
        self.stop = body.results[-1]
        self.outs = list(eqn.outs[:n])
        self.save = eqn.params.get("save")
        self.tape = eqn.outs[-1] if self.save is not None else None


class ReverseLoop:
    """A `loop_reverse` equation by role: it replays `tape` (each entry binds `saved`), carrying
    adjoints from `inits` through `carried` to `outs`."""

    def __init__(self, eqn):
        body = eqn.params["body"]
        nsave = eqn.params["nsave"]
        self.eqn = eqn
        self.body = body
        self.tape = eqn.ins[0]
        self.inits = list(eqn.ins[1:])
        self.saved = list(body.params[:nsave])
        self.carried = list(body.params[nsave:])
        self.next = list(body.results)
        self.outs = list(eqn.outs)
        self.accumulates = eqn.params.get("accumulates", ())
        self.buffers = eqn.params.get("buffers", ())


def loop_view(eqn):
    """The role view of a loop-like equation (None for any other)."""
    if eqn.prim in ("for", "while"):
        return Loop(eqn)
    if eqn.prim == "loop_reverse":
        return ReverseLoop(eqn)
    return None


# Parameters that hold variables, and whose names they use: the loop body's ("inner", renamed with
# the body) or the enclosing graph's ("outer").
VAR_PARAMS = {"save": "inner", "accumulates": "outer", "buffers": "outer"}


def rename_var_params(params, outer, inner=None):
    """`params` with every variable-holding parameter renamed: `outer(v)` for names of the
    enclosing graph, `inner(v)` for the body's own (both functions Var -> atom)."""
    out = dict(params)
    for key, side in VAR_PARAMS.items():
        if key in out and out[key] is not None:
            rename = outer if side == "outer" else (inner or outer)
            out[key] = tuple(rename(v) for v in out[key])
    return out


def use_counts(graph):
    """How many times each variable is read by the graph's equations and results (not regions)."""
    uses = {}
    for eqn in graph.eqns:
        for a in eqn.ins:
            if isinstance(a, Var):
                uses[a] = uses.get(a, 0) + 1
    for a in graph.results:
        if isinstance(a, Var):
            uses[a] = uses.get(a, 0) + 1
    return uses


def free_vars(graph):
    """Variables a graph reads but does not define: for a region, the values it closes over."""
    defined = set(graph.params)
    free = []
    seen = set()

    def use(atom):
        if isinstance(atom, Var) and atom not in defined and atom not in seen:
            seen.add(atom)
            free.append(atom)

    for eqn in graph.eqns:
        for atom in eqn.ins:
            use(atom)
        for sub in regions(eqn):
            for atom in free_vars(sub):
                use(atom)
        defined.update(eqn.outs)
    for atom in graph.results:
        use(atom)
    return free


# --- printing ------------------------------------------------------------------------------------

class Namer:
    """Deterministic names: the hint itself when free, else `hint_1`, `hint_2`...; `t1`... for none.

    `blocked` names are never produced (the user's globals, builtins and helpers the generated code
    reads); `owned` names (the user's own locals) may be produced once, for a value hinted with them.
    """

    def __init__(self, blocked=(), owned=()):
        self.names = {}
        self.blocked = set(blocked)
        self.owned = set(owned)
        self.used = set()
        self.counters = {}
        self.naming = set()

    def __call__(self, atom):
        if isinstance(atom, Const):
            return repr(atom.value)
        name = self.names.get(atom)
        if name is None:
            hint = atom.hint
            if isinstance(hint, Dot):  # a tangent: named after its primal value, `q_dot` for `q`
                primal = hint.var
                if primal in self.naming:
                    hint = ""
                else:
                    self.naming.add(primal)
                    try:
                        hint = self(primal) + "_dot"
                    finally:
                        self.naming.discard(primal)
            elif isinstance(hint, Var):  # an adjoint: named after its primal value, `dq` for `q`
                if hint in self.naming:  # a hint that leads back to itself: plain temporary
                    hint = ""
                else:
                    self.naming.add(atom)
                    try:
                        hint = "d" + self(hint)
                    finally:
                        self.naming.discard(atom)
            name = self.fresh(hint)
            self.names[atom] = name
        return name

    def free(self, name):
        return name not in self.used and (name in self.owned or name not in self.blocked)

    def fresh(self, hint):
        if hint and self.free(hint) and hint.isidentifier():
            self.used.add(hint)
            return hint
        base = hint if hint and hint.isidentifier() else "t"
        sep = "_" if hint else ""
        n = self.counters.get(base, 0)
        while True:
            n += 1
            candidate = f"{base}{sep}{n}"
            if candidate not in self.used and candidate not in self.blocked and candidate not in self.owned:
                self.counters[base] = n
                self.used.add(candidate)
                return candidate


def format_graph(graph, namer=None, indent="", types=None):
    """Print a graph one equation a line, e.g. `q = add x y`, regions indented beneath their
    equation. With `types` (var -> "f64[3,4]", known once a version is specialised), each value is
    printed with its type where it is defined, as in `q:f64[3] = add x y`."""
    namer = namer or Namer()
    types = types or {}

    def typed(v):
        kind = types.get(v)
        return f"{namer(v)}:{kind}" if kind else namer(v)

    params = ", ".join(typed(p) for p in graph.params)
    lines = [f"{indent}{graph.name}({params}):"]
    for eqn in graph.eqns:
        outs = ", ".join(typed(v) for v in eqn.outs)
        args = " ".join(namer(a) for a in eqn.ins)
        extra = " ".join(f"{k}={v!r}" for k, v in sorted(eqn.params.items())
                         if not isinstance(v, Graph) and not k.startswith("_"))
        text = " ".join(s for s in (eqn.prim, args, extra) if s)
        lines.append(f"{indent}  {outs} = {text}")
        for key, sub in sorted((k, v) for k, v in eqn.params.items() if isinstance(v, Graph)):
            lines.append(f"{indent}    [{key}]")
            lines.append(format_graph(sub, namer, indent + "    ", types))
    results = ", ".join(namer(a) for a in graph.results)
    lines.append(f"{indent}  return {results}")
    return "\n".join(lines)


def type_names(kinds, shapes, dtypes):
    """var -> a short type for the printer: `f64[3,4]` for an array, `f64` for a number."""
    short = {"float64": "f64", "float32": "f32", "int64": "i64", "int32": "i32", "bool": "bool"}
    out = {}
    for var, kind in kinds.items():
        dtype = dtypes.get(var)
        name = short.get(str(dtype), str(dtype)) if dtype is not None else "f64"
        if kind == "array" and shapes.get(var) is not None:
            out[var] = f"{name}[{','.join(map(str, shapes[var]))}]"
        elif kind == "scalar":
            out[var] = "float" if dtype is None else name
    return out


# --- verification --------------------------------------------------------------------------------

class IRError(AssertionError):
    """An internal invariant of the IR is broken: a bug in the compiler, never the user's fault."""


def verify(graph, outer=()):
    """Check SSA: every variable is defined once, before use (regions may read enclosing values)."""
    defined = set(outer)
    for p in graph.params:
        if p in defined:
            raise IRError(f"parameter {p} defined twice")
        defined.add(p)
    for eqn in graph.eqns:
        for atom in eqn.ins:
            if isinstance(atom, Var) and atom not in defined:
                raise IRError(f"{eqn.prim} reads {atom} before it is defined")
            if not isinstance(atom, (Var, Const)):
                raise IRError(f"{eqn.prim} has a non-atom input {atom!r}")
        for sub in regions(eqn):
            verify(sub, defined)
        _verify_var_params(eqn, defined)
        for v in eqn.outs:
            if v in defined:
                raise IRError(f"{v} defined twice")
            defined.add(v)
    for atom in graph.results:
        if isinstance(atom, Var) and atom not in defined:
            raise IRError(f"result {atom} is not defined")
    return True


def _verify_var_params(eqn, defined):
    """Variables named by parameters exist where they are meant to: a loop's saved values in its
    body, accumulated and buffer values in the enclosing graph."""
    for key, side in VAR_PARAMS.items():
        for v in eqn.params.get(key) or ():
            if not isinstance(v, Var):
                continue
            if side == "outer" and v not in defined:
                raise IRError(f"{eqn.prim} param {key} names {v}, which is not defined before it")
            if side == "inner":
                body = eqn.params["body"]
                inside = set(body.params) | {o for e in body.eqns for o in e.outs}
                if v not in inside and v not in defined:
                    raise IRError(f"{eqn.prim} saves {v}, which its body does not define")


# --- building ------------------------------------------------------------------------------------

class Builder:
    """Appends equations to a list; `simplify(prim, ins, params)` (passes.simplify, or None to keep
    every equation as written) may answer an equation with an existing atom instead (x * 1 -> x,
    constants folded), so graphs are built small."""

    def __init__(self, eqns=None, loc=None, simplify=None):
        self.eqns = eqns if eqns is not None else []
        self.loc = loc
        self.simplify = simplify

    def emit(self, prim, ins, hint="", **params):
        ins = tuple(ins)
        if self.simplify is not None:
            found = self.simplify(prim, ins, params)
            if isinstance(found, tuple):  # a cheaper equation instead: (prim, ins)
                return self.emit(found[0], found[1], hint, **params)
            if found is not None:
                return found
        out = Var(hint)
        self.eqns.append(Eqn(prim, ins, (out,), params, self.loc))
        return out

    def emit_multi(self, prim, ins, hints, **params):
        outs = tuple(Var(h) for h in hints)
        self.eqns.append(Eqn(prim, tuple(ins), outs, params, self.loc))
        return outs
