"""Reverse-mode AD on the IR: a primal graph -> a graph returning the value and/or the gradients.

The forward equations are kept as they are (their values are reused, never recomputed), then the
adjoint equations follow, built by walking the forward equations in reverse:
- only values that depend on a `wrt` parameter get adjoints (activity analysis);
- each equation asks the rule table (rules.py) for its inputs' contributions, given its output's
  adjoint; a region equation (`cond`, `for`, `while`) is handled here, by differentiating its
  sub-graphs;
- a value used several times (a fork in the DAG) gets its contributions summed once, when its own
  defining equation is reached, so every adjoint is computed once and named after the user's value;
- a missing adjoint is an exact zero: no equation is made for it, and rules are skipped.

Control flow. `cond` becomes a `cond` on the same test whose branches are the adjoints of the
forward branches; values a forward branch computed and its adjoint reads are exported by the
forward `cond` (the other branch sets them to None). A loop is replayed backwards: the forward loop
pushes, at the end of each iteration, the values its adjoint body reads onto a tape (a Python list),
and a `loop_reverse` equation pops them, iteration by iteration, carrying the adjoints of the
loop-carried values backwards and accumulating those of the values the body closes over.
"""
from __future__ import annotations

from .buildlog import stage
from .passes import simplify as _simplify
from .ir import Builder, Const, Eqn, Graph, Loop, Var, free_vars, regions
from .errors import error_at
from .primitives import PRIMS
from .rules import BROADCASTING, rule_for, vjp

LOOPS = ("for", "while")


def _outs_defined(eqns):
    out = set()
    for e in eqns:
        out.update(e.outs)
    return out


def activity(eqns, active, flows=None):
    """Add to `active` every value that depends on one already in it, through regions too
    (`flows(eqn)`: only through the equations it accepts)."""
    for eqn in eqns:
        if eqn.prim == "cond":
            # the test only steers: it carries no gradient
            for key in ("then", "else"):
                activity(eqn.params[key].eqns, active, flows)
            for k, out in enumerate(eqn.outs):
                if any(isinstance(r, Var) and r in active
                       for r in (eqn.params["then"].results[k], eqn.params["else"].results[k])):
                    active.add(out)
        elif eqn.prim in LOOPS:
            loop = Loop(eqn)
            while True:  # loop-carried dependencies: iterate to a fixed point
                before = len(active)
                for p, init, r in zip(loop.carried, loop.inits, loop.next):
                    if (isinstance(init, Var) and init in active) or (isinstance(r, Var) and r in active):
                        active.add(p)
                activity(loop.body.eqns, active, flows)
                if len(active) == before:
                    break
            for out, r, p in zip(loop.outs, loop.next, loop.carried):
                if p in active or (isinstance(r, Var) and r in active):
                    active.add(out)
        elif any(isinstance(a, Var) and a in active for a in eqn.ins) and (flows is None or flows(eqn)):
            active.update(eqn.outs)
    return active


def check_calls(graph, wrt_params):
    """Refuse, at the user's line, a call with no rule (primitives.py's `call`) whose argument carries
    a gradient: its result would silently be a constant."""
    def flows(e):
        return PRIMS[e.prim].differentiable

    carrying = activity(graph.eqns, set(wrt_params), flows=flows)

    def walk(eqns):
        for eqn in eqns:
            for region in regions(eqn):
                walk(region.eqns)
            if eqn.prim != "call" or eqn.params.get("zero_gradient") or eqn.params.get("_effect"):
                continue  # (a call made for its effect: its result is thrown away)
            hit = [a for a in eqn.ins if isinstance(a, Var) and a in carrying]
            if hit:
                label = eqn.params.get("label", "this function")
                source = next((p for p in wrt_params
                               if any(a in activity(graph.eqns, {p}, flows=flows) for a in hit)),
                              wrt_params[0])
                where = eqn.params.get("_where") or (eqn.loc[0] if eqn.loc else None)
                raise error_at(where,
                               f"{label} has no derivative rule, and an argument of it here depends "
                               f"on `{source.hint}`, which is differentiated, so its gradient cannot "
                               "be left out. Pass wrt= without it if it is data; otherwise write the "
                               "computation with supported functions (see the README's list), wrap a "
                               "Python implementation in a `def` of your own, or register a rule: "
                               f"compiler.register({label.split('.')[-1]}, vjp) with vjp(g, out, *args) "
                               "returning each argument's gradient.")

    walk(graph.eqns)


