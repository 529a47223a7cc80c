"""Optimisation passes, each a small function Graph -> Graph, run together to a fixed point.

- `simplify` answers one equation with an existing atom where algebra allows (x * 1, x + 0, x ** 1,
  constants folded, `select` on a known condition); the Builder calls it as equations are made.
- `rebuild` re-emits every equation through `simplify` and shares common subexpressions.
- `eliminate_dead_code` drops equations whose results nothing reads.
No pass changes what a graph computes on finite inputs; tests run every pass against a reference
evaluator (tests/compiler/reference_eval.py). `x * 0` is not folded: with x = inf or nan, IEEE arithmetic gives nan.
"""
from __future__ import annotations

import numbers

import numpy as np

from .buildlog import stage
from .ir import (Builder, Const, Graph, Loop, ReverseLoop, Var, free_vars, is_const, loop_view,
                 regions, rename_var_params, use_counts)
from .primitives import PRIMS, having

_FOLDABLE_TYPES = (bool, int, float)


class ComplexConstant(ValueError):
    """Constants that make a complex number ((-0.5) ** 0.5): refused where the code computes them."""


def simplify(prim, ins, params):
    """An existing atom equal to `prim(*ins)`, or None if the equation must be kept."""
    if prim in ("written_grad", "cleared") and is_const(ins[0], 0):
        return Const(0.0)  # a zero adjoint read or cleared anywhere is zero
    if ins and isinstance(ins[0], Const) and all(isinstance(a, Const) for a in ins) \
            and prim in PRIMS and not PRIMS[prim].unshared \
            and not any(isinstance(v, Graph) for v in params.values()):
        try:
            with np.errstate(all="raise"):
                value = PRIMS[prim].evaluate(params.get("lib"), [a.value for a in ins], params)
        except Exception:
            return None  # leave it to run (and fail, or warn) exactly where the user's code would
        if isinstance(value, (complex, np.complexfloating)):
            raise ComplexConstant(f"{prim} of the constants "
                                  f"{', '.join(repr(a.value) for a in ins)} is the complex number "
                                  f"{value!r}: complex numbers are not supported.")
        if type(value) in _FOLDABLE_TYPES or isinstance(value, np.floating):
            if isinstance(value, np.floating):
                value = float(value)
            return Const(value)
        return None
    if prim == "add":
        x, y = ins
        if is_const(y, 0):
            return x
        if is_const(x, 0):
            return y
    elif prim == "sub":
        if is_const(ins[1], 0):
            return ins[0]
    elif prim == "mul":
        x, y = ins
        if is_const(y, 1):
            return x
        if is_const(x, 1):
            return y
        if is_const(x, -1):
            return ("neg", (y,))
        if is_const(y, -1):
            return ("neg", (x,))
    elif prim == "div":
        if is_const(ins[1], 1):
            return ins[0]
    elif prim == "pow":
        if is_const(ins[1], 1) and params.get("lib") is None:
            return ins[0]
    elif prim == "select" and params.get("lib") != "np":  # np.where broadcasts: keep it
        c, a, b = ins
        if isinstance(c, Const) and isinstance(c.value, (bool, numbers.Number)):
            return a if c.value else b
        if a is b:
            return a
    return None




# Each equation of these makes a new mutable object (a list the generated code appends to):
# two of them are never one value, though their inputs are the same. So is an equation marked
# `_owned` (a buffer the generated code accumulates into).
_UNSHARED = having("unshared")


def _key(eqn, ins):
    params = tuple(sorted((k, v) for k, v in eqn.params.items() if not k.startswith("_"))) \
        if eqn.params else ()
    return (eqn.prim, tuple([a if isinstance(a, Var) else ("const", type(a.value), a.value)
                             for a in ins]), params)


class Round:
    """What one round of `optimize` did that a further round could build on: how many branches it
    inlined, the CSE key of each equation rebuild kept (`seen`, the graph's own, not its regions'),
    and the equations the absorption rewrote or renamed (`touched`, among its output)."""

    __slots__ = ("inlined", "seen", "touched")

    def __init__(self):
        self.inlined = 0
        self.seen = {}
        self.touched = set()


