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

from .buildlog import stage
from .errors import GradError, error_at
from .ir import Builder, Const, Dot, Eqn, Graph, Loop, ReverseLoop, Var, free_vars
from .passes import simplify as _simplify
from .rules import MissingTangent, jvp
from .reverse import activity

LOOPS = ("for", "while")


class Tangents:
    """One forward walk: `dots` maps each value that has a tangent to it (an atom)."""

    def __init__(self, dots, simplify, producers, tape_dots):
        self.dots = dots
        self.simplify = simplify
        self.producers = producers  # var -> its equation, in the whole graph
        self.tape_dots = tape_dots  # a gradient loop's tape -> the saved values pushed with tangents

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
            if not eqn.outs or not any(d is not None for d in dots):
                continue  # (an equation with no result is a check: its tangent is nothing)
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
            walk = Tangents(dict(self.dots), self.simplify, self.producers, self.tape_dots)
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

    def reached_slots(self, eqns, carried, inits, nexts, extra=()):
        """The carried values a tangent reaches (from outside, from `extra` values, or from the
        previous iteration), to a fixed point."""
        slots = set()
        while True:
            before = len(slots)
            seeds = set(self.dots) | set(extra) | {carried[k] for k in slots}
            reached = activity(eqns, seeds)
            slots |= {k for k in range(len(carried))
                      if self.dot(inits[k]) is not None
                      or isinstance(nexts[k], Var) and nexts[k] in reached}
            if len(slots) == before:
                return sorted(slots)

    def body_walk(self, eqns, params, slots, extra_dots=None):
        """The body walked with tangents for the carried values in `slots` (new parameters)."""
        dot_params = [Var(Dot(params[k])) for k in slots]
        dots = {**self.dots, **dict(zip((params[k] for k in slots), dot_params)),
                **(extra_dots or {})}
        walk = Tangents(dots, self.simplify, self.producers, self.tape_dots)
        return walk, Builder(walk.run(eqns), simplify=self.simplify), dot_params

    def dot_or_zero(self, b, walk, atom):
        d = walk.dot(atom)
        return d if d is not None else b.emit("zero_like", [atom])

    def dot_inits(self, outer, inits, slots, zero_const=False):
        found = []
        for k in slots:
            d = self.dot(inits[k])
            if d is None:
                init = inits[k]
                producer = self.producers.get(init)
                d = (Const(0.0) if zero_const else
                     outer.emit("list_new", [], unshared=True) if producer is not None
                     and producer.prim == "list_new" else outer.emit("zero_like", [init]))
            found.append(d)
        return found

    def loop(self, eqn):
        loop = Loop(eqn)
        body = loop.body
        slots = self.reached_slots(body.eqns, loop.carried, loop.inits, loop.next)
        save = loop.save
        if not slots and not (save and any(a in activity(body.eqns, set(self.dots))
                                           for a in save)):
            return [eqn]
        walk, b, dot_params = self.body_walk(body.eqns, loop.carried, slots)
        dot_next = [self.dot_or_zero(b, walk, loop.next[k]) for k in slots]
        index = list(body.params[:len(body.params) - loop.ncarried])
        new_body = Graph(body.name, index + loop.carried + dot_params, b.eqns,
                         list(loop.next) + dot_next + [loop.stop])
        params = {**eqn.params, "body": new_body}
        if loop.test is not None:
            params["test"] = Graph(loop.test.name, list(loop.test.params) + dot_params,
                                   loop.test.eqns, loop.test.results)
        outs = loop.outs + [Var(Dot(loop.outs[k])) for k in slots]
        if save is not None:
            # a gradient's forward loop: the tangents of the values it pushes go on its tape too
            # (its reverse loop pops them beside the values: reverse_loop)
            pushed = [k for k, v in enumerate(save) if walk.dot(v) is not None]
            self.tape_dots[loop.tape] = pushed
            self.tape_dots[("save", loop.tape)] = tuple(save)
            params["save"] = tuple(save) + tuple(walk.dot(save[k]) for k in pushed)
            outs.append(loop.tape)
        outer = Builder(simplify=self.simplify)
        inits = self.dot_inits(outer, loop.inits, slots)
        for k, v in zip(slots, outs[loop.ncarried:]):
            self.dots[loop.outs[k]] = v
        return outer.eqns + [Eqn(eqn.prim, list(eqn.ins) + inits, outs, params, eqn.loc)]

    def reverse_loop(self, eqn):
        """A gradient's reverse loop: the values it pops come with the tangents its forward loop
        pushed; its carried adjoints carry tangents, the accumulated ones (the last carried values,
        as specialize.accumulate_in_place reads them) accumulate tangents, last again."""
        rl = ReverseLoop(eqn)
        body = rl.body
        pushed = self.tape_dots.get(rl.tape, [])
        # an inner loop's tape, saved by the outer loop, is popped under another name
        for v, popped in zip(self.tape_dots.get(("save", rl.tape), ()), rl.saved):
            if v in self.tape_dots:
                self.tape_dots[popped] = self.tape_dots[v]
            if ("save", v) in self.tape_dots:
                self.tape_dots[("save", popped)] = self.tape_dots[("save", v)]
        saved_dots = [Var(Dot(rl.saved[k])) for k in pushed]
        extra = dict(zip((rl.saved[k] for k in pushed), saved_dots))
        inner_tapes = [p for p in rl.saved if self.tape_dots.get(p)]  # they pop tangents too
        slots = self.reached_slots(body.eqns, rl.carried, rl.inits, rl.next,
                                   list(extra) + inner_tapes)
        if not slots and not pushed:
            return [eqn]
        nacc = len(rl.accumulates)
        nplain = len(rl.carried) - nacc
        plain = [k for k in slots if k < nplain]
        accs = [k for k in slots if k >= nplain]
        walk, b, dot_params = self.body_walk(body.eqns, rl.carried, slots, extra)
        plain_dots, acc_dots = dot_params[:len(plain)], dot_params[len(plain):]
        dot_next = {k: self.dot_or_zero(b, walk, rl.next[k]) for k in slots}
        new_body = Graph(body.name,
                         rl.saved + saved_dots + rl.carried[:nplain] + plain_dots
                         + rl.carried[nplain:] + acc_dots, b.eqns,
                         rl.next[:nplain] + [dot_next[k] for k in plain]
                         + rl.next[nplain:] + [dot_next[k] for k in accs])
        outer = Builder(simplify=self.simplify)
        plain_inits = self.dot_inits(outer, rl.inits, plain)
        acc_inits = self.dot_inits(outer, rl.inits, accs, zero_const=True)
        dot_outs = {k: Var(Dot(rl.outs[k])) for k in slots}
        for k, v in dot_outs.items():
            self.dots[rl.outs[k]] = v
        ins = [rl.tape] + rl.inits[:nplain] + plain_inits + rl.inits[nplain:] + acc_inits
        outs = rl.outs[:nplain] + [dot_outs[k] for k in plain] + rl.outs[nplain:] + \
            [dot_outs[k] for k in accs]
        params = {**eqn.params, "body": new_body, "nsave": len(rl.saved) + len(saved_dots),
                  "accumulates": tuple(rl.accumulates) + tuple(rl.accumulates[k - nplain]
                                                               for k in accs)}
        return outer.eqns + [Eqn("loop_reverse", ins, outs, params, eqn.loc)]


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


