"""Where each value of a gradient lives in the generated code: the storage plan.

The IR is functional: every equation makes a new value. Generated code need not: a value can take
the name (and the memory) of another. The plan decides, for one graph about to be emitted:

- `alias`: value -> the value whose name it is written under. A branch's result takes the name of
  the `cond` output it becomes, a loop's carried value the name of its loop variable, an
  accumulator's new value the accumulator's, so no copies are made;
- `inplace`: (equation, k) pairs whose result is written into their k-th input, a temporary array
  that dies at that very equation (`t *= x` instead of `t2 = t * x`);
- `frees`: equation index -> temporary arrays `del`eted after it, so the backward pass holds only
  what it still needs.

An in-place chain is named after its first value (`z = x @ W; z -= lse`), unless one of its
values already has a name of its own: a name never claims a value before it holds it. Kinds,
shapes and dtypes come from specialisation; without them (generic code) only names are shared.
"""
from __future__ import annotations

from .ir import Graph, Loop, ReverseLoop, Var, free_vars, regions
from .primitives import having

# Primitives whose result is a new array the generated code owns (not a view, not an input).
FRESH = having("fresh")


def push_position(body, saved):
    """Index of the last body equation that defines a saved value (-1: all are parameters)."""
    wanted = set(saved)
    at = -1
    for i, e in enumerate(body.eqns):
        if wanted.intersection(e.outs):
            at = i
    return at


def reverse_params(graph, found=None):
    """Every value a reverse loop restores or rotates (its body's parameters)."""
    found = set() if found is None else found
    for eqn in graph.eqns:
        if eqn.prim == "loop_reverse":
            found.update(eqn.params["body"].params)
        for sub in eqn.params.values():
            if isinstance(sub, Graph):
                reverse_params(sub, found)
    return found