def _cse_kind(eqn):
    """Whether rebuild may share this equation with an equal one (CSE)."""
    return not (len(eqn.outs) != 1 or eqn.params.get("_effect") or eqn.params.get("_owned")
                or eqn.prim in _UNSHARED)


def rebuild(graph, outer=None, round_=None):
    """Re-emit each equation with its inputs renamed, folded and shared (CSE); returns a new graph
    and the renaming. Regions are rebuilt with the enclosing renaming, and share nothing outwards.
    `round_` (a Round) learns the keys of the equations kept and the branches inlined."""
    subst = dict(outer) if outer else {}
    get = subst.get

    def look(atom):
        return get(atom, atom) if isinstance(atom, Var) else atom

    seen = {} if round_ is None else round_.seen
    b = Builder(simplify=simplify)
    for eqn in graph.eqns:
        ins = tuple([get(a, a) if isinstance(a, Var) else a for a in eqn.ins])
        params = eqn.params
        if eqn.prim == "cond" and isinstance(ins[0], Const):  # a known test: its branch, inline
            chosen, _ = rebuild(eqn.params["then" if ins[0].value else "else"], subst)
            b.eqns.extend(chosen.eqns)
            if round_ is not None:
                round_.inlined += 1
            subst.update(zip(eqn.outs, chosen.results))
            continue
        if params and regions(eqn):
            b.eqns.append(rebuild_region_eqn(eqn, ins, subst))
            continue
        if len(eqn.outs) != 1 or params and (params.get("_effect") or params.get("_owned")) \
                or eqn.prim in _UNSHARED:  # (as _cse_kind says, spelled out: this loop is hot)
            b.eqns.append(type(eqn)(eqn.prim, ins, eqn.outs, params, eqn.loc))
            continue
        found = simplify(eqn.prim, ins, params)
        if isinstance(found, tuple):
            eqn = type(eqn)(found[0], found[1], eqn.outs, {}, eqn.loc)
            ins = eqn.ins
            found = None
        if found is None:
            try:
                key = _key(eqn, ins)
                found = seen.get(key)
            except TypeError:
                key = None
            if found is None:
                b.eqns.append(type(eqn)(eqn.prim, ins, eqn.outs, eqn.params, eqn.loc))
                if key is not None:
                    seen[key] = eqn.out
                continue
        subst[eqn.out] = found
        if isinstance(found, Var) and not found.hint and isinstance(eqn.out.hint, str) \
                and eqn.out.hint:
            found.hint = eqn.out.hint  # keep the more readable name
    results = [look(a) for a in graph.results]
    return Graph(graph.name, graph.params, b.eqns, results), subst


def _invariant_carries(eqn, ins):
    """Loop-carried values that start as a constant and never change: the constant itself."""
    loop = loop_view(eqn)
    if loop is None:
        return {}
    inits = ins[len(ins) - len(loop.inits):]  # the equation's inputs, renamed
    return {p: init for p, r, init in zip(loop.carried, loop.next, inits)
            if r is p and isinstance(init, Const)}


def rebuild_region_eqn(eqn, ins, subst):
    """A region equation with its regions rebuilt under `subst`; a loop's saved values follow
    the renaming inside its body (its reverse loop keeps its own names for them)."""
    params = dict(eqn.params)
    inner = {}
    for key, sub in eqn.params.items():
        if isinstance(sub, Graph):
            params[key], inner[key] = rebuild(sub, {**subst, **_invariant_carries(eqn, ins)})
    body_subst = inner.get("body", {})
    params = rename_var_params(params, outer=lambda v: subst.get(v, v),
                               inner=lambda v: body_subst.get(v, v))
    return type(eqn)(eqn.prim, ins, eqn.outs, params, eqn.loc)


def absorb_negations(graph, round_=None):
    """Fold negations into the sums that consume them: a + (-c) -> a - c, -(-c) -> c, and move a
    negation out of a product or quotient (-c * b -> -(c * b)) so the next sum can absorb it.
    Negation is exact in IEEE arithmetic, so every rewrite gives bit-identical results.
    `round_` (a Round) learns which of the graph's equations were rewritten or renamed."""
    return _absorb(graph, {}, round_)[0]