class Backprop:
    """One reverse walk over a list of equations, with the adjoint equations going to `b`."""

    def __init__(self, active, simplify):
        self.active = active
        self.simplify = simplify

    def run(self, eqns, seeds, loc_default=None):
        """Returns (forward equations, possibly with exports and tapes added; adjoint equations;
        pending contributions to values not defined in `eqns`)."""
        b = Builder(loc=loc_default, simplify=self.simplify)
        forward = list(eqns)
        pending = {k: list(v) for k, v in seeds.items()}
        defined = _outs_defined(eqns)

        def adjoint_of(var):
            return self.sum_pending(b, pending, var, defined)

        for index in range(len(eqns) - 1, -1, -1):
            eqn = eqns[index]
            if not any(v in pending for v in eqn.outs):
                continue
            b.loc = (eqn.loc[0], "adjoint") if eqn.loc else loc_default
            if eqn.prim == "cond":
                gs = [adjoint_of(v) for v in eqn.outs]
                forward[index], parts = self.cond(b, eqn, gs)
            elif eqn.prim in LOOPS:
                gs = [adjoint_of(v) for v in eqn.outs]
                forward[index], parts = self.loop(b, eqn, gs)
            else:
                rule_for(eqn.prim)  # a clear error for a primitive without a rule
                g = adjoint_of(eqn.out)
                if g is None:
                    continue
                wanted = [isinstance(a, Var) and a in self.active for a in eqn.ins]
                parts = [(inp, part) for inp, part in zip(eqn.ins, vjp(b, eqn, g, wanted))
                         if part is not None]
                if eqn.prim in BROADCASTING:
                    parts = [(inp, b.emit("unbroadcast", [part, inp])) for inp, part in parts]
            for inp, part in parts:
                if isinstance(inp, Var) and inp in self.active:
                    pending.setdefault(inp, []).append(part)
        return forward, b, pending

    def sum_pending(self, b, pending, var, defined):
        """The adjoint of `var`: its contributions summed once (None when there are none), named
        after it (`dq` for `q`) unless it is a value the forward pass defined."""
        parts = pending.pop(var, None)
        if not parts:
            return None
        total = parts[0]
        for part in parts[1:]:
            total = b.emit("add", [total, part])
        if isinstance(total, Var) and total not in defined and not total.hint:
            total.hint = var
        return total

    # -- if / else --

    def cond(self, b, eqn, gs):
        test = eqn.ins[0]
        branches = {}
        for key in ("then", "else"):
            region = eqn.params[key]
            seeds = {}
            for r, g in zip(region.results, gs):
                if g is not None and isinstance(r, Var) and r in self.active:
                    seeds.setdefault(r, []).append(g)
            fwd, ab, pending = Backprop(self.active, self.simplify).run(region.eqns, seeds, b.loc)
            branches[key] = (region, fwd, ab, pending)
        targets = []
        for key in ("then", "else"):
            for var in branches[key][3]:
                if var not in targets:
                    targets.append(var)
        forward_regions, adjoint_regions, exports = {}, {}, []
        for key in ("then", "else"):
            region, fwd, ab, pending = branches[key]
            defined = _outs_defined(fwd)
            results = []
            for var in targets:
                total = self.sum_pending(ab, pending, var, defined)
                # no contribution on this path: a zero shaped like the value (0.0 for a float)
                results.append(ab.emit("zero_like", [var]) if total is None else total)
            adjoint = Graph(f"{key}_adjoint", [], ab.eqns, results)
            adjoint_regions[key] = adjoint
            forward_regions[key] = fwd
            # forward values of this branch that its adjoint reads: exported by the forward cond
            for v in free_vars(adjoint):
                if v in defined and v not in exports:
                    exports.append(v)
        outs = list(eqn.outs)
        new_regions = {}
        for key in ("then", "else"):
            region = eqn.params[key]
            defined = _outs_defined(forward_regions[key])
            results = list(region.results) + [v if v in defined else Const(None) for v in exports]
            new_regions[key] = Graph(region.name, region.params, forward_regions[key], results)
        forward = Eqn("cond", eqn.ins, outs + exports, {**eqn.params, **new_regions}, eqn.loc)
        if not targets:
            return forward, []
        adjoint_outs = [Var(t) for t in targets]
        b.eqns.append(Eqn("cond", [test], adjoint_outs,
                          {"then": adjoint_regions["then"], "else": adjoint_regions["else"]}, b.loc))
        return forward, list(zip(targets, adjoint_outs))

    # -- loops --

    def loop(self, b, eqn, gs):
        loop = Loop(eqn)
        body = loop.body
        ncarried = loop.ncarried
        inits = loop.inits
        params = loop.carried
        slots = [k for k, p in enumerate(params) if p in self.active]
        if not slots:
            return eqn, []
        # The adjoint body: adjoints of this iteration's results in, of its parameters out.
        carries = [Var(params[k]) for k in slots]
        seeds = {}
        for k, ga in zip(slots, carries):
            r = loop.next[k]
            if isinstance(r, Var) and r in self.active:
                seeds.setdefault(r, []).append(ga)
        fwd, ab, pending = Backprop(self.active, self.simplify).run(body.eqns, seeds, b.loc)
        defined = _outs_defined(fwd) | set(body.params)
        new_carries = []
        for k in slots:
            total = self.sum_pending(ab, pending, params[k], defined)
            new_carries.append(ab.emit("zero_like", [params[k]]) if total is None else total)
        closed_over = [v for v in pending if v not in defined]
        accumulators, new_accumulators = [], []
        for v in closed_over:
            acc = Var(v)
            total = self.sum_pending(ab, pending, v, defined)
            accumulators.append(acc)
            new_accumulators.append(ab.emit("add", [acc, total], hint=v) if total is not None else acc)
        adjoint_body = Graph("body_adjoint", [], ab.eqns, new_carries + new_accumulators)
        saved = [v for v in free_vars(adjoint_body) if v in defined]
        # A carried value the adjoint reads both before and after an iteration (h and its new
        # value) is saved once: the new value of iteration k is the old value of iteration k + 1,
        # popped just before, so the reverse loop rotates it instead of saving it again.
        rotations = []
        for k in range(ncarried):
            p, r = params[k], loop.next[k]
            if p in saved and isinstance(r, Var) and r in saved and r not in body.params \
                    and loop.next.count(r) == 1:
                saved.remove(r)
                rotations.append((r, loop.outs[k], p))
        adjoint_body.params = saved + carries + [r for r, _, _ in rotations] + accumulators
        adjoint_body.results = new_carries + [p for _, _, p in rotations] + new_accumulators
        # The forward loop, now also recording what the adjoint reads.
        tape = Var("tape")
        forward = Eqn(eqn.prim, eqn.ins, list(eqn.outs) + [tape],
                      {**eqn.params, "body": Graph(body.name, body.params, fwd, body.results),
                       "save": tuple(saved)}, eqn.loc)
        ins = [tape] + [gs[k] if gs[k] is not None else b.emit("zero_like", [loop.outs[k]])
                        for k in slots] \
            + [out for _, out, _ in rotations] + [Const(0.0)] * len(accumulators)
        outs = [Var(inits[k] if isinstance(inits[k], Var) else "") for k in slots] \
            + [Var() for _ in rotations] + [Var(v) for v in closed_over]
        b.eqns.append(Eqn("loop_reverse", ins, outs,
                          {"body": adjoint_body, "nsave": len(saved),
                           "accumulates": tuple(closed_over)}, b.loc))
        parts = [(inits[k], out) for k, out in zip(slots, outs)]
        parts += list(zip(closed_over, outs[len(slots) + len(rotations):]))
        return forward, parts


