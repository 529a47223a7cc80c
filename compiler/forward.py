"""Forward-mode AD on the IR: a graph -> a graph that also returns directional derivatives (JVPs).

Each equation is followed by its tangent equation (`y = sin(x)`, then `y_dot = x_dot * cos(x)`),
from the tangent terms of the rule table (rules.TANGENTS); only values that depend on a tangent
input get tangents, and a missing tangent is an exact zero (no equation is made for it).

Control flow needs no tape, unlike reverse mode: a `cond` computes the tangents of its results in
each branch, and a loop carries the tangents of its carried values beside them, one iteration at a
time. The same walk runs over a gradient graph (hessians, forward over reverse): its adjoint
helpers have tangent terms too, and the reverse loop (`loop_reverse`) carries tangents the same way,
with the tangents of the values it pops pushed by the forward loop beside them.
"""
from __future__ import annotations

from .errors import GradError, error_at
from .ir import Builder, Const, Dot, Eqn, Graph, Loop, ReverseLoop, Var, free_vars
from .passes import simplify as _simplify
from .primitives import PRIMS
from .rules import MissingTangent, jvp
from .reverse import activity

LOOPS = ("for", "while")
_FRESH = {name for name, p in PRIMS.items() if p.fresh}


class Tangents:
    """One forward walk: `dots` maps each value that has a tangent to it (an atom)."""

    def __init__(self, dots, simplify, producers):
        self.dots = dots
        self.simplify = simplify
        self.producers = producers  # var -> its equation, in the whole graph

    def dot(self, atom):
        return self.dots.get(atom) if isinstance(atom, Var) else None

    def run(self, eqns, loc=None):
        """The equations with their tangent equations interleaved."""
        b = Builder(loc=loc, simplify=self.simplify)
        for eqn in eqns:
            if eqn.prim == "cond":
                b.eqns.append(self.cond(eqn))
                continue
            if eqn.prim in LOOPS:
                b.eqns.extend(self.loop(eqn))
                continue
            if eqn.prim == "loop_reverse":
                b.eqns.extend(self.reverse_loop(eqn))
                continue
            b.eqns.append(eqn)
            dots = [self.dot(a) for a in eqn.ins]
            if not any(d is not None for d in dots):
                continue
            b.loc = eqn.loc or loc  # the primal's line: one comment heads both
            if eqn.prim == "list_append" and dots[0] is None:
                dots[0] = self.empty_list_tangent(b, eqn)
            try:
                out = jvp(b, eqn, dots)
            except MissingTangent as exc:
                where = eqn.params.get("_where") or (eqn.loc[0] if eqn.loc else None)
                label = eqn.params.get("label") or str(exc).strip("'\"")
                raise error_at(where, f"forward mode has no tangent rule for {label} yet: "
                                      "differentiate this function in reverse mode (grad, vjp, "
                                      "jacobian(mode='rev')) instead.") from None
            if out is not None:
                if isinstance(out, Var) and not out.hint and out not in eqn.ins:
                    out.hint = Dot(eqn.out)
                self.dots[eqn.out] = out
        return b.eqns

    def empty_list_tangent(self, b, eqn):
        """A list that gets a value with a tangent appended: its tangent list must hold a tangent
        for every item, so it is only made here when the list had none before (a new list)."""
        items = eqn.ins[0]
        producer = self.producers.get(items)
        if producer is not None and producer.prim == "list_new":
            return b.emit("list_new", [], hint=Dot(items), unshared=True)
        raise MissingTangent("a list that holds values with and without tangents")

    # -- if / else --

    def cond(self, eqn):
        branches = {}
        for key in ("then", "else"):
            region = eqn.params[key]
            walk = Tangents(dict(self.dots), self.simplify, self.producers)
            eqns = walk.run(region.eqns)
            branches[key] = (region, eqns, walk)
        outs, dot_outs = list(eqn.outs), []
        wanted = [k for k in range(len(outs))
                  if any(branches[key][2].dot(branches[key][0].results[k]) is not None
                         for key in ("then", "else"))]
        new = {}
        for key in ("then", "else"):
            region, eqns, walk = branches[key]
            b = Builder(eqns, simplify=self.simplify)
            extra = []
            for k in wanted:
                r = region.results[k]
                d = walk.dot(r)
                extra.append(d if d is not None else b.emit("zero_like", [r]))
            new[key] = Graph(region.name, region.params, b.eqns, list(region.results) + extra)
        for k in wanted:
            v = Var(Dot(outs[k]))
            dot_outs.append(v)
            self.dots[outs[k]] = v
        return Eqn("cond", eqn.ins, outs + dot_outs, {**eqn.params, **new}, eqn.loc)

    # -- loops --

    def loop(self, eqn):
        loop = Loop(eqn)
        if loop.save is not None:
            return self.taped_loop(eqn, loop)
        active = {v for v in self.dots}
        slots = set()
        while True:  # the carried values a tangent reaches, to a fixed point
            before = len(slots)
            seeds = active | {loop.carried[k] for k in slots}
            reached = activity(loop.body.eqns, set(seeds))
            slots |= {k for k in range(loop.ncarried)
                      if self.dot(loop.inits[k]) is not None
                      or isinstance(loop.next[k], Var) and loop.next[k] in reached}
            if len(slots) == before:
                break
        slots = sorted(slots)
        if not slots:
            return [eqn]
        dot_params = [Var(Dot(loop.carried[k])) for k in slots]
        walk = Tangents({**self.dots, **dict(zip((loop.carried[k] for k in slots), dot_params))},
                        self.simplify, self.producers)
        eqns = walk.run(loop.body.eqns)
        b = Builder(eqns, simplify=self.simplify)
        dot_next = [walk.dot(loop.next[k]) if walk.dot(loop.next[k]) is not None
                    else b.emit("zero_like", [loop.next[k]]) for k in slots]
        body = loop.body
        new_body = Graph(body.name, list(body.params) + dot_params, b.eqns,
                         list(loop.next) + dot_next + [loop.stop])
        regions = {"body": new_body}
        if loop.test is not None:
            regions["test"] = Graph(loop.test.name, list(loop.test.params) + dot_params,
                                    loop.test.eqns, loop.test.results)
        outer = Builder(simplify=self.simplify)
        dot_inits = []
        for k in slots:
            d = self.dot(loop.inits[k])
            if d is None:
                init = loop.inits[k]
                producer = self.producers.get(init)
                d = (outer.emit("list_new", [], unshared=True) if producer is not None
                     and producer.prim == "list_new" else outer.emit("zero_like", [init]))
            dot_inits.append(d)
        dot_outs = [Var(Dot(loop.outs[k])) for k in slots]
        for k, v in zip(slots, dot_outs):
            self.dots[loop.outs[k]] = v
        return outer.eqns + [Eqn(eqn.prim, list(eqn.ins) + dot_inits, list(eqn.outs) + dot_outs,
                                 {**eqn.params, **regions}, eqn.loc)]

    def taped_loop(self, eqn, loop):
        raise MissingTangent("a loop of a gradient (its reverse pass replays a tape)")

    def reverse_loop(self, eqn):
        raise MissingTangent("a loop of a gradient (its reverse pass replays a tape)")