def _absorption(prim, ins, negated, uses):
    """Which rewrite `_absorb` makes of `prim(*ins)` (one output), or None."""
    if prim == "neg":
        return "cancel" if ins[0] in negated else None
    if prim == "add":
        return "add" if ins[1] in negated or ins[0] in negated else None
    if prim == "sub":
        return "sub" if ins[1] in negated else None
    if prim in ("mul", "div") and ins[0] in negated and uses.get(ins[0]) == 1:
        return "first"
    if prim in ("sum", "mean") and ins[0] in negated and uses.get(ins[0]) == 1:
        return "reduce"
    if prim == "mul" and ins[1] in negated and uses.get(ins[1]) == 1:
        return "second"
    return None


def _absorb(graph, outer, round_=None):
    uses = use_counts(graph)
    negated = {}  # var -> c, for var = neg c
    subst = dict(outer)  # values removed (-(-c) is c): regions read the replacement too
    out = []

    def look(atom):
        return subst.get(atom, atom) if isinstance(atom, Var) else atom

    for eqn in graph.eqns:
        ins = tuple([look(a) for a in eqn.ins])
        prim = eqn.prim
        new = None
        lib = {"lib": eqn.params["lib"]} if "lib" in eqn.params else {}
        if regions(eqn):
            params = dict(eqn.params)
            inner = {}
            for key, sub in eqn.params.items():
                if isinstance(sub, Graph):
                    params[key], inner[key] = _absorb(sub, subst)
            body_subst = inner.get("body", {})
            params = rename_var_params(params, outer=look, inner=lambda v: body_subst.get(v, v))
            out.append(type(eqn)(prim, ins, eqn.outs, params, eqn.loc))
            continue
        rewrite = _absorption(prim, ins, negated, uses) if len(eqn.outs) == 1 else None
        if rewrite == "cancel":
            subst[eqn.out] = negated[ins[0]]
            continue
        if rewrite == "add" and ins[1] in negated:
            new = ("sub", (ins[0], negated[ins[1]]))
        elif rewrite == "add":
            new = ("sub", (ins[1], negated[ins[0]]))
        elif rewrite == "sub":
            new = ("add", (ins[0], negated[ins[1]]))
        elif rewrite == "first":
            inner = Var()
            out.append(type(eqn)(prim, (negated[ins[0]], ins[1]), (inner,), lib, eqn.loc))
            new = ("neg", (inner,))
        elif rewrite == "reduce":
            inner = Var()  # sum(-x) is -sum(x): negate the (smaller) result instead
            out.append(type(eqn)(prim, (negated[ins[0]],), (inner,), eqn.params, eqn.loc))
            new = ("neg", (inner,))
        elif rewrite == "second":
            inner = Var()
            out.append(type(eqn)(prim, (ins[0], negated[ins[1]]), (inner,), lib, eqn.loc))
            new = ("neg", (inner,))
        if round_ is not None and rewrite in ("first", "reduce", "second"):
            round_.touched.add(out[-1])  # the product or sum the negation moved out of
        renamed = new is not None or ins != eqn.ins
        if new is not None:  # NumPy's semantics stay NumPy's (1/0 is inf there, not an error)
            eqn = type(eqn)(new[0], new[1], eqn.outs, lib, eqn.loc)
        else:
            eqn = type(eqn)(eqn.prim, ins, eqn.outs, eqn.params, eqn.loc)
        if round_ is not None and renamed:
            round_.touched.add(eqn)
        if eqn.prim == "neg" and isinstance(eqn.ins[0], Var):
            negated[eqn.out] = eqn.ins[0]
        out.append(eqn)
    return Graph(graph.name, graph.params, out, [look(a) for a in graph.results]), subst


_RAISES = having("raises")  # np.linalg.cholesky of an indefinite matrix, a call with no rule


