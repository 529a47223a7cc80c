"""Command line: `python -m compiler demo | show FILE.py:FUNC [--latex] | check FILE.py:FUNC --args ...
| compare ... | graph FILE.py:FUNC --args ... -o pic.svg | export FILE.py:FUNC -o OUT.py
| explain FILE.py:FUNC --args ... -o page.html`.

Whatever goes wrong is one message on stderr, never a traceback, and an exit status:

    0  done (`check`: every gradient matched; `compare`: both designs ran and agree)
    1  the compiler refused the function (its GradError, pointing at the user's line), the user's
       file failed to import, `check` found a mismatch, `compare` found the gradients disagree, or
       an internal compiler error (SOURCEAD_DEBUG=1 shows its traceback)
    2  the command line does not fit: no such file or function, a directory, not a function, wrong
       number or kind of --args, an unknown --wrt, arguments the function raises on
"""
from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import sys
import tempfile
import textwrap
import traceback

from .api import check_grad, grad, value_and_grad
from .errors import GradError

MODULE_PROG = "python -m compiler"
DEBUG_VARIABLE = "SOURCEAD_DEBUG"

DEMO_SOURCE = '''\
def f(x, y, z):
    q = x + y
    return q * z
'''


class CommandError(Exception):
    """A problem to report in one message, with the exit status it deserves."""

    def __init__(self, message, status=2):
        super().__init__(message)
        self.status = status


def demo(out=sys.stdout, prog=MODULE_PROG):
    # f must live in a real file for its source to be read; the folder goes when the demo ends
    with tempfile.TemporaryDirectory(prefix="sourcead_demo_") as folder:
        path = os.path.join(folder, "seed_example.py")
        with open(path, "w") as fh:
            fh.write(DEMO_SOURCE)
        f = _load(path, "f", module_name="_sourcead_demo_seed_example", on_path=False)
        try:
            _demo(f, out, prog)
        finally:
            sys.modules.pop("_sourcead_demo_seed_example", None)


def _demo(f, out, prog):
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
    from .ir import Namer, format_graph
    from .reverse import reverse
    from .specialize import specialize
    # every step shown, unsimplified
    raw = specialize(reverse(df.graph, [0, 1, 2], with_value=False, simplify=None), {}, {},
                     default="scalar", simplify=None)
    say(textwrap.indent(format_graph(raw, Namer()), "    "))
    say("\n4. Optimised (1.0 * z is z, copies are shared) and emitted as Python, compiled once:\n")
    say(textwrap.indent(df.source, "    "))
    grads = df(*args)
    say(f"5. Gradients: df/dx = {grads[0]}, df/dy = {grads[1]}, df/dz = {grads[2]}")
    value, _ = value_and_grad(f, wrt=("x", "y", "z"))(*args)
    say(f"   and f itself = {value}\n")
    say("6. Checked against central finite differences:\n")
    say(textwrap.indent(str(check_grad(f, *args)), "    "))
    _demo_transformations(out)
    say(f"\nTry it on your own code:  {prog} show FILE.py:FUNC   "
        f"{prog} check FILE.py:FUNC --args 0.5 1.2\n"
        f"See it:  {prog} graph FILE.py:FUNC --args 0.5 1.2 --backward -o f.svg   "
        f"{prog} explain FILE.py:FUNC --args 0.5 1.2 -o f.html")


VECTOR_SOURCE = """\
import numpy as np


def f2(x):
    y = x * x + 3.0        # y = f1(x), a 2-vector
    return np.sin(y) * 2.0  # z = f2(y), a 2-vector
"""


