"""Command line: `python -m compiler demo | show FILE.py:FUNC | check FILE.py:FUNC --args ...`."""
from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import sys
import textwrap

from .api import check_grad, grad, value_and_grad
from .errors import GradError

DEMO_SOURCE = '''\
def f(x, y, z):
    q = x + y
    return q * z
'''


def _demo_function():
    """The seed lecture's f = (x + y) * z, defined in a real file so its source can be read."""
    import tempfile
    folder = tempfile.mkdtemp(prefix="sourcead_demo_")
    path = os.path.join(folder, "seed_example.py")
    with open(path, "w") as fh:
        fh.write(DEMO_SOURCE)
    return _load(path, "f")


def demo(out=sys.stdout):
    f = _demo_function()
    args = (-2.0, 5.0, -4.0)
    df = grad(f, wrt=("x", "y", "z"))
    say = lambda text="": print(text, file=out)  # noqa: E731
    say("The seed lecture's example: f(x, y, z) = (x + y) * z at x=-2, y=5, z=-4\n")
    say("1. The function, as written:\n")
    say(textwrap.indent(DEMO_SOURCE, "    "))
    say("2. The static DAG the compiler builds from its AST (one primitive a line, SSA):\n")
    say(textwrap.indent(str(df.graph), "    "))
    say("\n3. Reverse mode on the DAG, before optimisation: the seed 1.0 flows back, the mul gate")
    say("   swaps its inputs (dq = z, dz = q), the add gate copies (dx = dy = dq):\n")
    from .ir import Builder, Namer, format_graph
    from .reverse import reverse
    from .specialize import specialize
    simplify, Builder.simplify = Builder.simplify, None  # show every step, unsimplified
    try:
        raw = specialize(reverse(df.graph, [0, 1, 2], with_value=False), {}, {}, default="scalar")
    finally:
        Builder.simplify = simplify
    say(textwrap.indent(format_graph(raw, Namer()), "    "))
    say("\n4. Optimised (1.0 * z is z, copies are shared) and emitted as Python, compiled once:\n")
    say(textwrap.indent(df.source, "    "))
    grads = df(*args)
    say(f"5. Gradients: df/dx = {grads[0]}, df/dy = {grads[1]}, df/dz = {grads[2]}")
    value, _ = value_and_grad(f, wrt=("x", "y", "z"))(*args)
    say(f"   and f itself = {value}\n")
    say("6. Checked against central finite differences:\n")
    say(textwrap.indent(str(check_grad(f, *args)), "    "))
    say("\nTry it on your own code:  python -m compiler show FILE.py:FUNC   "
        "python -m compiler check FILE.py:FUNC --args 0.5 1.2")


def _load(path, func):
    if not os.path.exists(path):
        raise SystemExit(f"error: no such file: {path}")
    name = "_sourcead_user_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec.loader.exec_module(module)
    fn = getattr(module, func, None)
    if fn is None:
        functions = [n for n, v in vars(module).items() if inspect.isfunction(v)
                     and v.__module__ == name]
        raise SystemExit(f"error: {path} has no function `{func}`; it defines: "
                         f"{', '.join(functions) or 'no functions'}")
    return getattr(fn, "__wrapped__", fn)


def _target(text):
    path, sep, func = text.rpartition(":")
    if not sep or not path or not func:
        raise SystemExit(f"error: expected FILE.py:FUNCTION, got {text!r}")
    return _load(path, func)


def _example_args(fn, shape_specs):
    import numpy as np
    shapes = {}
    for spec in shape_specs:
        name, _, dims = spec.partition("=")
        try:
            shapes[name] = tuple(int(d) for d in dims.split(",") if d)
        except ValueError:
            raise SystemExit(f"error: --shapes takes NAME=D1,D2,..., got {spec!r}") from None
    rng = np.random.default_rng(0)
    values = []
    for name, p in inspect.signature(fn).parameters.items():
        if name in shapes:
            values.append(rng.normal(size=shapes[name]))
        elif p.default is not inspect.Parameter.empty:
            values.append(p.default)
        else:
            values.append(0.5)
    unknown = set(shapes) - set(inspect.signature(fn).parameters)
    if unknown:
        raise SystemExit(f"error: {fn.__name__} has no parameter {', '.join(sorted(unknown))}")
    return values


def _wrt(text, fn):
    if text:
        items = tuple(int(t) if t.strip().lstrip("-").isdigit() else t.strip() for t in text.split(","))
        return items
    return tuple(inspect.signature(fn).parameters)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m compiler",
                                     description="Source-to-source reverse-mode differentiation.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="walk through the seed lecture's example f = (x + y) * z")
    show = sub.add_parser("show", help="print the generated gradient source of FILE.py:FUNC")
    show.add_argument("target")
    show.add_argument("--wrt", default="", help="comma-separated parameter names or indices")
    show.add_argument("--ir", action="store_true", help="also print the IR")
    show.add_argument("--shapes", nargs="+", default=(), metavar="NAME=D1,D2",
                      help="example array shapes, e.g. X=64,784 W=784,10: shows the version "
                           "specialised to them (other arguments: their defaults, else 0.5)")
    check = sub.add_parser("check", help="compiled vs numerical gradients of FILE.py:FUNC")
    check.add_argument("target")
    check.add_argument("--args", nargs="+", type=float, required=True)
    check.add_argument("--wrt", default="")
    cmp = sub.add_parser("compare", help="FILE.py:FUNC through the compiler and the tape, side by side")
    cmp.add_argument("target")
    cmp.add_argument("--args", nargs="+", type=float, required=True)
    cmp.add_argument("--wrt", default="")
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            demo()
        elif args.command == "show":
            fn = _target(args.target)
            df = grad(fn, wrt=_wrt(args.wrt, fn))
            if args.ir:
                print(df.graph, end="\n\n")
            if args.shapes:
                print(df.source_for(*_example_args(fn, args.shapes)), end="")
            else:
                print(df.source, end="")
        elif args.command == "compare":
            from .compare import compare
            fn = _target(args.target)
            names = list(inspect.signature(fn).parameters)
            wrt = None
            if args.wrt:
                wrt = tuple(names.index(w) if w in names else int(w) for w in _wrt(args.wrt, fn))
            compare(fn, tuple(args.args), wrt)
        elif args.command == "check":
            fn = _target(args.target)
            wrt = _wrt(args.wrt, fn) if args.wrt else None
            report = check_grad(fn, *args.args, wrt=wrt)
            print(report)
            return 0 if report.passed else 1
    except GradError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
