"""Reverse-mode AD on the IR: a primal graph -> a graph returning the value and/or the gradients.

The forward equations are kept as they are (their values are reused, never recomputed), then the
adjoint equations follow, built by walking the forward equations in reverse:
- only equations on a path from a `wrt` parameter to the result are visited (activity analysis);
- each one asks the rule table (rules.py) for its inputs' contributions, given its output's adjoint;
- a value used several times (a fork in the DAG) gets its contributions summed once, when its own
  defining equation is reached, so every adjoint is computed once and named after the user's value;
- a missing adjoint is an exact zero: no equation is made for it, and rules are skipped.
"""
from __future__ import annotations

from .ir import Builder, Const, Graph, Var
from .rules import rule_for, vjp


def active_vars(graph, wrt_params):
    """Variables whose value depends on a parameter we differentiate with respect to."""
    active = set(wrt_params)
    for eqn in graph.eqns:
        if any(isinstance(a, Var) and a in active for a in eqn.ins):
            active.update(eqn.outs)
    return active


def useful_vars(graph, active):
    """Active variables the result depends on: the only ones worth an adjoint."""
    needed = {a for a in graph.results if isinstance(a, Var) and a in active}
    for eqn in reversed(graph.eqns):
        if any(v in needed for v in eqn.outs):
            needed.update(a for a in eqn.ins if isinstance(a, Var) and a in active)
    return needed


def reverse(graph, wrt, with_value):
    """The gradient graph of a single-result `graph` with respect to parameters at indices `wrt`.

    Its results are `[value] + grads` when `with_value`, else `grads`; a gradient that is
    identically zero is the constant 0.0.
    """
    (result,) = graph.results
    wrt_params = [graph.params[i] for i in wrt]
    active = active_vars(graph, wrt_params)
    needed = useful_vars(graph, active)
    b = Builder(list(graph.eqns))
    forward = set(graph.params).union(*(e.outs for e in graph.eqns))
    pending = {}  # var -> contributions to its adjoint, summed when the var's definition is reached

    def adjoint_of(var):
        parts = pending.pop(var, None)
        if not parts:
            return None
        total = parts[0]
        for part in parts[1:]:
            total = b.emit("add", [total, part])
        if isinstance(total, Var) and total not in forward and not total.hint:
            total.hint = var
        return total

    if isinstance(result, Var) and result in needed:
        pending[result] = [Const(1.0)]
    for eqn in reversed(graph.eqns):
        if not any(v in needed for v in eqn.outs):
            continue
        rule_for(eqn.prim)  # a clear error for a primitive without a rule, even if g is zero
        b.loc = (eqn.loc[0], "adjoint") if eqn.loc else None
        g = adjoint_of(eqn.out)
        if g is None:
            continue
        wanted = [isinstance(a, Var) and a in needed for a in eqn.ins]
        for inp, part in zip(eqn.ins, vjp(b, eqn, g, wanted)):
            if part is not None and isinstance(inp, Var) and inp in needed:
                pending.setdefault(inp, []).append(part)
    b.loc = None
    grads = []
    for p in wrt_params:
        g = adjoint_of(p) if p in pending else None
        if g is None:
            g = Const(0.0)
        grads.append(g)
        pending[p] = [g]  # the same parameter may be named twice in wrt
    results = ([result] if with_value else []) + grads
    return Graph(f"{graph.name}_grad", graph.params, b.eqns, results)