def _demo_transformations(out):
    """The lecture's vector output: backward(gradient=[0.2, 0.8]) is a vjp with that seed; the
    same function in forward mode (jvp), and a Hessian, forward over the gradient."""
    import numpy as np  # noqa: PLC0415

    from .transforms import hessian, jvp, vjp  # noqa: PLC0415
    say = lambda text="": print(text, file=out)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="sourcead_demo_") as folder:
        path = os.path.join(folder, "vector_example.py")
        with open(path, "w") as fh:
            fh.write(VECTOR_SOURCE)
        f2 = _load(path, "f2", module_name="_sourcead_demo_vector", on_path=False)
        try:
            x = np.array([1.0, 2.0])
            say("7. A vector output, as in the lecture's backward(gradient=[0.2, 0.8]):\n")
            say(textwrap.indent(VECTOR_SOURCE, "    "))
            z, back = vjp(f2, x)
            seed = np.array([0.2, 0.8])
            say(f"   vjp(f2, x=[1, 2]) gives z = {z} and back([0.2, 0.8]) = {back(seed)[0]}")
            say("   (the seed weighs each output: 0.2 dz1/dx + 0.8 dz2/dx)")
            import runtime as rt  # noqa: PLC0415
            xt = rt.tensor(x, requires_grad=True)
            f2(xt).backward(gradient=seed)
            say(f"   the tape's z.backward(gradient=[0.2, 0.8]) gives x.grad = {xt.grad.data}\n")
            value, tangent = jvp(f2, (x,), (np.array([1.0, 0.0]),))
            say("8. Forward mode (jvp): the derivative along a direction, the tangents computed "
                "beside the values:\n")
            say(textwrap.indent(jvp(f2).source_for(x, np.array([1.0, 0.0])), "    "))
            say(f"   jvp(f2, (x,), ([1, 0],)) = {tangent}: the first column of the Jacobian\n")
            h = hessian(lambda x: np.sum(f2(x)))(x)
            say(f"9. hessian(lambda x: np.sum(f2(x)))(x) = {h.tolist()} (forward over the "
                "gradient graph)")
        finally:
            sys.modules.pop("_sourcead_demo_vector", None)


# ----------------------------------------------------------------------------- the user's file

def _user_line(exc, filename):
    """', line N' for the deepest frame of `exc` in `filename`, else ''."""
    where = os.path.abspath(filename)
    frames = [fr for fr in traceback.extract_tb(exc.__traceback__)
              if os.path.abspath(fr.filename) == where]
    return f", line {frames[-1].lineno}" if frames else ""


def _exception_text(exc):
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _defined_functions(module):
    return [n for n, v in vars(module).items()
            if inspect.isfunction(v) and v.__module__ == module.__name__]


def _import(path, module_name=None, on_path=True):
    """Run the user's file as a module, turning every way it can fail into a CommandError."""
    if not os.path.exists(path):
        raise CommandError(f"no such file: {path}: check the path (relative paths start from "
                           f"{os.getcwd()})")
    if os.path.isdir(path):
        found = sorted(n for n in os.listdir(path) if n.endswith(".py"))
        holds = (f"it holds {', '.join(found[:5])}{', ...' if len(found) > 5 else ''}" if found
                 else "it holds no .py file")
        raise CommandError(f"{path} is a directory, not a Python file: name a file in it, as "
                           f"{os.path.join(path, 'FILE.py')}:FUNC ({holds})")
    name = module_name or "_sourcead_user_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CommandError(f"{path} is not a Python file: give a .py file, as FILE.py:FUNC")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = os.path.dirname(os.path.abspath(path))
    if on_path and folder not in sys.path:
        sys.path.insert(0, folder)  # so the file can import its neighbours, as `python FILE.py` would
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise CommandError(f"{path}, line {exc.lineno}: {type(exc).__name__}: {exc.msg}: fix the "
                           f"file so that `python {path}` runs", status=1) from None
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)
        raise CommandError(f"{path}{_user_line(exc, path)}: {_exception_text(exc)} while "
                           f"importing it: fix the file (or install what it imports) so "
                           f"that `python {path}` runs", status=1) from None
    return module