def eliminate_dead_code(graph, extra_live=()):
    """Drop equations nothing reads; inside regions too, and `cond` outputs nothing reads. A call
    of a `math` function (or of one with the `raises` fact: np.linalg.cholesky, a call with no rule)
    is kept though nothing reads it: it may raise (math.log(-1.0)), and the
    gradient must fail where the function does, not return a number for a point where the
    function has no value."""
    read_parts = set()
    if any(_parts(e) for e in graph.eqns):
        # one part of a tuple-returning call read (slogdet's logdet) raises where its unread
        # sibling would: the sibling need not be kept for that (a first sweep finds the read ones)
        first = _sweep(graph, extra_live, set(), keep_raising_parts=False)
        read_parts = {(e.prim, e.ins) for e in first.eqns if _parts(e)}
    return _sweep(graph, extra_live, read_parts, keep_raising_parts=True)


def _parts(eqn):
    prim = PRIMS.get(eqn.prim)  # (regions such as cond and loop are not primitives)
    return prim is not None and prim.parts


def _sweep(graph, extra_live, read_parts, keep_raising_parts):
    live = {a for a in graph.results if isinstance(a, Var)} | set(extra_live)
    kept = []
    for eqn in reversed(graph.eqns):
        params = eqn.params
        if live.isdisjoint(eqn.outs) and not (
                params and (params.get("_effect") or params.get("lib") == "math")
                or eqn.prim in _RAISES and (eqn.prim, eqn.ins) not in read_parts
                and (keep_raising_parts or not _parts(eqn))):
            continue
        if params and regions(eqn):
            eqn = _prune_region_eqn(eqn, live)
            for sub in regions(eqn):
                live.update(free_vars(sub))
        kept.append(eqn)
        live.update([a for a in eqn.ins if isinstance(a, Var)])
    kept.reverse()
    return Graph(graph.name, graph.params, kept, graph.results)


def _prune_loop_slots(eqn, live):
    """A loop-carried value that nothing after the loop reads, and that no other carried value,
    the stop flag or the test needs, is dropped with everything that computes it."""
    loop = Loop(eqn)
    body = loop.body
    ncarried = loop.ncarried
    nindex = len(body.params) - ncarried
    params = loop.carried
    keep = {k for k in range(ncarried) if loop.outs[k] in live}
    test = loop.test
    while True:
        wanted = [loop.next[k] for k in sorted(keep)] + [loop.stop]
        pruned = eliminate_dead_code(Graph(body.name, body.params, body.eqns, wanted))
        used = set(free_vars(Graph("", [], pruned.eqns, wanted)))
        if test is not None:
            used |= set(free_vars(Graph("", [], test.eqns, test.results)))
        grown = keep | {k for k, p in enumerate(params) if p in used}
        if grown == keep:
            break
        keep = grown
    if len(keep) == ncarried:
        return eqn
    kept = sorted(keep)
    new_params = body.params[:nindex] + [params[k] for k in kept]
    new_body = Graph(body.name, new_params, body.eqns, [loop.next[k] for k in kept] + [loop.stop])
    regions_ = {"body": new_body}
    if test is not None:
        regions_["test"] = Graph(test.name, [params[k] for k in kept], test.eqns, test.results)
    ins = loop.bounds + [loop.inits[k] for k in kept]
    return type(eqn)(eqn.prim, ins, [loop.outs[k] for k in kept], {**eqn.params, **regions_},
                     eqn.loc)


def _prune_region_eqn(eqn, live):
    if eqn.prim in ("for", "while") and "save" not in eqn.params:
        eqn = _prune_loop_slots(eqn, live)
    params = dict(eqn.params)
    outs = list(eqn.outs)
    if eqn.prim == "cond":
        keep = [k for k, v in enumerate(outs) if v in live]
        outs = [outs[k] for k in keep]
        for key in ("then", "else"):
            sub = params[key]
            params[key] = Graph(sub.name, sub.params, sub.eqns, [sub.results[k] for k in keep])
    for key, sub in eqn.params.items():
        if isinstance(sub, Graph):
            extra = params.get("save", ()) if key == "body" else ()
            params[key] = eliminate_dead_code(params[key], extra)
    return type(eqn)(eqn.prim, eqn.ins, outs, params, eqn.loc)


