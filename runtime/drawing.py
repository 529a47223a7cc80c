"""Pictures of what the tape recorded: `runtime.draw(out)`, in the style of the compiler's pictures.

The graph is the one backward walks: `out.grad_fn`, then each node's `next_functions`, down to the
leaves' `AccumulateGrad` nodes. It is drawn forwards, as the lectures draw a circuit: leaves on the
left (named by `names`, e.g. `names={"x": x}`), a node per recorded operation (`*` MulBackward),
the output on the right; on each wire the value it carried (green, above) and the gradient that
flowed back along it (red, below). A tensor read by several operations flows to a fork point first,
and its wire carries the sum of what came back, as in the lectures.

What the tape keeps decides what can be shown. Values: the leaves' and the output's, those of
tensors that `retain_grad()`, and those a node saved for its backward (MulBackward keeps both
inputs, AddBackward none). Gradients: the leaves' `.grad` (written in the leaf), those of retained
tensors, and the gradient along every wire when the graph still holds its saved values (before any
backward, or after `backward(retain_graph=True)`): it is then replayed node by node, as in the
lectures' `e.grad_fn(1.)`, with the nodes' own backward functions (hooks are not run). After a plain
`backward()`, which frees the saved values, the picture says so.
"""
from __future__ import annotations

import ast

import numpy as np

from compiler import picture as pic
from compiler.primitives import PRIMS

from .grad_mode import no_grad
from .graph import RETAINED, AccumulateGrad
from .tensor import Tensor

_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
            ast.MatMult: "@", ast.USub: "-"}


def draw(out, names=None, backward=True, gradient=None, name="out"):
    """The picture (a graphviz.Digraph) of the tape that computed `out`.

    `names`: {"x": x, ...} names the leaves; `backward=False` leaves the gradients out; `gradient`:
    the seed of a non-scalar output (as in out.backward(gradient)); `name`: the output's label."""
    return picture(out, names, backward, gradient, name).digraph()


def picture(out, names=None, backward=True, gradient=None, name="out"):
    """The Picture behind `draw` (its `.source()` is the DOT text, with no package needed)."""
    if not isinstance(out, Tensor):
        raise TypeError(f"runtime.draw takes the Tensor a computation returned, got a "
                        f"{type(out).__name__}")
    if out._edge is None:
        raise RuntimeError("runtime.draw: this tensor does not require grad, so the tape recorded "
                           "nothing for it: make its inputs with requires_grad=True")
    labels = {id(t): n for n, t in (names or {}).items() if isinstance(t, Tensor)}
    nodes = _reachable(out._edge[0])
    freed = any(n._saved is None for n in nodes)
    flows = None
    seed = _seed(out, gradient) if backward else None
    if seed is not None and not freed:
        flows = _replay(out._edge, seed, nodes)
    title = f"{name} = {pic.number(out._data)}"
    leaves = [n.variable for n in nodes if isinstance(n, AccumulateGrad) and n.variable is not None]
    if backward:
        shown = [f"{labels.get(id(t), 'leaf')}.grad = {pic.number(_raw(t._grad))}"
                 for t in sorted(leaves, key=lambda t: labels.get(id(t), "~"))
                 if t._grad is not None]
        title += ("   " + ", ".join(shown)) if shown else ""
    drawing = pic.Picture(name, f"the tape of {title}")
    if freed:
        drawing.note = ("backward() freed the values saved for it: call backward(retain_graph=True), "
                        "or retain_grad() on a tensor, to see inner values and gradients")
    _Drawer(drawing, labels, flows or {out._edge: seed}, backward).draw(out, nodes)
    return drawing


def _reachable(root):
    """Every node backward would visit from `root`, newest first (a consumer before its inputs)."""
    seen, stack = {root}, [root]
    while stack:
        for child, _ in stack.pop().next_functions:
            if child is not None and child not in seen:
                seen.add(child)
                stack.append(child)
    return sorted(seen, key=lambda n: n._key)


def _seed(out, gradient):
    if gradient is not None:
        return _raw(gradient)
    if out._grad is not None:  # retained
        return _raw(out._grad)
    data = out._data
    if data.__class__ is float or np.size(data) == 1:
        return 1.0 if data.__class__ is float else np.ones_like(data)
    return None  # a non-scalar output with no seed: backward itself would refuse


def _replay(root, seed, nodes):
    """(node, output_nr) -> the gradient backward sends down that wire, from each node's own
    backward function; None if a node cannot run (its saved values changed in place, say)."""
    flows = {root: seed}
    try:
        with no_grad():
            for node in nodes:
                if isinstance(node, AccumulateGrad):
                    continue
                n = node._n_outputs
                g = flows.get((node, 0)) if n == 1 else [flows.get((node, k)) for k in range(n)]
                if g is None or n > 1 and all(x is None for x in g):
                    continue
                grads = node.apply(g, False)
                for (child, nr), gk in zip(node.next_functions, grads):
                    if child is not None and gk is not None:
                        gk = _raw(gk)
                        prev = flows.get((child, nr))
                        flows[(child, nr)] = gk if prev is None else prev + gk
    except RuntimeError:
        return None
    return flows