def _load(path, func, module_name=None, on_path=True):
    module = _import(path, module_name, on_path)
    defined = ", ".join(_defined_functions(module)) or "no functions"
    if not hasattr(module, func):
        raise CommandError(f"{path} has no function `{func}`; it defines: {defined}")
    fn = getattr(module, func)
    fn = getattr(fn, "__wrapped__", fn)  # a function decorated with @grad: its original
    if not inspect.isfunction(fn):
        what = ("a module" if inspect.ismodule(fn) else "a class" if inspect.isclass(fn)
                else "a built-in function" if inspect.isbuiltin(fn)
                else f"a {type(fn).__name__}")
        raise CommandError(f"`{func}` in {path} is {what}, not a function written in Python: name a "
                           f"function defined with `def`; {path} defines: {defined}")
    return fn


def _target(text):
    path, sep, func = text.rpartition(":")
    if not sep or not path or not func or os.sep in func or "/" in func or func.endswith(".py"):
        listing = ""
        if os.path.isfile(text):
            try:
                listing = f"; it defines: {', '.join(_defined_functions(_import(text))) or 'no functions'}"
            except CommandError:
                pass
        raise CommandError(f"expected FILE.py:FUNC, got {text!r}: add the name of the function to "
                           f"differentiate after a colon, e.g. {text.rstrip(':') or 'model.py'}:loss"
                           f"{listing}")
    if not func.isidentifier():
        raise CommandError(f"{func!r} in {text!r} is not a function name: write FILE.py:FUNC")
    return _load(path, func)


# ----------------------------------------------------------------------------- arguments

def _number(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number, got {text!r}: give one number per parameter, e.g. --args 0.5 1.2"
        ) from None


def _params(fn):
    return list(inspect.signature(fn).parameters.values())


def _signature_text(fn):
    return f"{fn.__name__}({', '.join(p.name for p in _params(fn))})"


