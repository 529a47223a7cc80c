"""Pictures of a compiled gradient: the static DAG, at given arguments, drawn as the lectures draw it.

`f.draw(-2.0, 5.0, -4.0, backward=True)` (f what `grad` or `value_and_grad` returned) draws the
function's graph (`f.graph`): a node per parameter and per operation, labelled with the user's names
and the operation (`q = x + y`, `*`), and on each wire the value it carried at those arguments
(green, above) and, with `backward=True`, the gradient of the output with respect to it (red,
below). A value read in several places flows to a fork point first: its wire carries the total
gradient, summed from the branches, as in the lectures.

The numbers come from running the graphs themselves (interpret.py): the values from the function's
graph, the gradients from the gradient graph (`f.grad_graph`, the graph the generated code is made
from), each matched to the value it is the gradient of by the name the reverse pass gives it (`dq`
is named after `q`). A parameter's gradient is the one `f` returns for it, from a call of `f`
itself (the generated code may round differently, in the last bit, from a walk of its graph).

Control flow is drawn as clusters: a loop's body once, with the number of iterations it ran (each
value in it listed per iteration), its carried values fed by their initial value and, dashed, by the
next iteration's; both branches of an `if`, the one taken highlighted and the other greyed; every
value a region reads from outside is wired from where it is made into the region.
"""
from __future__ import annotations

import ast
import itertools

from . import picture as pic
from .interpret import Failure, run
from .ir import Const, Graph, Loop, ReverseLoop, Var, regions
from .primitives import PRIMS

_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
            ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.USub: "-", ast.UAdd: "+",
            ast.Not: "not ", ast.And: "and", ast.Or: "or", ast.Gt: ">", ast.GtE: ">=",
            ast.Lt: "<", ast.LtE: "<=", ast.Eq: "==", ast.NotEq: "!=", ast.BitAnd: "&",
            ast.BitOr: "|", ast.BitXor: "^", ast.Invert: "~"}


def draw(compiled, args=(), kwargs=None, backward=False):
    """The picture (a graphviz.Digraph) of a compiled gradient, at `args` if given."""
    return picture(compiled, args, kwargs, backward).digraph()


def dot(compiled, args=(), kwargs=None, backward=False):
    """The picture as DOT text (no package needed): the primal graph, or at `args` if given."""
    return picture(compiled, args, kwargs, backward).source()


def notebook_svg(compiled):
    """What a notebook shows for a compiled gradient: its picture at the arguments it was last
    drawn at, else the graph alone; None (the plain repr) when Graphviz is not installed."""
    args, kwargs, backward = getattr(compiled, "drawn", ((), {}, False))
    try:
        made = picture(compiled, args, kwargs, backward)
    except Exception:  # a display must never raise: the plain repr is shown instead
        return None
    return pic.svg_or_none(made)


def picture(compiled, args=(), kwargs=None, backward=False):
    """The Picture of `compiled` (api.Compiled) at `args`: values, and gradients with `backward`."""
    kwargs = kwargs or {}
    name = compiled.fn.__name__
    if compiled.mode != "grad" or compiled.flat:
        what = "a jvp or vjp" if compiled.mode != "grad" else "a version built for containers"
        raise TypeError(f"{name}: draw() pictures grad and value_and_grad of functions taking "
                        f"numbers and arrays, not {what}; draw the plain grad of the function.")
    primal = compiled.primal
    if not args and not kwargs:
        if backward:
            raise TypeError(f"{name}.draw(backward=True) needs the arguments to run the gradient "
                            f"at, e.g. {name}.draw({', '.join(['1.0'] * len(primal.params))}, "
                            "backward=True)")
        return _Drawer(compiled, None, None).picture(f"{name}({', '.join(compiled.names)})")
    values = compiled.arguments(args, kwargs)
    compiled.drawn = (args, kwargs, backward)
    call = f"{name}({', '.join(f'{n}={pic.number(v)}' for n, v in zip(compiled.names, values))})"
    returned = _returned(compiled, values) if backward else None  # (its own errors first)
    try:
        results, forward = run(primal, values[:len(primal.params)])
        trace = run(compiled.grad_graph, values)[1] if backward else None
    except Failure as failure:
        raise failure.located(f"{call}, run as written,", "the picture shows every value the "
                              "function computes, so draw it at arguments where it runs") from None
    adjoints = None
    title = f"{call} = {pic.number(results[0])}"
    if backward:
        adjoints = _adjoints(compiled, returned, trace)
        title += "   " + ", ".join(f"d{name}/d{compiled.names[i]} = {pic.number(g)}"
                                   for i, g in zip(compiled.wrt, returned))
    return _Drawer(compiled, forward, adjoints).picture(title)


