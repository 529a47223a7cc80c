"""Optional SymPy simplification of scalar gradients: `grad(f, simplify="sympy")`.

The straight-line part of a scalar gradient graph is turned into SymPy expressions (values the
pass cannot follow, such as loop results or `max`, stay opaque symbols), each gradient is simplified,
common subexpressions are shared with `sympy.cse`, and the result is turned back into equations.
Symbolic algebra swells on large graphs, so the pass only runs on graphs of at most `MAX_EQNS`
equations and only simplifies expressions of at most `MAX_OPS` operations, within a time budget;
beyond those bounds it leaves the graph as the optimiser made it. SymPy is imported only here.
"""
from __future__ import annotations

import time

from .ir import Builder, Const, Graph, Var, regions

MAX_EQNS = 400
MAX_OPS = 300
BUDGET_SECONDS = 2.0

_FUNCTIONS = ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp", "log",
              "sqrt")


def simplify_gradients(graph, gradient_indices, budget=BUDGET_SECONDS):
    """The graph with each result at `gradient_indices` simplified by SymPy (see the module doc)."""
    if len(graph.eqns) > MAX_EQNS:
        return graph
    import sympy

    to_sympy = {
        "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b, "pow": lambda a, b: a ** b, "neg": lambda a: -a,
        "float": lambda a: a, "atan2": sympy.atan2,
        "hypot": lambda a, b: sympy.sqrt(a * a + b * b),
    }
    for name in _FUNCTIONS:
        to_sympy[name] = getattr(sympy, name)
    symbols = {}   # sympy symbol -> the atom it stands for
    exprs = {}

    def opaque(var):
        sym = sympy.Symbol(f"v{len(symbols)}", real=True)
        symbols[sym] = var
        exprs[var] = sym
        return sym

    def expr(atom):
        if isinstance(atom, Const):
            v = atom.value
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return None
            return sympy.Integer(v) if isinstance(v, int) else sympy.Float(v, 17)
        found = exprs.get(atom)
        return found if found is not None else opaque(atom)

    for p in graph.params:
        opaque(p)
    for eqn in graph.eqns:
        fn = to_sympy.get(eqn.prim)
        lib = eqn.params.get("lib")
        if fn is None or regions(eqn) or len(eqn.outs) != 1 or lib == "np":
            for v in eqn.outs:
                opaque(v)
            continue
        args = [expr(a) for a in eqn.ins]
        if any(a is None for a in args):
            opaque(eqn.out)
            continue
        exprs[eqn.out] = fn(*args)

    start = time.perf_counter()
    targets = []
    for index in gradient_indices:
        e = expr(graph.results[index]) if isinstance(graph.results[index], Var) else None
        if e is not None and sympy.count_ops(e) <= MAX_OPS and time.perf_counter() - start < budget:
            e = sympy.simplify(e)
        targets.append(e)
    kept = [(i, e) for i, e in zip(gradient_indices, targets) if e is not None]
    if not kept:
        return graph
    replacements, reduced = sympy.cse([e for _, e in kept], optimizations="basic")
    b = Builder(list(graph.eqns))
    for sym, value in replacements:
        symbols[sym] = _from_sympy(b, value, symbols, sympy)
    results = list(graph.results)
    for (index, _), value in zip(kept, reduced):
        results[index] = _from_sympy(b, value, symbols, sympy)
    return Graph(graph.name, graph.params, b.eqns, results)


def _from_sympy(b, e, symbols, sympy):
    """Equations computing the SymPy expression `e` (one primitive each)."""
    if e in symbols:
        return symbols[e]
    if e.is_Number:
        return Const(float(e))
    if e.is_Add:
        terms = list(e.args)
        positive = [t for t in terms if not _negative(t)]
        negative = [-t for t in terms if _negative(t)]
        total = _from_sympy(b, positive[0], symbols, sympy) if positive else None
        for t in positive[1:]:
            total = b.emit("add", [total, _from_sympy(b, t, symbols, sympy)])
        for t in negative:
            atom = _from_sympy(b, t, symbols, sympy)
            total = b.emit("neg", [atom]) if total is None else b.emit("sub", [total, atom])
        return total
    if e.is_Mul:
        coeff, rest = e.as_coeff_Mul()
        if coeff.is_Number and coeff < 0:
            return b.emit("neg", [_from_sympy(b, -e, symbols, sympy)])
        num, den = [], []
        for f in sympy.Mul.make_args(e):
            if f.is_Pow and f.exp.is_Number and f.exp < 0:
                den.append(f.base ** (-f.exp))
            else:
                num.append(f)
        total = _from_sympy(b, num[0], symbols, sympy) if num else Const(1.0)
        for f in num[1:]:
            total = b.emit("mul", [total, _from_sympy(b, f, symbols, sympy)])
        for f in den:
            total = b.emit("div", [total, _from_sympy(b, f, symbols, sympy)])
        return total
    if e.is_Pow:
        base = _from_sympy(b, e.base, symbols, sympy)
        if e.exp == sympy.Rational(1, 2):
            return b.emit("sqrt", [base], lib="math")
        if e.exp == 2:
            return b.emit("mul", [base, base])
        if e.exp == -1:
            return b.emit("div", [Const(1.0), base])
        return b.emit("pow", [base, _from_sympy(b, e.exp, symbols, sympy)])
    if e.func == sympy.atan2:
        y, x = (_from_sympy(b, a, symbols, sympy) for a in e.args)
        return b.emit("atan2", [y, x], lib="math")
    name = e.func.__name__
    if name in _FUNCTIONS and len(e.args) == 1:
        return b.emit(name, [_from_sympy(b, e.args[0], symbols, sympy)], lib="math")
    raise ValueError(f"cannot turn {e} back into primitives")


def _negative(term):
    coeff, _ = term.as_coeff_Mul()
    return coeff.is_Number and coeff < 0