class StoragePlan:
    """The plan for one graph (see the module docstring)."""

    def __init__(self, graph, known_array, shapes, dtypes, instrumented=False):
        self.known_array = known_array    # value -> whether it is an array of known shape
        self.shapes = shapes or {}
        self.dtypes = dtypes              # None in generic code: no in-place updates, no frees
        self.instrumented = instrumented
        self.alias = {}
        self.inplace = set()
        self.frees = {}
        self.replayed = reverse_params(graph)
        self.coalesce(graph.eqns)
        self.plan_memory(graph)

    def root(self, atom):
        """The value whose name `atom` is written under (itself, unless coalesced into another)."""
        while atom in self.alias:
            atom = self.alias[atom]
        return atom

    def plan_memory(self, graph):
        """For arrays of known shape: write a result into a temporary that dies at this very
        operation (`t *= x` instead of a new array), and `del` each temporary array after its last
        use, so the backward pass holds only what it still needs. Straight-line code only."""
        if self.dtypes is None and not self.instrumented:
            return
        eqns = graph.eqns
        last = {}
        for i, eqn in enumerate(eqns):
            reads = [a for a in eqn.ins if isinstance(a, Var)]
            for sub in eqn.params.values():
                if isinstance(sub, Graph):
                    reads += free_vars(sub)
            reads += list(eqn.params.get("save") or ())
            for a in reads:
                last[a] = i
        for eqn in reversed(eqns):
            # an accumulator lives as long as what it becomes, and an array as long as any value
            # that may be a view of it (y[0], y.T, a broadcast adjoint): writing into y in place
            # while a view of it is read later would change the view
            if regions(eqn):
                # a branch may hand out a value it read as it is (`r_2 = r_1`, a view): what the
                # regions read lives as long as the equation's results are read
                end = max((last[o] for o in eqn.outs if o in last), default=None)
                if end is not None:
                    for sub in eqn.params.values():
                        if isinstance(sub, Graph):
                            for a in free_vars(sub):
                                if a in last:
                                    last[a] = max(last[a], end)
                continue
            if len(eqn.outs) != 1 or eqn.out not in last:
                continue
            if eqn.prim in ("index_add", "iadd", "list_append") or eqn.prim not in FRESH:
                for a in eqn.ins:
                    if isinstance(a, Var) and a in last:
                        last[a] = max(last[a], last[eqn.out])
        # values that share a name (a loop's buffer and its output, say) live as long as the last
        # of them is read
        shared = {}
        for v in list(last):
            shared.setdefault(self.root(v), []).append(v)
        for group in shared.values():
            if len(group) > 1:
                end = max(last[v] for v in group)
                for v in group:
                    last[v] = end
        forever = {a for a in graph.results if isinstance(a, Var)}
        forever |= {v for v in list(last) for r in graph.results if isinstance(r, Var)
                    and self.root(v) is self.root(r)}
        owned = set()
        chains = {}   # the last value written into an array -> every value that array held
        for i, eqn in enumerate(eqns):
            if len(eqn.outs) != 1 or regions(eqn):
                continue
            out = eqn.out
            if self.dtypes is None:  # an instrumented run: kinds unknown, only free temporaries
                if eqn.prim in FRESH:
                    owned.add(out)
                continue
            if eqn.prim in ("add", "sub", "mul", "div") and self.known_array(out):
                for k in ((0, 1) if eqn.prim in ("add", "mul") else (0,)):
                    a = eqn.ins[k]
                    if a in owned and last.get(a) == i and a not in forever \
                            and self.shapes.get(a) == self.shapes.get(out) \
                            and self.dtypes.get(a) is not None \
                            and self.dtypes.get(a) == self.dtypes.get(out):
                        chains.setdefault(a, [a]).append(out)
                        chains[out] = chains.pop(a)
                        self.inplace.add((eqn, k))
                        owned.discard(a)
                        break
            if eqn.prim in FRESH and self.known_array(out):
                owned.add(out)
        phase = {v: eqn.loc[1] for eqn in eqns if eqn.loc for v in eqn.outs}
        for members in chains.values():
            # One array, one name per stretch of the chain: the first value of the stretch that
            # has a name of its own (`z`, `dx`), else its first value, so a name never claims a
            # value before the array holds it. A forward value and an adjoint never share a name:
            # where the chain passes from one to the other, the array is renamed (`dout = out`,
            # free in Python) and the chain goes on under the new name.
            for stretch in _stretches(members, phase):
                fixed = [m for m in stretch if m in self.alias]
                named = [m for m in stretch if m.hint]
                rep = fixed[0] if fixed else (named[0] if named else stretch[0])
                for m in stretch:
                    if m is not rep and m not in self.alias:
                        self.alias[m] = rep
        for a in owned:
            if a not in forever and a in last:
                self.frees.setdefault(last[a], []).append(a)

    def coalesce(self, eqns):
        """Let a value computed in a branch take the name of the `cond` output it becomes, and a
        loop's output the name of its loop variable, so no copy is needed."""
        for eqn in eqns:
            if eqn.prim == "cond":
                for key in ("then", "else"):
                    region = eqn.params[key]
                    inside = {v for e in region.eqns for v in e.outs}
                    seen = set()
                    for out, r in zip(eqn.outs, region.results):
                        if isinstance(r, Var) and r in inside and r not in eqn.outs and r not in seen \
                                and r not in self.alias:
                            self.alias[r] = out
                        seen.add(r)
            elif eqn.prim in ("for", "while"):
                loop = Loop(eqn)
                saved = set(loop.save or ())
                for out, p in zip(loop.outs, loop.carried):
                    if p not in saved:
                        self.alias[out] = p
                self.coalesce_carried(loop.carried, loop.next, loop.body, saved,
                                      push_position(loop.body, saved))
            elif eqn.prim in ("index_add", "iadd", "list_append"):
                self.alias[eqn.out] = eqn.ins[0]  # the accumulator itself, updated in place
            elif eqn.prim == "loop_reverse":
                loop = ReverseLoop(eqn)
                for init, p in zip(loop.inits, loop.carried):
                    if init in loop.buffers:
                        self.alias[init] = p  # the buffer is the accumulator from the start
                for out, p in zip(loop.outs, loop.carried):
                    self.alias[out] = p
                self.coalesce_carried(loop.carried, loop.next, loop.body, set())
            for sub in eqn.params.values():
                if isinstance(sub, Graph):
                    self.coalesce(sub.eqns)

    def coalesce_carried(self, params, results, body, saved, push_at=None):
        """A loop body's new value of a carried variable may be written straight into the
        variable when nothing reads the old value after the new one is computed."""
        where = {v: i for i, e in enumerate(body.eqns) for v in e.outs}
        last_read = {}
        for i, e in enumerate(body.eqns):
            reads = [a for a in e.ins if isinstance(a, Var)]
            for sub in e.params.values():
                if isinstance(sub, Graph):
                    reads += free_vars(sub)
            for a in reads:
                last_read[a] = i
        for r in list(results):
            if isinstance(r, Var):
                last_read.setdefault(r, -1)
        for v in saved:  # the tape push reads them where it stands
            last_read[v] = max(last_read.get(v, -1), push_at if push_at is not None else len(body.eqns))
        used_as_result = {}
        for r in results:
            used_as_result[r] = used_as_result.get(r, 0) + 1
        for p, r in zip(params, results):
            if not isinstance(r, Var) or r not in where or used_as_result[r] > 1 \
                    or r in self.alias or p in results:
                continue
            at = where[r]
            if p in saved and (push_at is None or at <= push_at):
                continue  # the push must still see the old value
            if r in self.replayed:
                # the reverse loop rebinds r's name: sharing it with p (and so with the loop's
                # output, named like p) would overwrite the forward result read after the loop
                continue
            if last_read.get(p, -1) > at:
                continue
            if last_read.get(p, -1) == at and regions(body.eqns[at]):
                continue  # a branch that computes r may still read p after writing r
            self.alias[r] = p


def _stretches(members, phase):
    """Split an in-place chain where it passes between forward values and adjoints (the phase of
    the equation that made each value)."""
    out, role = [[]], None
    for m in members:
        kind = phase.get(m, role)
        if role is not None and kind != role and out[-1]:
            out.append([])
        role = kind
        out[-1].append(m)
    return out