# --- matching gradients to values ---------------------------------------------------------------

def _returned(compiled, values):
    """The gradients the compiled function returns at `values`, one per differentiated argument
    (what the picture writes for the parameters: exactly what a call gives)."""
    out = compiled.call(compiled.function, list(values))
    if compiled.has_aux:
        grads = out[1] if compiled.with_value else out[0]
    else:
        grads = out[1] if compiled.with_value else out
    return tuple(grads) if compiled.wrt_is_tuple else (grads,)


def _adjoints(compiled, returned, trace):
    """Primal variable -> (its gradient's values in iteration order, elided?, count).

    The reverse pass names each adjoint after its value (its `hint` is that Var). A value may have
    several: contributions, then their sum; the sum is made last, at the value's own level (a value
    read inside a loop also gets per-iteration contributions in the loop's adjoint body). So the
    adjoint is the last one made at the shallowest level. A loop's carried adjoints are named
    after the carried value, though they arrive as the adjoint of its next value: matched through
    the forward loop whose tape the reverse loop replays. A parameter's gradient is what the function
    returns for it (`returned`); the output's is the seed, 1."""
    graph = compiled.grad_graph
    best = {}
    order = itertools.count()

    def consider(v, depth, backwards):
        target = v.hint
        if not isinstance(target, Var) or v not in trace.seen:
            return
        key = (depth, -next(order))
        if target not in best or key < best[target][0]:
            best[target] = (key, v, backwards)

    def walk(g, depth, backwards):
        for p in g.params:
            consider(p, depth, backwards)
        for eqn in g.eqns:
            for v in eqn.outs:
                consider(v, depth, backwards)
            for sub in regions(eqn):
                walk(sub, depth + 1, backwards or eqn.prim == "loop_reverse")

    walk(graph, 0, False)
    loops = {e.outs[-1]: e for e in _all_eqns(graph) if e.prim in ("for", "while")
             and e.params.get("save") is not None}
    for eqn in _all_eqns(graph):
        if eqn.prim != "loop_reverse" or eqn.ins[0] not in loops:
            continue
        forward = Loop(loops[eqn.ins[0]])
        for carry in ReverseLoop(eqn).carried:
            if carry.hint in forward.carried and carry in trace.seen:
                after = forward.next[forward.carried.index(carry.hint)]
                if isinstance(after, Var) and after not in best and after not in forward.carried:
                    best[after] = ((1, 0), carry, True)
    out = {}
    for target, (_, v, backwards) in best.items():
        values, elided = trace.seen[v].values()
        out[target] = (values[::-1] if backwards else values, elided, trace.seen[v].count)
    primal = compiled.primal
    for i, g in zip(compiled.wrt, returned):
        out[primal.params[i]] = ([g], False, 1)
    if isinstance(primal.results[0], Var):
        out[primal.results[0]] = ([1.0], False, 1)
    for eqn in _all_eqns(primal):  # a branch's result: the adjoint of what the `if` gives
        if eqn.prim == "cond":     # (when it ran once: in a loop, the branches share the runs)
            for k, after in enumerate(eqn.outs):
                for key in ("then", "else"):
                    result = eqn.params[key].results[k]
                    if isinstance(result, Var) and result not in out and after in out and \
                            out[after][2] == 1:
                        out[result] = out[after]
    return out