@stage("differentiate")
def reverse(graph, wrt, with_value, simplify=_simplify, seed=None):
    """The gradient graph of a single-result `graph` with respect to parameters at indices `wrt`,
    built through `simplify` (None: every adjoint equation as the rules write it).

    Its results are `[value] + grads` when `with_value`, else `grads`, then the graph's other
    results (has_aux's values) as they are; a gradient that is identically zero is the constant 0.0.
    `seed`: a Var per result holding its adjoint (a vector-Jacobian product of any structure of
    outputs: the graph takes them as its last parameters, and returns every result as its value);
    without it the one result is a number and its adjoint 1.0.
    """
    result, *extra = graph.results  # extra: forward values returned as they are (has_aux)
    wrt_params = [graph.params[i] for i in wrt]
    check_calls(graph, wrt_params)
    active = activity(graph.eqns, set(wrt_params))
    if seed is None:  # the result's adjoint is 1.0
        pairs = [(result, Const(1.0))]
    else:  # a list of Vars: the adjoint of each result (a vjp: any structure of outputs)
        pairs = list(zip(graph.results, seed))
        extra = graph.results[len(seed):]
    seeds = {}
    for r, start in pairs:
        if isinstance(r, Var) and r in active:
            seeds.setdefault(r, []).append(start)
    walk = Backprop(active, simplify)
    forward, b, pending = walk.run(graph.eqns, seeds)
    b.loc = None
    grads = []
    defined = _outs_defined(forward)
    for p in wrt_params:
        g = walk.sum_pending(b, pending, p, defined)
        if g is None:
            g = Const(0.0)
        grads.append(g)
        pending[p] = [g]  # the same parameter may be named twice in wrt
    values = [result] if seed is None else list(graph.results[:len(seed)])
    results = (values if with_value else []) + grads + extra
    params = list(graph.params) + (list(seed) if seed is not None else [])
    return Graph(f"{graph.name}_{'vjp' if seed is not None else 'grad'}", params,
                 forward + b.eqns, results)


__all__ = ["reverse", "activity", "regions"]
