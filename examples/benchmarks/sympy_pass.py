"""Section "sympy": the optional SymPy pass (`simplify="sympy"`), its time against its budget and the
equations it saves, on the chains of issue 9 (tests/compiler/symbolic_funcs.py) and on random chains
of 30-60 operations.

For each function: the primitive operations in the user's code, the scalar gradient's equations
before the pass and after it, the pass's own time (its worker started beforehand: the cold start is
reported once, apart), the whole decoration with and without it, and the outcome: "simpler", "same"
(SymPy found nothing shorter) or "budget" (out of time: the unsimplified gradient, with a warning).
A simplified gradient that disagrees with the plain one at a random point loses its row, loudly.
"""
from __future__ import annotations

import importlib
import os
import random
import shutil
import sys
import tempfile
import time
import warnings

from report import Section, Table, mismatch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Recorder:
    """Wraps compiler.symbolic.simplify_gradients: the sizes it saw and made, and its time."""

    def __init__(self, inner, size):
        self.inner, self.size, self.last = inner, size, None

    def __call__(self, graph, indices, budget=None):
        start = time.perf_counter()
        out = self.inner(graph, indices, budget)
        self.last = (self.size(graph), self.size(out), time.perf_counter() - start)
        return out


def _outcome(fn, args):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "value", fn(*args)
    except Exception as exc:  # noqa: BLE001
        return "raises", type(exc).__name__


def _agrees(plain, simple, args):
    a, b = _outcome(plain, args), _outcome(simple, args)
    if a[0] == "raises" or b[0] == "raises":
        return a == b
    return all(p == q or abs(p - q) <= 1e-9 * max(1.0, abs(p)) or (p != p and q != q)
               for p, q in zip(a[1], b[1]))


def _measure_one(fn, recorder, rng, symbolic, grad, size):
    wrt = tuple(range(fn.__code__.co_argcount))
    start = time.perf_counter()
    plain = grad(fn, wrt=wrt)
    plain_time = time.perf_counter() - start
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        simple = grad(fn, wrt=wrt, simplify="sympy")
        sympy_time = time.perf_counter() - start
    before, after, pass_time = recorder.last
    warned = any(issubclass(w.category, symbolic.SimplifyWarning) for w in caught)
    status = "budget" if warned else "simpler" if after < before else "same"
    args = [rng.uniform(-1.5, 1.5) for _ in wrt]
    return {"name": fn.__name__, "ops": size(plain._sourcead.primal), "before": before,
            "after": after, "pass": pass_time, "plain": plain_time, "sympy": sympy_time,
            "status": status, "agrees": _agrees(plain, simple, args)}


def measure(chains=20, seed=0, say=print):
    import compiler.symbolic as symbolic
    from compiler import grad
    from compiler.passes import _size as size  # equations, those in regions too
    sys.path.insert(0, os.path.join(ROOT, "tests", "compiler"))
    import symbolic_funcs

    section = Section("sympy", "The SymPy pass (simplify=\"sympy\")", INTRO)
    start = time.perf_counter()
    symbolic.start_worker(wait=60)
    cold = time.perf_counter() - start
    recorder = Recorder(symbolic.simplify_gradients, size)
    symbolic.simplify_gradients = recorder
    rng = random.Random(seed)
    folder = tempfile.mkdtemp(prefix="bench_sympy_")
    try:
        sources = [symbolic_funcs.random_chain_source(f"random{k}", rng.randint(30, 60),
                                                      seed=seed * 1000 + k) for k in range(chains)]
        with open(os.path.join(folder, "bench_sympy_chains.py"), "w") as fh:
            fh.write("import math\n\n\n" + "\n\n".join(sources))
        sys.path.insert(0, folder)
        sys.modules.pop("bench_sympy_chains", None)
        made = importlib.import_module("bench_sympy_chains")
        functions = [symbolic_funcs.chain9, symbolic_funcs.chain8, symbolic_funcs.chain30,
                     symbolic_funcs.chain50] + [getattr(made, f"random{k}") for k in range(chains)]
        rows = [_measure_one(fn, recorder, rng, symbolic, grad, size) for fn in functions]
    finally:
        symbolic.simplify_gradients = recorder.inner
        sys.path.remove(folder)
        shutil.rmtree(folder, ignore_errors=True)
    table = Table(f"Budget {symbolic.BUDGET_SECONDS:g} s per pass",
                  ["function", "ops", "gradient equations", "after the pass", "pass", "decoration",
                   "decoration without the pass", "outcome"])
    kept = []
    for r in rows:
        if not r["agrees"]:
            mismatch(section, f"{r['name']}: the simplified gradient disagrees with the plain one",
                     say)
            continue
        kept.append(r)
        table.add(r["name"], r["ops"], r["before"], r["after"], f"{r['pass']:.2f} s",
                  f"{r['sympy']:.2f} s", f"{r['plain'] * 1e3:.0f} ms", r["status"])
    section.tables.append(table)
    if kept:
        before, after = sum(r["before"] for r in kept), sum(r["after"] for r in kept)
        section.notes.append(
            f"Worker cold start (Python, SymPy, warm-up) {cold:.2f} s, once. Passes took "
            f"{sum(r['pass'] for r in kept):.1f} s in all, the longest {max(r['pass'] for r in kept):.2f} s; "
            f"equations {before} -> {after} ({100.0 * (before - after) / before:.1f}% fewer); "
            f"simpler {sum(r['status'] == 'simpler' for r in kept)}, same "
            f"{sum(r['status'] == 'same' for r in kept)}, out of budget "
            f"{sum(r['status'] == 'budget' for r in kept)}.")
    return section


INTRO = ("`ops`: primitive operations in the user's function; `gradient equations`: what "
         "`simplify=None` runs; `pass`: the SymPy pass alone; `decoration`: grad(..., "
         "simplify=\"sympy\") in all.")
