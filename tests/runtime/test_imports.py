"""runtime's modules import each other without cycles, but for the two natural pairs: a tensor and the
nodes of its graph (tensor <-> graph), the differentiable functions and the primitives whose generated
backward code calls them (functional <-> ops). Imports inside functions count too. A package (autograd/)
counts as one module, whose imports are those of all its files."""
import ast
import pathlib

import runtime

ROOT = pathlib.Path(runtime.__file__).parent
PAIRS = [{"graph", "tensor"}, {"functional", "ops"}]


def imports_of(path, modules, level=1):
    """The modules of runtime that the file imports (`level`: how deep the file is, 2 inside a package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == level:
            found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
    return found & modules


def package_imports(package, modules):
    return set().union(*(imports_of(path, modules, level=2) for path in package.glob("*.py")))


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_runtime_has_no_import_cycle_but_the_natural_pairs():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    modules = {p.stem for p in ROOT.glob("*.py")} | packages
    graph = {m: (package_imports(ROOT / m, modules) if m in packages else imports_of(ROOT / f"{m}.py", modules))
             - {m} for m in modules}
    assert "autograd" in graph and "engine" in graph["autograd"]
    assert sorted(map(sorted, cycles(graph))) == sorted(map(sorted, PAIRS))


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
