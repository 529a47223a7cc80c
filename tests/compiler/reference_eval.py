"""A tiny reference evaluator for the IR, independent of the emitter and the loader.

It walks a graph's equations in order and applies `PRIMS[prim].impl(lib)` to the input values; the
two primitives that read the user's environment (`global`, `cell`) are read from their parameters.
It also runs the control-flow regions: `cond` (the taken branch's sub-graph), `for` and `while`
(the body once per iteration; the last body result is the stop flag), and the reverse pass's taped
loops: a forward loop with a `save` parameter also returns a tape, the list of the saved values at
the end of each iteration, which `loop_reverse` walks backwards, feeding each entry to its body
together with the carried adjoints.

Passes are tested against it (an optimised graph must evaluate to what the unoptimised one does),
and so are rules on hand-built graphs (tests/compiler/test_rules.py).
"""
from compiler.ir import Const, Var
from compiler.primitives import PRIMS


class Unsupported(Exception):
    """The graph uses something this evaluator does not model (e.g. a taped reverse loop)."""


def evaluate(graph, args, outer=None):
    """The list of the graph's result values for parameter values `args` (`outer`: enclosing env)."""
    return _run(graph, args, outer)[0]


def _run(graph, args, outer):
    if len(args) != len(graph.params):
        raise TypeError(f"{graph.name} takes {len(graph.params)} arguments, got {len(args)}")
    env = dict(outer or {})
    env.update(zip(graph.params, args))

    def read(atom):
        if isinstance(atom, Const):
            return atom.value
        assert isinstance(atom, Var), atom
        return env[atom]

    for eqn in graph.eqns:
        ins = [read(a) for a in eqn.ins]
        if eqn.prim == "global":
            values = [eqn.params["_ns"][eqn.params["name"]]]
        elif eqn.prim == "cell":
            values = [eqn.params["_cell"].cell_contents]
        elif eqn.prim == "cond":
            values = evaluate(eqn.params["then" if ins[0] else "else"], [], env)
        elif eqn.prim in ("for", "while"):
            values = _loop(eqn, ins, env)
        elif eqn.prim == "loop_reverse":
            tape, state = ins[0], ins[1:]
            for entry in reversed(tape):
                state = evaluate(eqn.params["body"], list(entry) + list(state), env)
            values = state
        elif eqn.prim in PRIMS:
            prim = PRIMS[eqn.prim]
            value = prim.evaluate(eqn.params.get("lib"), ins, eqn.params)
            values = [value] if eqn.outs else []
        else:
            raise Unsupported(eqn.prim)
        if len(values) != len(eqn.outs):
            raise AssertionError(f"{eqn.prim}: {len(values)} values for {len(eqn.outs)} outputs")
        env.update(zip(eqn.outs, values))
    return [read(a) for a in graph.results], env


def _loop(eqn, ins, env):
    body = eqn.params["body"]
    save = eqn.params.get("save")
    tape = []
    if eqn.prim == "for":
        start, stop, step = ins[:3]
        carried = ins[3:]
        indices = iter(range(start, stop, step))
    else:
        carried = ins
        indices = None
    while True:
        if indices is not None:
            i = next(indices, None)
            if i is None:
                break
            args = [i] + list(carried)
        else:
            if not evaluate(eqn.params["test"], list(carried), env)[0]:
                break
            args = list(carried)
        results, body_env = _run(body, args, env)
        *carried, done = results
        if save is not None:
            tape.append(tuple(body_env[v] for v in save))
        if done:
            break
    return list(carried) + ([tape] if save is not None else [])