def _raw(x):
    if isinstance(x, Tensor):
        x = x._data
    return x


class _Drawer:
    def __init__(self, drawing, labels, flows, backward):
        self.pic = drawing
        self.labels = labels        # id(leaf tensor) -> its name
        self.flows = flows          # (node, nr) -> gradient, or None
        self.backward = backward
        self.ids = {}               # node -> picture node
        self.uses = {}              # (node, nr) -> [(consumer picture node, value seen there)]

    def draw(self, out, nodes):
        leaves = [n for n in nodes if isinstance(n, AccumulateGrad)]  # in the order they were made
        operations = [n for n in reversed(nodes) if not isinstance(n, AccumulateGrad)]
        for node in leaves + operations:  # inputs first: the picture reads left to right
            self.ids[node] = self.pic.node(self.node_label(node), None,
                                           **({"shape": "ellipse"} if isinstance(node, AccumulateGrad)
                                              else {"shape": "box", "style": "rounded"}))
        for node in nodes:
            for k, (child, nr) in enumerate(node.next_functions):
                if child is not None:
                    self.uses.setdefault((child, nr), []).append((self.ids[node],
                                                                  _saved_input(node, k)))
                else:
                    value = _saved_input(node, k)
                    if value is not None:  # a constant operand (it needs no gradient)
                        const = self.pic.node(pic.label(pic.text(pic.number(_raw(value)))), None,
                                              shape="plaintext", height="0.2")
                        self.pic.edge(const, self.ids[node])
        end = self.pic.node(pic.label(pic.text(self.pic.name, bold=True)), None,
                            **pic.output_shape(self.pic.name))
        self.uses.setdefault(out._edge, []).append((end, out._data))
        for (node, nr), heads in self.uses.items():
            value = next((v for _, v in heads if v is not None), None)
            if value is None:
                value = _known_value(node, nr)
            gradient = self.gradient(node, nr) if self.backward else None
            value_text = pic.number(_raw(value)) if value is not None else ""
            grad_text = pic.number(gradient) if gradient is not None else ""
            tail = self.ids[node]
            if len(heads) == 1:
                self.pic.edge(tail, heads[0][0], value_text, grad_text)
                continue
            fork = self.pic.node('""', None, shape="point", width="0.06")
            self.pic.edge(tail, fork, value_text, grad_text, arrowhead="none")
            for head, _ in heads:
                self.pic.edge(fork, head)

    def gradient(self, node, nr):
        if self.flows is not None and (node, nr) in self.flows:
            return self.flows[(node, nr)]
        if isinstance(node, AccumulateGrad):
            leaf = node.variable
            return _raw(leaf._grad) if leaf is not None and leaf._grad is not None else None
        tensor = _retained(node, nr)
        return _raw(tensor._grad) if tensor is not None and tensor._grad is not None else None

    def node_label(self, node):
        if isinstance(node, AccumulateGrad):
            leaf = node.variable
            lines = [pic.text(self.labels.get(id(leaf), "leaf"), bold=True)]
            if self.backward and leaf is not None and leaf._grad is not None:
                lines.append(pic.text(f".grad = {pic.number(_raw(leaf._grad))}", pic.GRADIENT,
                                      small=True))
            return pic.label(*lines)
        prim = getattr(node, "_prim", None)
        compiled = PRIMS.get(prim.name) if prim is not None else None
        symbol = _SYMBOLS.get(compiled.infix) if compiled is not None and compiled.infix else None
        return pic.label(pic.text(symbol or (prim.name if prim is not None else node.name()),
                                  bold=True),
                         pic.text(node.name(), small=True))


# --- values the tape kept ----------------------------------------------------------------------

def _fast_layout(prim):
    """Elementwise primitives record through functional.py's fast paths, which save (inputs...,
    out, version) in input order; the others save in the order of `prim.sources`."""
    return prim.elementwise and not prim.params and len(prim.inputs) in (1, 2)


def _saved_input(node, k):
    """The value of input k that `node` saved for its backward, or None."""
    prim, saved = getattr(node, "_prim", None), node._saved
    if prim is None or not saved:
        return None
    if _fast_layout(prim):
        return saved[k] if k < len(prim.inputs) else None
    for pos, source in enumerate(prim.sources):
        if source == ("input", k) and pos < len(saved) and saved[pos] is not None:
            return saved[pos]
    return None


def _known_value(node, nr):
    """The value of output `nr` of `node`: a leaf's data, a retained tensor's, or the result the
    node saved itself (TanhBackward keeps its output)."""
    if isinstance(node, AccumulateGrad):
        leaf = node.variable
        return leaf._data if leaf is not None else None
    tensor = _retained(node, nr)
    if tensor is not None:
        return tensor._data
    prim, saved = getattr(node, "_prim", None), node._saved
    if prim is None or not saved:
        return None
    pos = len(prim.inputs) if _fast_layout(prim) else prim.out_pos
    return saved[pos] if 0 <= pos < len(saved) else None


def _retained(node, nr):
    for ref in RETAINED.get(node, ()):
        t = ref()
        if t is not None and t._edge is not None and t._edge == (node, nr):
            return t
    return None