@stage("differentiate")
def forward(graph, wrt, dot_names, simplify=_simplify, results=None):
    """The JVP graph of `graph` for tangents of the parameters at indices `wrt`: parameters
    `graph.params + tangents` (named `dot_names`), results `graph.results` then the tangent of each
    of them (`results`: only of those indices). A tangent that is identically zero is made zeros
    shaped like its value; one that could be a tangent input itself or a view of one is copied."""
    wrt_params = [graph.params[i] for i in wrt]
    dot_params = [Var(name) for name in dot_names]
    walk = Tangents(dict(zip(wrt_params, dot_params)), simplify, _producers(graph), {})
    b = Builder(walk.run(graph.eqns), simplify=simplify)
    producers = {v: e for e in b.eqns for v in e.outs}
    tangents = []
    indices = range(len(graph.results)) if results is None else results
    for k in indices:
        r = graph.results[k]
        d = walk.dot(r)
        if d is None:
            d = b.emit("zero_like", [r], hint=Dot(r)) if isinstance(r, Var) else Const(0.0)
        elif d in dot_params:  # never the caller's own array (views are copied later)
            d = b.emit("fresh", [d], hint=Dot(r))
        tangents.append(d)
    return Graph(f"{graph.name}_jvp", list(graph.params) + dot_params, b.eqns,
                 list(graph.results) + tangents)


__all__ = ["forward", "Tangents"]
