"""Section "decoration": what the first call costs. Source -> compiled gradient for f57 and for
straight-line functions of N statements (ms per statement), and the first call of array code (an
LSTM cell, a Sinkhorn loop: decoration, then the version specialised to the arguments' shapes).

Each measurement loads the function's module afresh (a new code object), so nothing the compiler
cached for an earlier measurement is reused.
"""
from __future__ import annotations

import importlib.util
import itertools
import os
import statistics
import tempfile
import time

from checks import Reference, checked
from report import Section, Table, per_call

HERE = os.path.dirname(os.path.abspath(__file__))
_fresh = itertools.count()


def fresh(path, name):
    """`name` from a new copy of the module at `path`."""
    spec = importlib.util.spec_from_file_location(f"_bench_fresh_{next(_fresh)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def first_call(path, name, args, wrt):
    """Seconds from value_and_grad(fn) to the end of its first call, and the compiled function."""
    from compiler import value_and_grad
    fn = fresh(path, name)
    start = time.perf_counter()
    vg = value_and_grad(fn, wrt=wrt)
    vg(*args)
    return time.perf_counter() - start, vg, fn


STATEMENTS = ("v{k} = v{a} * x + y", "v{k} = math.sin(v{a}) * v{b}",
              "v{k} = math.exp(-v{a} * v{a}) + v{b}", "v{k} = v{a} / (1.0 + v{b} * v{b})",
              "v{k} = math.tanh(v{a} + v{b})")


def straight_line_source(n):
    """A function of two inputs and n statements, each reading the two before it (2-4 operations)."""
    lines = ["import math", "", "", "def straight(x, y):", "    v0 = x", "    v1 = y"]
    for k in range(2, n + 2):
        lines.append("    " + STATEMENTS[k % len(STATEMENTS)].format(k=k, a=k - 1, b=k - 2))
    lines.append(f"    return v{n + 1}")
    return "\n".join(lines) + "\n"


def measure(sizes, repeats, say=print):
    section = Section("decoration", "First calls: decoration and specialisation", INTRO)
    table = Table("Decoration (value_and_grad) to the end of the first call",
                  ["function", "statements", "first call", "per statement", "later calls",
                   "first / later"])
    from scalar_workloads import S1_POINT
    path = os.path.join(HERE, "scalar_workloads.py")
    runs = [first_call(path, "f57", S1_POINT, (0, 1, 2)) for _ in range(repeats)]
    first = statistics.median(r[0] for r in runs)
    later = _later(runs[-1][1], S1_POINT)
    table.add("f57", 9, per_call(first), per_call(first / 9), per_call(later), f"{first / later:.0f}")
    with tempfile.TemporaryDirectory() as folder:  # the compiler reads source from a real file
        for n in sizes:
            file = os.path.join(folder, f"straight_{n}.py")
            with open(file, "w") as fh:
                fh.write(straight_line_source(n))
            seconds, vg, fn = first_call(file, "straight", (0.3, 0.5), (0, 1))
            ref = Reference(fn, (0.3, 0.5), (0, 1))
            if checked(section, ref, f"straight-line, {n} statements", vg, (0.3, 0.5), say):
                later = _later(vg, (0.3, 0.5))
                table.add(f"straight-line, {n} statements", n, per_call(seconds),
                          per_call(seconds / n), per_call(later), f"{seconds / later:.0f}")
    from first_call_workloads import examples
    path = os.path.join(HERE, "first_call_workloads.py")
    for name, (args, wrt) in examples().items():
        runs = [first_call(path, name, args, wrt) for _ in range(repeats)]
        seconds = statistics.median(r[0] for r in runs)
        vg, fn = runs[-1][1], runs[-1][2]
        if checked(section, Reference(fn, args, wrt), name, vg, args, say):
            later = _later(vg, args)
            lines = len(_body_lines(fn))
            table.add(f"{name} (arrays)", lines, per_call(seconds), per_call(seconds / lines),
                      per_call(later), f"{seconds / later:.0f}")
    section.tables.append(table)
    return section


def _later(vg, args):
    times = []
    for _ in range(5):
        start = time.perf_counter()
        vg(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _body_lines(fn):
    import inspect
    source = inspect.getsource(fn).splitlines()[1:]
    return [line for line in source if line.strip() and not line.strip().startswith(('"""', "#"))]


INTRO = ("The cost paid once per function (and once more per new argument type or shape): reading "
         "the source, lowering, differentiating, optimising and emitting Python, then the first "
         "call. `first / later`: how many later calls the first one costs.")