def _bind(fn, values):
    """Positional --args for `fn`, checked against its signature."""
    positional = [p for p in _params(fn)
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    missing_kw = [p.name for p in _params(fn) if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
    if missing_kw:
        raise CommandError(f"{_signature_text(fn)} has keyword-only parameter(s) without a default "
                           f"({', '.join(missing_kw)}), which --args cannot pass: call "
                           "compiler.check_grad from Python instead")
    if not len(required) <= len(values) <= len(positional) and not any(
            p.kind is p.VAR_POSITIONAL for p in _params(fn)):
        want = (f"{len(required)}" if len(required) == len(positional)
                else f"{len(required)} to {len(positional)}")
        names = ", ".join(p.name for p in positional) or "none"
        raise CommandError(f"{fn.__name__} takes {want} argument(s) ({names}) but --args gave "
                           f"{len(values)}: give one number per parameter, e.g. --args "
                           f"{' '.join(['0.5'] * max(len(required), 1))}")
    return tuple(values)


def _wrt(text, fn, as_indices=False):
    """--wrt as a tuple of parameter names or indices, each checked to be a parameter of `fn`."""
    names = [p.name for p in _params(fn)]
    if not text:
        return tuple(range(len(names))) if as_indices else tuple(names)
    items = []
    for item in (t.strip() for t in text.split(",")):
        if item.lstrip("-").isdigit():
            index = int(item)
            if not -len(names) <= index < len(names):
                raise CommandError(f"--wrt {item}: {fn.__name__} has {len(names)} parameter(s) "
                                   f"({', '.join(names) or 'none'}): use an index from 0 to "
                                   f"{len(names) - 1} or a name")
            items.append(index % len(names) if as_indices else index)
        elif item in names:
            items.append(names.index(item) if as_indices else item)
        else:
            raise CommandError(f"--wrt {item or repr(text)}: {fn.__name__} has no parameter "
                               f"{item!r}; its parameters are: {', '.join(names) or 'none'}")
    return tuple(items)


def _try_call(fn, args, what, fix):
    """Run the user's function once, so a failure is reported as theirs, not the compiler's."""
    try:
        fn(*args)
    except Exception as exc:
        filename = fn.__code__.co_filename
        line = _user_line(exc, filename)
        line = f" ({filename}{line})" if line else ""
        raise CommandError(f"{fn.__name__}({what}) raised {_exception_text(exc)}{line}: {fix}") from None


def _example_args(fn, shape_specs):
    import numpy as np
    shapes = {}
    for spec in shape_specs:
        name, eq, dims = spec.partition("=")
        try:
            if not eq or not name:
                raise ValueError
            shapes[name] = tuple(int(d) for d in dims.split(",") if d)
        except ValueError:
            raise CommandError(f"--shapes takes NAME=D1,D2,..., got {spec!r}: e.g. --shapes "
                               "X=64,784 W=784,10") from None
    names = [p.name for p in _params(fn)]
    unknown = set(shapes) - set(names)
    if unknown:
        raise CommandError(f"--shapes names {', '.join(sorted(unknown))}, but {fn.__name__} has no "
                           f"such parameter; its parameters are: {', '.join(names) or 'none'}")
    rng = np.random.default_rng(0)
    values = []
    for p in _params(fn):
        if p.name in shapes:
            values.append(rng.normal(size=shapes[p.name]))
        elif p.default is not inspect.Parameter.empty:
            values.append(p.default)
        else:
            values.append(0.5)
    return values


# ----------------------------------------------------------------------------- the commands

def _shaped_example(fn, shapes):
    """Arguments of the shapes --shapes names (None without it), checked by calling fn on them."""
    if not shapes:
        return None
    example = _example_args(fn, shapes)
    _try_call(fn, example, ", ".join(_short_arg(p.name, v) for p, v in zip(_params(fn), example)),
              "give --shapes that fit together (parameters not named get their default, "
              "else 0.5)")
    return example


def _show(args):
    fn = _target(args.target)
    wrt = _wrt(args.wrt, fn)
    example = _shaped_example(fn, args.shapes)
    if args.latex:
        if args.shapes:
            raise CommandError("--latex shows the gradient of scalar code as a formula; --shapes "
                               "is for array arguments: leave one of them out")
        from .formula import formula  # noqa: PLC0415
        made = formula(fn, wrt=wrt)
        if args.ir:
            print(grad(fn, wrt=wrt).graph, end="\n\n")
        print(made.latex())
        return 0
    df = grad(fn, wrt=wrt)
    if args.ir:
        print(df.graph, end="\n\n")
    if args.jvp or args.hessian:
        from . import transforms  # noqa: PLC0415
        made = transforms.jvp(fn, wrt=wrt) if args.jvp else transforms.hessian(fn, wrt=wrt)
        if not args.shapes:
            print(made.source, end="")
            return 0
        import numpy as np  # noqa: PLC0415
        names = [p.name for p in _params(fn)]
        tangents = [np.ones_like(example[names.index(w) if isinstance(w, str) else w])
                    for w in wrt]
        print(made.source_for(*example, *tangents), end="")
        return 0
    print(df.source_for(*example) if args.shapes else df.source, end="")
    return 0


def _check(args):
    fn = _target(args.target)
    values = _bind(fn, args.args)
    wrt = _wrt(args.wrt, fn) if args.wrt else None
    _try_call(fn, values, ", ".join(f"{v:g}" for v in values), _FLOATS_ONLY)
    report = check_grad(fn, *values, wrt=wrt)
    print(report)
    return 0 if report.passed else 1


def _compare(args):
    from .compare import compare
    fn = _target(args.target)
    values = _bind(fn, args.args)
    wrt = _wrt(args.wrt, fn, as_indices=True) if args.wrt else None
    _try_call(fn, values, ", ".join(f"{v:g}" for v in values), _FLOATS_ONLY)
    results = compare(fn, values, wrt)
    refused = results["compiled"][2]
    if isinstance(refused, Exception):
        raise refused
    return 0 if results.get("agree", True) else 1


def _graph(args):
    """A picture of the gradient (drawing.py), or of the tape's graph with --tape, written to -o
    in the format its suffix names (.svg, .png, .pdf, .dot), or as DOT text to stdout."""
    from . import picture  # noqa: PLC0415
    fn = _target(args.target)
    values = _bind(fn, args.args)
    wrt = _wrt(args.wrt, fn, as_indices=True)
    if args.output and os.path.splitext(args.output)[1].lstrip(".").lower() not in picture.FORMATS:
        raise CommandError(f"-o {args.output}: name the picture's file with one of the suffixes "
                           f"{', '.join('.' + f for f in picture.FORMATS)} (its format)")
    _try_call(fn, values, ", ".join(f"{v:g}" for v in values), _FLOATS_ONLY)
    try:
        made = (_tape_picture if args.tape else _compiled_picture)(fn, values, wrt, args.backward)
        if args.output is None:
            print(made.source(), end="")
            return 0
        picture.save(made, args.output)
    except (ImportError, picture.RenderError) as exc:
        raise CommandError(str(exc), status=1) from None
    print(f"wrote {args.output}")
    return 0


def _explain(args):
    """One HTML page explaining the gradient at --args (explain.py): written to -o, or printed."""
    from .explain import explain  # noqa: PLC0415
    fn = _target(args.target)
    values = _bind(fn, args.args)
    wrt = _wrt(args.wrt, fn)
    if args.output and os.path.isdir(args.output):
        raise CommandError(f"-o {args.output} is a directory: name the page's file, e.g. "
                           f"{os.path.join(args.output, fn.__name__ + '.html')}")
    folder = os.path.dirname(os.path.abspath(args.output)) if args.output else None
    if folder and not os.path.isdir(folder):
        raise CommandError(f"-o {args.output}: no folder {folder}: create it, or name a file in a "
                           "folder that exists")
    _try_call(fn, values, ", ".join(f"{v:g}" for v in values), _FLOATS_ONLY)
    page = explain(fn, *values, wrt=wrt, with_formula=not args.no_formula)
    if args.output is None:
        print(page, end="")
        return 0
    try:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(page)
    except OSError as exc:
        raise CommandError(f"-o {args.output}: cannot write the page: {exc.strerror}: name a file "
                           "in a folder that exists and that you may write to") from None
    print(f"wrote {args.output}")
    return 0


def _tape_picture(fn, values, wrt, backward):
    """The tape's Picture of fn at `values`: the differentiated arguments as leaves that require
    grad, backward(retain_graph=True) so every wire's gradient can be shown."""
    import runtime  # noqa: PLC0415

    from . import compare  # noqa: PLC0415
    from runtime.drawing import picture  # noqa: PLC0415
    names = [p.name for p in _params(fn)]
    tensors = [runtime.tensor(v, requires_grad=i in wrt) for i, v in enumerate(values)]
    try:
        out = compare.on_tape(fn)(*tensors)
        if backward:
            out.backward(retain_graph=True)
    except Exception as exc:
        raise CommandError(f"{fn.__name__} on the tape raised {_exception_text(exc)}: the tape "
                           "records numbers and NumPy arrays (see `compare`)", status=1) from None
    if not isinstance(out, runtime.Tensor) or out.grad_fn is None and not out.requires_grad:
        raise CommandError(f"{fn.__name__} returned {type(out).__name__} on the tape, not a "
                           "Tensor that depends on the --wrt arguments: nothing was recorded",
                           status=1)
    return picture(out, dict(zip(names, tensors)), backward=backward, name=fn.__name__)


def _compiled_picture(fn, values, wrt, backward):
    from . import drawing  # noqa: PLC0415
    from .api import Compiled  # noqa: PLC0415
    compiled = getattr(grad(fn, wrt=wrt), "_sourcead", None)
    if not isinstance(compiled, Compiled):
        raise CommandError(f"{fn.__name__} is compiled per structure or value of its arguments: "
                           "graph draws functions of numbers; call f.draw(...) from Python on a "
                           "function that takes them", status=1)
    return drawing.picture(compiled, values, {}, backward)


def _export(args):
    fn = _target(args.target)
    wrt = _wrt(args.wrt, fn)
    example = _shaped_example(fn, args.shapes)
    made = (value_and_grad if args.value else grad)(fn, wrt=wrt)
    output = args.output or f"{fn.__name__}_{'value_and_grad' if args.value else 'grad'}.py"
    if os.path.isdir(output):
        raise CommandError(f"-o {output} is a directory: name the file to write, as "
                           f"{os.path.join(output, fn.__name__ + '_grad.py')}")
    stem = os.path.splitext(os.path.basename(output))[0]
    if not output.endswith(".py") or not stem.isidentifier():
        raise CommandError(f"-o {output}: write to a .py file whose name can be imported, as "
                           f"{fn.__name__}_grad.py")
    try:
        path = made.export(output, args=example)
    except OSError as exc:
        raise CommandError(f"cannot write {output}: {exc.strerror or exc}", status=1) from None
    name = made._sourcead.func_name
    print(f"wrote {path}: `from {stem} import {name}`, then {name}"
          f"({', '.join(p.name for p in _params(fn))}) (NumPy only)")
    return 0


_FLOATS_ONLY = ("--args passes every argument as a float: for array arguments call "
                "compiler.check_grad from Python, or use `show FILE.py:FUNC --shapes NAME=D1,D2`")


def _short_arg(name, value):
    shape = getattr(value, "shape", None)
    return f"{name}=array{shape}" if shape else f"{name}={value!r}"


def _program():
    """The name to call ourselves: the script's name when run as `sourcead`, else the module's."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if not name or name in ("__main__.py", "-c", "-m") or name.endswith(".py"):
        return MODULE_PROG
    return name


class _Parser(argparse.ArgumentParser):
    """argparse, with its error as one line that says where to find the usage."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _parser(prog):
    parser = _Parser(prog=prog, description="Source-to-source reverse-mode differentiation.",
                     epilog=f"Set {DEBUG_VARIABLE}=1 to see the traceback of an internal compiler error.")
    sub = parser.add_subparsers(dest="command", required=True,
                                metavar="{demo,show,check,compare,graph,export,explain}")
    sub.add_parser("demo", help="walk through the seed lecture's example f = (x + y) * z")
    show = sub.add_parser("show", help="print the generated gradient source of FILE.py:FUNC")
    show.add_argument("target", metavar="FILE.py:FUNC")
    show.add_argument("--wrt", default="", help="comma-separated parameter names or indices")
    show.add_argument("--ir", action="store_true", help="also print the IR")
    shown = show.add_mutually_exclusive_group()
    shown.add_argument("--jvp", action="store_true",
                       help="print the forward-mode (Jacobian-vector product) source instead")
    shown.add_argument("--hessian", action="store_true",
                       help="print the Hessian's source (forward over the gradient) instead")
    shown.add_argument("--latex", action="store_true",
                       help="print the gradient as a formula, a LaTeX aligned block, instead "
                            "(straight-line scalar code; needs SymPy)")
    show.add_argument("--shapes", nargs="+", default=(), metavar="NAME=D1,D2",
                      help="example array shapes, e.g. X=64,784 W=784,10: shows the version "
                           "specialised to them (other arguments: their defaults, else 0.5)")
    check = sub.add_parser("check", help="compiled vs numerical gradients of FILE.py:FUNC")
    check.add_argument("target", metavar="FILE.py:FUNC")
    check.add_argument("--args", nargs="+", type=_number, required=True,
                       help="one number per parameter")
    check.add_argument("--wrt", default="", help="comma-separated parameter names or indices")
    cmp = sub.add_parser("compare", help="FILE.py:FUNC through the compiler and the tape, side by side")
    cmp.add_argument("target", metavar="FILE.py:FUNC")
    cmp.add_argument("--args", nargs="+", type=_number, required=True,
                     help="one number per parameter")
    cmp.add_argument("--wrt", default="", help="comma-separated parameter names or indices")
    graph = sub.add_parser("graph", help="draw FILE.py:FUNC's graph with its values (and gradients)")
    graph.add_argument("target", metavar="FILE.py:FUNC")
    graph.add_argument("--args", nargs="+", type=_number, required=True,
                       help="one number per parameter")
    graph.add_argument("--wrt", default="", help="comma-separated parameter names or indices")
    graph.add_argument("--backward", action="store_true",
                       help="also the gradients (red, below the wires; values are green, above)")
    graph.add_argument("--tape", action="store_true",
                       help="draw what the dynamic tape (runtime) records instead")
    graph.add_argument("-o", "--output", metavar="FILE",
                       help="the picture: .svg, .png, .pdf (need Graphviz's dot) or .dot; "
                            "without it, DOT text on stdout")
    export = sub.add_parser("export", help="write a standalone module computing the gradient of "
                                           "FILE.py:FUNC with NumPy only")
    export.add_argument("target", metavar="FILE.py:FUNC")
    export.add_argument("-o", "--output", metavar="OUT.py",
                        help="the module to write (default: FUNC_grad.py here)")
    export.add_argument("--wrt", default="", help="comma-separated parameter names or indices")
    export.add_argument("--value", action="store_true",
                        help="value_and_grad: return (FUNC(...), gradient)")
    export.add_argument("--shapes", nargs="+", default=(), metavar="NAME=D1,D2",
                        help="example array shapes, e.g. X=64,784 W=784,10: the version "
                             "specialised to them is written too (other arguments: their "
                             "defaults, else 0.5)")
    page = sub.add_parser("explain", help="one HTML page explaining FILE.py:FUNC's gradient at "
                                          "--args: code side by side, picture, check, timing")
    page.add_argument("target", metavar="FILE.py:FUNC")
    page.add_argument("--args", nargs="+", type=_number, required=True,
                      help="one number per parameter")
    page.add_argument("--wrt", default="", help="comma-separated parameter names or indices")
    page.add_argument("--no-formula", action="store_true",
                      help="leave the formula out (it starts SymPy: a second or two)")
    page.add_argument("-o", "--output", metavar="FILE.html",
                      help="the page; without it, the HTML on stdout")
    return parser


def main(argv=None, prog=None):
    prog = prog or _program()
    parser = _parser(prog)
    args = parser.parse_args(argv)
    where = f"{prog} {args.command}"
    try:
        if args.command == "demo":
            demo(prog=prog)
            return 0
        return {"show": _show, "check": _check, "compare": _compare,
                "graph": _graph, "export": _export, "explain": _explain}[args.command](args)
    except CommandError as exc:
        print(f"{where}: error: {exc}", file=sys.stderr)
        return exc.status
    except GradError as exc:
        message = str(exc)
        doing = "write as a formula the gradient of" if getattr(args, "latex", False) \
            else "differentiate"
        head = f"cannot {doing} {args.target.rpartition(':')[2]}:\n" \
            if message.startswith("File ") else ""
        print(f"{where}: error: {head}{message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `... | head` stopped reading: nothing is wrong, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if os.environ.get(DEBUG_VARIABLE):
            raise
        print(f"{where}: internal compiler error: {_exception_text(exc)}. This is a bug in sourcead, "
              f"not in your code: run again with {DEBUG_VARIABLE}=1 to see the traceback, and please "
              "report it", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(prog=MODULE_PROG))