def _producers(graph):
    found = {}

    def walk(eqns):
        for e in eqns:
            for v in e.outs:
                found[v] = e
            for sub in (v for v in e.params.values() if isinstance(v, Graph)):
                walk(sub.eqns)
    walk(graph.eqns)
    return found


def forward(graph, wrt, dot_names, simplify=_simplify, results=None):
    """The JVP graph of `graph` for tangents of the parameters at indices `wrt`: parameters
    `graph.params + tangents` (named `dot_names`), results `graph.results` then the tangent of each
    of them (`results`: only of those indices). A tangent that is identically zero is made zeros
    shaped like its value; one that could be a tangent input itself or a view of one is copied."""
    wrt_params = [graph.params[i] for i in wrt]
    dot_params = [Var(name) for name in dot_names]
    walk = Tangents(dict(zip(wrt_params, dot_params)), simplify, _producers(graph))
    b = Builder(walk.run(graph.eqns), simplify=simplify)
    producers = {v: e for e in b.eqns for v in e.outs}
    tangents = []
    indices = range(len(graph.results)) if results is None else results
    for k in indices:
        r = graph.results[k]
        d = walk.dot(r)
        if d is None:
            d = b.emit("zero_like", [r], hint=Dot(r)) if isinstance(r, Var) else Const(0.0)
        elif d in dot_params or producers.get(d) is None or producers[d].prim not in _FRESH:
            d = b.emit("copy", [d], lib="np", hint=Dot(r))  # never the caller's own array
        tangents.append(d)
    return Graph(f"{graph.name}_jvp", list(graph.params) + dot_params, b.eqns,
                 list(graph.results) + tangents)


__all__ = ["forward", "Tangents"]
