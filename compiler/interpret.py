"""Running a graph on values, keeping what each variable held: the numbers a picture shows.

The generated code is what runs when a user calls a gradient; pictures (drawing.py) need more than
its results: the value of every variable, every branch taken, every loop's trip count. So this walks
the IR itself, each equation through its primitive's evaluator (`PRIMS[prim].evaluate`, the same
callables the generated code calls for that library), the regions as the emitter spells them:
`cond` runs the taken branch, `for` / `while` their body once per iteration (a `save` parameter
also builds the tape of saved values), `loop_reverse` its body once per tape entry, newest first.

A variable bound many times (in a loop body) keeps how often, its first few values and its last few
(`Seen`), so a long loop costs little memory.
"""
from __future__ import annotations

from collections import ChainMap, deque

import numpy as np

from .errors import error_at
from .ir import Const, Loop, ReverseLoop
from .primitives import PRIMS

KEEP = 4  # values kept at each end of a variable's history


class Seen:
    """What one variable held: `count` bindings, the first and the last `KEEP` values."""

    __slots__ = ("count", "head", "tail")

    def __init__(self):
        self.count = 0
        self.head = []
        self.tail = deque(maxlen=KEEP)

    def add(self, value):
        self.count += 1
        if len(self.head) < KEEP:
            self.head.append(value)
        self.tail.append(value)

    @property
    def last(self):
        return self.tail[-1]

    def values(self):
        """(values in binding order, whether some in the middle were left out)."""
        if self.count <= KEEP:
            return list(self.head), False
        if self.count <= 2 * KEEP:
            return list(self.head) + list(self.tail)[2 * KEEP - self.count:], False
        return list(self.head) + list(self.tail), True


class Trace:
    """Everything one run saw: variable -> Seen, loop equation -> trip counts (one per time the
    loop ran), cond equation -> the branches taken ("then" / "else", one per time it ran)."""

    def __init__(self):
        self.seen = {}
        self.trips = {}
        self.taken = {}

    def bind(self, var, value):
        seen = self.seen.get(var)
        if seen is None:
            seen = self.seen[var] = Seen()
        seen.add(value)

    def value(self, atom):
        """The last value of a variable (the value itself for a constant); KeyError if never bound."""
        if isinstance(atom, Const):
            return atom.value
        return self.seen[atom].last


class Failure(Exception):
    """An equation raised while its graph ran (at the user's line, when the equation knows it)."""

    def __init__(self, eqn, error):
        super().__init__(f"{eqn.prim}: {type(error).__name__}: {error}")
        self.eqn, self.error = eqn, error

    def located(self, what, fix):
        """A GradError at the user's line: `what` raised the error here; `fix` says what to do."""
        where = self.eqn.loc[0] if self.eqn.loc else None
        return error_at(where, f"{what} raises {type(self.error).__name__}: {self.error} here: "
                               f"{fix}")


def run(graph, args, trace=None):
    """The graph's results at `args`, and the Trace of the run."""
    trace = trace if trace is not None else Trace()
    results = _run(graph, list(args), ChainMap(), trace)
    return results, trace


def _run(graph, args, outer, trace, kept=None):
    """The results of one region (`kept`: a dict to hold its own variables, for the caller)."""
    if len(args) != len(graph.params):
        raise TypeError(f"{graph.name} takes {len(graph.params)} values, got {len(args)}")
    env = outer.new_child(kept if kept is not None else {})
    for p, v in zip(graph.params, args):
        env[p] = v
        trace.bind(p, v)

    def read(atom):
        return atom.value if isinstance(atom, Const) else env[atom]

    for eqn in graph.eqns:
        try:
            values = _equation(eqn, [read(a) for a in eqn.ins], env, trace)
        except Failure:
            raise
        except Exception as exc:
            raise Failure(eqn, exc) from exc
        if len(values) != len(eqn.outs):
            raise AssertionError(f"{eqn.prim}: {len(values)} values for {len(eqn.outs)} outputs")
        for v, value in zip(eqn.outs, values):
            env[v] = value
            trace.bind(v, value)
    return [read(a) for a in graph.results]


def _equation(eqn, ins, env, trace):
    prim = eqn.prim
    if prim == "global":
        return [eqn.params["_ns"][eqn.params["name"]]]
    if prim == "cell":
        return [eqn.params["_cell"].cell_contents]
    if prim == "cond":
        branch = "then" if ins[0] else "else"
        trace.taken.setdefault(eqn, []).append(branch)
        return _run(eqn.params[branch], [], env, trace)
    if prim in ("for", "while"):
        return _loop(eqn, ins, env, trace)
    if prim == "loop_reverse":
        loop = ReverseLoop(eqn)
        tape, carried = ins[0], ins[1:]
        for entry in reversed(tape):
            carried = _run(loop.body, list(entry) + list(carried), env, trace)
        trace.trips.setdefault(eqn, []).append(len(tape))
        return carried
    value = _evaluate(eqn, ins)  # (an equation with no outputs is a check: it may raise)
    return [value] if eqn.outs else []


# Primitives whose shape the generated code passes as one tuple (emit.py): their evaluators take
# the dimensions spread, after the leading inputs.
_SHAPED = {"zeros": 0, "ones": 0, "full": 1, "reshape": 1}


def _evaluate(eqn, ins):
    """One primitive's value, through the callable the generated code calls: with no library
    named, NumPy's for arrays (the code generator spells it np.<name> for them)."""
    prim = PRIMS[eqn.prim]
    lib = eqn.params.get("lib")
    if lib is None and None not in prim.funcs and "np" in prim.funcs and \
            any(isinstance(v, np.ndarray) for v in ins):
        lib = "np"
    lead = _SHAPED.get(eqn.prim)
    if lead is not None and len(ins) == lead + 1 and isinstance(ins[lead], (tuple, list)):
        ins = list(ins[:lead]) + list(ins[lead])
    return prim.evaluate(lib, ins, eqn.params)


def _loop(eqn, ins, env, trace):
    loop = Loop(eqn)
    n = len(loop.bounds)
    carried = ins[n:]
    indices = iter(range(*ins[:n])) if eqn.prim == "for" else None
    tape, trips = [], 0
    while True:
        if indices is not None:
            i = next(indices, None)
            if i is None:
                break
            args = [i] + carried
        else:
            if not _run(loop.test, list(carried), env, trace)[0]:
                break
            args = list(carried)
        body_env = {}
        *carried, done = _run(loop.body, args, env, trace, body_env)
        trips += 1
        if loop.save is not None:
            tape.append(tuple(body_env[v] for v in loop.save))
        if done:
            break
    trace.trips.setdefault(eqn, []).append(trips)
    return list(carried) + ([tape] if loop.save is not None else [])


__all__ = ["run", "Trace", "Seen", "Failure"]
