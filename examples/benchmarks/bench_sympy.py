"""The SymPy pass (`simplify="sympy"`): decoration time against its budget, and equations before and
after simplification, on the chains of issue 9 and on 20 random chains of 30-60 operations.

    python examples/benchmarks/bench_sympy.py [--budget 2.0] [--seed 0]

For each function: the primitive operations in the user's code, the equations of the scalar
gradient before the pass (what `simplify=None` runs) and after it, the time the pass took (worker
start-up excluded: it is started and waited for first, and its cold start is reported once, on its
own), the whole decoration with and without the pass, and the outcome: "simpler", "same" (SymPy
found nothing shorter) or "budget" (it ran out of time: the unsimplified gradient, with a warning).
"agrees": the simplified gradient equals the plain one at a random point (to 1e-9, relative), or
both raise the same error there. The chains of issue 9 are in tests/compiler/symbolic_funcs.py.
"""
from __future__ import annotations

import argparse
import importlib
import math
import os
import random
import shutil
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "compiler"))

import compiler.symbolic as symbolic  # noqa: E402
import symbolic_funcs  # noqa: E402
from compiler import grad  # noqa: E402
from compiler.passes import _size as size  # noqa: E402  (equations, those in regions too)


class Recorder:
    """Wraps compiler.symbolic.simplify_gradients: the sizes it saw and made, and its time."""

    def __init__(self):
        self.inner = symbolic.simplify_gradients
        self.last = None

    def __call__(self, graph, indices, budget=None):
        start = time.perf_counter()
        out = self.inner(graph, indices, budget)
        self.last = (size(graph), size(out), time.perf_counter() - start)
        return out


def primal_operations(fn):
    return size(grad(fn)._sourcead.primal)


def outcome(fn, args):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "value", fn(*args)
    except Exception as exc:  # noqa: BLE001
        return "raises", type(exc).__name__


def agrees(plain, simple, args):
    a, b = outcome(plain, args), outcome(simple, args)
    if a[0] == "raises" or b[0] == "raises":
        return a == b
    return all(p == q or abs(p - q) <= 1e-9 * max(1.0, abs(p)) or (p != p and q != q)
               for p, q in zip(a[1], b[1]))


def measure(fn, recorder, rng):
    n = fn.__code__.co_argcount
    wrt = tuple(range(n))
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
    args = [rng.uniform(-1.5, 1.5) for _ in range(n)]
    return {"name": fn.__name__, "ops": primal_operations(fn), "before": before, "after": after,
            "pass": pass_time, "plain": plain_time, "sympy": sympy_time, "status": status,
            "agrees": agrees(plain, simple, args)}


def table(rows, budget):
    head = (f"{'function':<12} {'ops':>4} {'grad eqns':>9} {'after':>6} {'pass s':>7} "
            f"{'decorate s':>10} {'(plain)':>8}  {'outcome':<8} agrees")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['name']:<12} {r['ops']:>4} {r['before']:>9} {r['after']:>6} {r['pass']:>7.2f} "
              f"{r['sympy']:>10.2f} {r['plain']:>8.3f}  {r['status']:<8} "
              f"{'yes' if r['agrees'] else 'NO'}")
    worst = max(r["pass"] for r in rows)
    total_before = sum(r["before"] for r in rows)
    total_after = sum(r["after"] for r in rows)
    print(f"\nbudget {budget:g} s; passes took {sum(r['pass'] for r in rows):.1f} s in all, the "
          f"longest {worst:.2f} s (over the budget by {max(0.0, worst - budget):.2f} s); equations {total_before} -> {total_after} "
          f"({100.0 * (total_before - total_after) / total_before:.1f}% fewer); "
          f"simpler {sum(r['status'] == 'simpler' for r in rows)}, "
          f"same {sum(r['status'] == 'same' for r in rows)}, "
          f"out of budget {sum(r['status'] == 'budget' for r in rows)}; "
          f"disagreements {sum(not r['agrees'] for r in rows)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=symbolic.BUDGET_SECONDS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--random", type=int, default=20, help="random chains (30-60 operations)")
    options = parser.parse_args()
    symbolic.BUDGET_SECONDS = options.budget

    start = time.perf_counter()
    symbolic.start_worker(wait=60)
    print(f"SymPy worker cold start (Python, SymPy, warm-up): {time.perf_counter() - start:.2f} s "
          "(a decoration that finds it starting waits for it within its budget)\n")

    recorder = Recorder()
    symbolic.simplify_gradients = recorder
    rng = random.Random(options.seed)
    folder = tempfile.mkdtemp(prefix="bench_sympy_")
    try:
        sources = [symbolic_funcs.random_chain_source(f"random{k}", rng.randint(30, 60),
                                                      seed=options.seed * 1000 + k)
                   for k in range(options.random)]
        with open(os.path.join(folder, "bench_sympy_chains.py"), "w") as f:
            f.write("import math\n\n\n" + "\n\n".join(sources))
        sys.path.insert(0, folder)
        chains = importlib.import_module("bench_sympy_chains")
        functions = [symbolic_funcs.chain9, symbolic_funcs.chain8, symbolic_funcs.chain30,
                     symbolic_funcs.chain50]
        functions += [getattr(chains, f"random{k}") for k in range(options.random)]
        rows = [measure(fn, recorder, rng) for fn in functions]
    finally:
        symbolic.simplify_gradients = recorder.inner
        shutil.rmtree(folder, ignore_errors=True)
    table(rows, options.budget)
    if not all(r["agrees"] for r in rows) or any(r["pass"] > options.budget + 0.2 for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
