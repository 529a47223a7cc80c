"""The IR as a Graphviz DOT digraph: one box per equation, one ellipse per parameter and result."""
from __future__ import annotations

from .ir import Const, Namer, Var


def to_dot(graph):
    namer = Namer()
    lines = [f'digraph "{graph.name}" {{', "  rankdir=LR;", '  node [fontname="monospace"];']
    producer = {}
    for p in graph.params:
        lines.append(f'  "{namer(p)}" [shape=ellipse];')
        producer[p] = f'"{namer(p)}"'
    for i, eqn in enumerate(graph.eqns):
        node = f"eq{i}"
        label = f"{', '.join(namer(v) for v in eqn.outs)} = {eqn.prim}"
        lines.append(f'  {node} [shape=box, label="{label}"];')
        for a in eqn.ins:
            if isinstance(a, Var) and a in producer:
                lines.append(f"  {producer[a]} -> {node};")
            elif isinstance(a, Const):
                lines.append(f'  "c{i}_{a.value!r}" [shape=plaintext, label="{a.value!r}"];')
                lines.append(f'  "c{i}_{a.value!r}" -> {node};')
        for v in eqn.outs:
            producer[v] = node
    for a in graph.results:
        if isinstance(a, Var) and a in producer:
            lines.append(f'  {producer[a]} -> "return";')
    lines.append('  "return" [shape=doublecircle];')
    lines.append("}")
    return "\n".join(lines)