@stage("optimise")
def optimize(graph, max_rounds=10):
    """Fold, share and prune until nothing changes (or `max_rounds` rounds have run).

    A round (rebuild, absorb negations, prune) that leaves the graph's size as it was ends the
    loop. So does one after which another round would change nothing (`_settled`): asking that
    costs a fraction of running the round only to see it do nothing, which was the usual last
    round."""
    before = _size(graph)
    for _ in range(max_rounds):
        round_ = Round()
        graph = eliminate_dead_code(absorb_negations(rebuild(graph, round_=round_)[0], round_))
        after = _size(graph)
        if after == before or _settled(graph, round_):
            break
        before = after
    return graph


def _settled(graph, round_):
    """Whether another round would leave `graph` (the output of `round_`) exactly as it is.

    Rebuild output has no two equations alike and none it can fold, so a second rebuild can only
    act on what came after it: branches it inlined (shared with nothing yet) and the equations the
    absorption rewrote or renamed, which may now fold or equal another. The absorption acts on the
    graph as it finds it: a negation it can absorb now (pruning and its own rewrites change how
    often a negation is read). Pruning a pruned graph changes nothing. Graphs with regions (loops,
    branches) are left to the next round to tell."""
    if round_.inlined:
        return False
    keys = round_.seen
    mine = set()
    negated = {}
    for eqn in graph.eqns:
        if eqn.params and regions(eqn):
            return False
        if eqn in round_.touched and _cse_kind(eqn):
            try:
                if simplify(eqn.prim, eqn.ins, eqn.params) is not None:
                    return False
            except Exception:
                return False  # (a complex constant): the round says so, where it always has
            try:
                key = _key(eqn, eqn.ins)
            except TypeError:
                key = None  # an unhashable parameter: rebuild does not share it either
            if key is not None and (key in mine or key in keys):
                return False
            mine.add(key)
        if eqn.prim == "neg" and isinstance(eqn.ins[0], Var):
            negated[eqn.out] = eqn.ins[0]
    if negated:
        uses = use_counts(graph)
        for eqn in graph.eqns:
            if len(eqn.outs) == 1 and _absorption(eqn.prim, eqn.ins, negated, uses) is not None:
                return False
    return True


def _size(graph):
    """Equations in a graph and its regions."""
    n = len(graph.eqns)
    for e in graph.eqns:
        if e.params:
            for sub in regions(e):
                n += _size(sub)
    return n


def prune_saves(graph):
    """Save on a loop's tape only what its reverse loop still reads (after other passes removed
    uses, e.g. an `unbroadcast` that only needed a shape)."""
    eqns = list(graph.eqns)
    tape_of = {}
    for i, eqn in enumerate(eqns):
        if eqn.prim in ("for", "while") and "save" in eqn.params:
            tape_of[Loop(eqn).tape] = i
    for j, eqn in enumerate(eqns):
        if regions(eqn):
            params = {k: prune_saves(v) if isinstance(v, Graph) else v for k, v in eqn.params.items()}
            eqn = eqns[j] = type(eqn)(eqn.prim, eqn.ins, eqn.outs, params, eqn.loc)
        if eqn.prim != "loop_reverse" or eqn.ins[0] not in tape_of:
            continue
        reverse_loop = ReverseLoop(eqn)
        body, saved, rest = reverse_loop.body, reverse_loop.saved, reverse_loop.carried
        used = set(free_vars(Graph("", rest, body.eqns, body.results)))
        positions = [k for k, v in enumerate(saved) if v in used]
        if len(positions) == len(saved):
            continue
        keep = [saved[k] for k in positions]
        i = tape_of[reverse_loop.tape]
        loop = eqns[i]
        pushed = Loop(loop).save  # the forward loop's names for the same values, in order
        eqns[i] = type(loop)(loop.prim, loop.ins, loop.outs,
                             {**loop.params, "save": tuple(pushed[k] for k in positions)}, loop.loc)
        new_body = Graph(body.name, keep + rest, body.eqns, body.results)
        eqns[j] = type(eqn)(eqn.prim, eqn.ins, eqn.outs,
                            {**eqn.params, "body": new_body, "nsave": len(keep)}, eqn.loc)
    return Graph(graph.name, graph.params, eqns, graph.results)
