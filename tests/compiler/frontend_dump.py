"""Dump what the compiler makes of a fixed corpus, to show a refactoring changed nothing.

    PYTHONHASHSEED=0 python tests/compiler/frontend_dump.py OUT [--fuzz N]

For every function in tests/compiler/*_funcs.py, tests/reliability/*_funcs.py, the examples and
the module-level helpers of tests/compiler/test_*.py, with `grad` and `value_and_grad`: the primal
IR, the generated `.source` and the identifiers the namer treats as the user's (or the refusal's
type and message); for the array functions, `source_for` at float64 arguments of two shapes; with
`--fuzz N`, the same for N scalar and N NumPy programs of the differential fuzzer (derandomised,
so the same programs every run). Run it before and after a change to the compiler and `diff` the
two files: a refactoring must leave them byte-identical. Fix PYTHONHASHSEED: aliasing.py walks sets
of names (Memory.merged, loop_exit), so the order of a write_check's inputs varies between runs.
"""
import glob
import importlib.util
import os
import sys
import traceback

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "fuzz"))

from compiler import grad, value_and_grad  # noqa: E402
from compiler.errors import GradError  # noqa: E402


def load(path):
    name = "dump_" + os.path.relpath(path, ROOT).replace("/", "_").replace(".py", "")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, os.path.dirname(path))
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # an example needing a library that is not installed
        return None, f"{type(exc).__name__}: {exc}"
    return module, None


def functions(module, skip_tests=False):
    out = []
    for name, obj in vars(module).items():
        if callable(obj) and getattr(obj, "__module__", None) == module.__name__ \
                and hasattr(obj, "__code__") and not (skip_tests and name.startswith("test_")):
            out.append((name, obj))
    return out


def failure(exc):
    if isinstance(exc, GradError):
        return f"GradError: {exc}"
    last = traceback.extract_tb(exc.__traceback__)[-1]
    return f"{type(exc).__name__}: {exc} [at {os.path.basename(last.filename)}:{last.name}]"


def describe(fn, lines, arrays=False):
    for wrap in (grad, value_and_grad):
        lines.append(f"--- {wrap.__name__}")
        try:
            f = wrap(fn)
        except Exception as exc:  # noqa: BLE001 - recorded, compared before/after
            lines.append(failure(exc))
            continue
        lines.append(str(f.graph))
        lines.append(f.source)
        owned = sorted(n for n in f._sourcead.lowering.user_locals if n.isidentifier())
        lines.append("owned: " + " ".join(owned))
        if arrays and wrap is grad:
            nargs = fn.__code__.co_argcount
            for shape in ((3,), (3, 3)):
                rng = np.random.default_rng(0)
                args = [rng.uniform(0.5, 1.5, size=shape) for _ in range(nargs)]
                lines.append(f"--- source_for {shape}")
                try:
                    lines.append(f.source_for(*args))
                except Exception as exc:  # noqa: BLE001
                    lines.append(failure(exc))


def fuzz_sources(n):
    from hypothesis import HealthCheck, given, settings
    import fuzz_programs as P

    out = []
    for family in (P.scalar_programs(), P.array_programs()):
        @settings(max_examples=n, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(program=family)
        def collect(program):
            out.append(program.source)

        collect()
    return out


def main(path, fuzz=0):
    lines = []
    files = sorted(glob.glob(os.path.join(ROOT, "tests", "compiler", "*_funcs.py"))
                   + glob.glob(os.path.join(ROOT, "tests", "reliability", "*_funcs.py"))
                   + glob.glob(os.path.join(ROOT, "examples", "*.py"))
                   + glob.glob(os.path.join(ROOT, "examples", "benchmarks", "*.py")))
    tests = sorted(glob.glob(os.path.join(ROOT, "tests", "compiler", "test_*.py")))
    for file in files + tests:
        module, error = load(file)
        lines.append(f"=== {os.path.relpath(file, ROOT)}")
        if module is None:
            lines.append(error)
            continue
        arrays = os.path.basename(file) in ("array_funcs.py", "aliasing_funcs.py", "mlp.py",
                                            "logistic_regression.py")
        for name, fn in functions(module, skip_tests=file in tests):
            lines.append(f"== {name}")
            describe(fn, lines, arrays)
    if fuzz:
        import fuzz_harness as H
        for k, source in enumerate(fuzz_sources(fuzz)):
            lines.append(f"=== fuzz program {k}")
            lines.append(source)
            module = H.load_source(source, stem="dumpprog")
            describe(module.f, lines)
            H.unload(module)
    text = "\n".join(lines) + "\n"
    text = text.replace(ROOT, "<root>")  # the same text from any checkout
    if fuzz:
        text = text.replace(H._tmpdir(), "<tmp>").replace(f"_{os.getpid()}_", "_<pid>_")
    with open(path, "w") as fh:
        fh.write(text)
    print(f"{path}: {len(lines)} lines")


if __name__ == "__main__":
    n = int(sys.argv[sys.argv.index("--fuzz") + 1]) if "--fuzz" in sys.argv else 0
    main(sys.argv[1], n)