def _reads(graph):
    return {a for eqn in _all_eqns(graph) for a in eqn.ins if isinstance(a, Var)} | \
        {a for a in graph.results if isinstance(a, Var)}


def _all_eqns(graph):
    for eqn in graph.eqns:
        yield eqn
        for sub in regions(eqn):
            yield from _all_eqns(sub)


# --- drawing -------------------------------------------------------------------------------------

class _Drawer:
    """One picture: nodes as the graph is walked, then the wires (`uses`), forks where a value is
    read more than once."""

    def __init__(self, compiled, forward, adjoints):
        self.compiled = compiled
        self.forward = forward          # interpret.Trace of the primal graph, or None
        self.adjoints = adjoints        # var -> (values, elided, count), or None
        self.source = {}                # var -> the node its wires start from
        self.home = {}                  # node -> its cluster
        self.uses = {}                  # var -> [(node, edge attributes)]
        self.defining = {}              # var -> its plain equation (for labels)

    def picture(self, title):
        primal = self.compiled.primal
        self.pic = pic.Picture(primal.name, title)
        for p in primal.params:
            self.source[p] = self.node(pic.label(pic.text(self.name(p) or "?", bold=True)), None,
                                       shape="ellipse")
        self.region(primal, None)
        out = self.node(pic.label(pic.text(self.compiled.fn.__name__, bold=True)), None,
                        **pic.output_shape(self.compiled.fn.__name__))
        for atom in primal.results:
            self.use(atom, out, None)
        self.wires()
        return self.pic

    # -- nodes --

    def node(self, label, cluster, **attrs):
        nid = self.pic.node(label, cluster, **attrs)
        self.home[nid] = cluster
        return nid

    def use(self, atom, head, cluster, **attrs):
        if isinstance(atom, Const):
            const = self.node(pic.label(pic.text(_constant(atom.value))), cluster,
                              shape="plaintext", height="0.2")
            self.pic.edge(const, head, **attrs)
        else:
            self.uses.setdefault(atom, []).append((head, attrs))

    def region(self, graph, cluster):
        for eqn in graph.eqns:
            if eqn.prim == "cond":
                self.cond(eqn, cluster)
            elif eqn.prim in ("for", "while"):
                self.loop(eqn, cluster)
            else:
                self.plain(eqn, cluster)

    def plain(self, eqn, cluster):
        named = [self.name(v) for v in eqn.outs if self.name(v)]
        if named:
            text = f"{', '.join(named)} = {self.expression(eqn, 0)}"
        else:
            text = self.operation(eqn)
        gate = not named and len(text) <= 2
        nid = self.node(pic.label(pic.text(text, bold=gate)), cluster,
                        shape="circle" if gate else "box", style="rounded",
                        width="0.35" if gate else "0.5", height="0.35")
        for atom in eqn.ins:
            self.use(atom, nid, cluster)
        for v in eqn.outs:
            self.source[v] = nid
            self.defining[v] = eqn

    def cond(self, eqn, cluster):
        runs = self.forward.taken.get(eqn, []) if self.forward else []
        taken = set(runs)
        test = eqn.ins[0]
        box = self.pic.cluster(pic.label(pic.text(f"if {self.atom(test, 0)}", bold=True)), cluster,
                               style="rounded", color="#616161", fontcolor="black")
        self.home[box] = cluster
        branch_of = {}
        for key in ("then", "else"):
            ran = key in taken
            note = " (taken)" if ran and len(taken) == 1 else \
                f" (taken {runs.count(key)} of {len(runs)} times)" if ran else \
                " (not taken)" if taken else ""
            style = dict(style="rounded,filled,bold", color=pic.TAKEN, fillcolor="#fff3e0") if ran \
                else dict(style="rounded,dashed", color=pic.MUTED, fontcolor=pic.MUTED) if taken \
                else dict(style="rounded")
            sub = self.pic.cluster(pic.label(pic.text(key + note)), box, **style)
            self.home[sub] = box
            self.region(eqn.params[key], sub)
            branch_of[key] = ran or not taken
        choice = self.node(pic.label(pic.text("if")), box, shape="diamond", height="0.3")
        self.use(test, choice, box)
        for k, out in enumerate(eqn.outs):
            merge = self.node(pic.label(pic.text(self.name(out) or "·")), box, shape="ellipse",
                              height="0.3")
            self.source[out] = merge
            for key in ("then", "else"):
                muted = {} if branch_of[key] else dict(style="dashed", color=pic.MUTED)
                self.use(eqn.params[key].results[k], merge, box, **muted)

    def loop(self, eqn, cluster):
        loop = Loop(eqn)
        head = self.loop_head(eqn, loop)
        trips = self.forward.trips.get(eqn) if self.forward else None
        count = "" if trips is None else \
            f"{trips[0]} iteration{'s' * (trips[0] != 1)}" if len(trips) == 1 else \
            f"{trips[0]} iterations, each of {len(trips)} runs" if len(set(trips)) == 1 else \
            f"{min(trips)} to {max(trips)} iterations ({len(trips)} runs)"
        box = self.pic.cluster(pic.label(pic.text(head, bold=True), pic.text(count, small=True)),
                               cluster, style="rounded", color=pic.LOOP, fontcolor=pic.LOOP)
        self.home[box] = cluster
        bounds = [a for a in loop.bounds if isinstance(a, Var)]  # range(n) reads n
        if loop.index is not None and (bounds or loop.index in _reads(loop.body)):
            index = self.node(pic.label(pic.text(self.name(loop.index) or "i")), box,
                              shape="ellipse", height="0.3")
            self.source[loop.index] = index
            for bound in bounds:
                self.use(bound, index, cluster)
        carried = []
        for p, init in zip(loop.carried, loop.inits):
            nid = self.node(pic.label(pic.text(self.name(p) or "·"),
                                      pic.text("carried", small=True)), box, shape="ellipse")
            self.source[p] = nid
            carried.append(nid)
            self.use(init, nid, cluster)
        if loop.test is not None:
            test = self.pic.cluster(pic.label(pic.text("test")), box, style="dotted")
            self.home[test] = box
            for p, nid in zip(loop.test.params, carried):
                self.source[p] = nid
            self.region(loop.test, test)
            check = self.node(pic.label(pic.text("while")), test, shape="diamond", height="0.3")
            self.use(loop.test.results[0], check, test)
        self.region(loop.body, box)
        for nid, after in zip(carried, loop.next):
            self.use(after, nid, box, style="dashed", constraint="false")
        if isinstance(loop.stop, Var):
            stop = self.node(pic.label(pic.text("break?")), box, shape="diamond", height="0.3")
            self.use(loop.stop, stop, box)
        for out, after in zip(loop.outs, loop.next):  # after the loop: the last next value
            if isinstance(after, Var):
                self.source[out] = self.source[after]
            else:
                self.source[out] = self.node(pic.label(pic.text(_constant(after.value))), box,
                                             shape="plaintext")

    def loop_head(self, eqn, loop):
        if eqn.prim == "while":
            return "while loop"
        start, stop, step = (self.atom(a, 1) for a in loop.bounds)
        bounds = stop if (start, step) == ("0", "1") else \
            f"{start}, {stop}" if step == "1" else f"{start}, {stop}, {step}"
        index = self.name(loop.index) or "_" if loop.index is not None else "_"
        return f"for {index} in range({bounds})"

    # -- wires --

    def wires(self):
        for var, heads in self.uses.items():
            tail = self.source.get(var)
            if tail is None:  # (never expected: every value read is drawn where it is made)
                tail = self.source[var] = self.node(pic.label(pic.text(self.name(var) or "?")),
                                                    None, shape="plaintext")
            value, gradient = self.numbers(var)
            if len(heads) == 1:
                head, attrs = heads[0]
                self.pic.edge(tail, head, value, gradient, **attrs)
                continue
            fork = self.node('""', self.home.get(tail), shape="point", width="0.06")
            muted = all(attrs.get("style") == "dashed" for _, attrs in heads)
            self.pic.edge(tail, fork, value, gradient, arrowhead="none",
                          **(dict(style="dashed", color=pic.MUTED) if muted else {}))
            for head, attrs in heads:
                self.pic.edge(fork, head, **attrs)

    def numbers(self, var):
        value = gradient = ""
        if self.forward is not None and var in self.forward.seen:
            seen = self.forward.seen[var]
            values, elided = seen.values()
            value = pic.sequence(values, elided, seen.count)
        if self.adjoints is not None and var in self.adjoints and var in self.forward.seen:
            gradient = pic.sequence(*self.adjoints[var])  # (none for what never ran)
        return value, gradient

    # -- labels --

    @staticmethod
    def name(var):
        return var.hint if isinstance(var.hint, str) and var.hint.isidentifier() else ""

    def atom(self, atom, depth, operand=False):
        """How an input reads in a label: the user's name, a constant, or (for a temporary) the
        expression that made it, two levels deep (in parentheses as an operand of an operator)."""
        if isinstance(atom, Const):
            return _constant(atom.value)
        if self.name(atom):
            return self.name(atom)
        eqn = self.defining.get(atom)
        if eqn is None or depth >= 2:
            return "…"
        inner = self.expression(eqn, depth + 1)
        return f"({inner})" if operand and _symbol(eqn) and len(eqn.ins) == 2 else inner

    def expression(self, eqn, depth):
        symbol = _symbol(eqn)
        args = [self.atom(a, depth, operand=bool(symbol)) for a in eqn.ins]
        if symbol and len(args) == 2:
            return f"{args[0]} {symbol} {args[1]}"
        if symbol and len(args) == 1:
            return f"{symbol}{args[0]}"
        return f"{self.function(eqn)}({', '.join(args + _parameters(eqn))})"

    def operation(self, eqn):
        """A temporary's node: the gate alone (`*`, `tanh`, `sum(axis=0)`)."""
        if _symbol(eqn):
            return _symbol(eqn).strip()
        params = _parameters(eqn)
        return self.function(eqn) + (f"({', '.join(params)})" if params else "")

    @staticmethod
    def function(eqn):
        if eqn.prim in ("global", "cell"):
            return eqn.params.get("name", eqn.prim)
        if eqn.prim == "call":
            return str(eqn.params.get("label") or getattr(eqn.params.get("fn"), "__name__", "call"))
        return eqn.prim


def _symbol(eqn):
    """The operator an equation is written with (`+`, `*`, `>`), or None for a function."""
    prim = PRIMS.get(eqn.prim)
    return _SYMBOLS.get(prim.infix) if prim is not None and prim.infix is not None else None


def _parameters(eqn):
    """An equation's own parameters worth reading (axis=0), not regions or internal ones."""
    shown = []
    for key, value in sorted(eqn.params.items()):
        if key.startswith("_") or key in ("lib", "label", "fn", "layout", "name", "part") or \
                isinstance(value, Graph) or callable(value):
            continue
        text = repr(value)
        shown.append(f"{key}={text if len(text) <= 12 else text[:11] + '…'}")
    return shown


def _constant(value):
    if isinstance(value, (bool, int, float, complex)) or value is None:
        return pic.number(value)
    text = repr(value)
    return text if len(text) <= 16 else text[:15] + "…"
