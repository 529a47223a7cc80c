"""One page that explains a gradient: `explain(f, -2.0, 5.0, -4.0, path="f.html")`.

Everything the compiler knows about one gradient at one point, gathered so a reader can follow it
from their code to the numbers: the user's source beside the generated source of the version that
runs for these arguments (each generated block linked to the user's line it comes from, through
the `# line N:` / `# gradient of line N:` comments the emitter writes), the typed IR, the picture
with values and gradients, the check against central differences, the inputs whose gradient is
zero by the graph's structure, the formula for straight-line scalar code, and what decorating and
calling cost. `explain_page.py` turns this into one self-contained HTML page.

What is gathered here is plain data (`Explanation`), so tests read it without parsing HTML.
"""
from __future__ import annotations

import ast
import inspect
import os
import re
import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from .errors import GradError
from .ir import Const, Loop, Var, free_vars, regions


@dataclass
class UserSource:
    """One function of the user's, as the page shows it: its name, file and numbered lines."""
    name: str
    filename: str
    start: int                 # the file's line number of lines[0]
    lines: list


@dataclass
class GeneratedLine:
    """One line of the generated source, and the user's line it comes from (if any)."""
    text: str
    key: tuple | None = None   # (function name, line number in its file)
    phase: str | None = None   # "forward" or "gradient"
    marker: bool = False       # the `# line N: ...` comment itself


@dataclass
class CheckRow:
    argument: str
    compiled: object
    numerical: object
    abs_error: float
    rel_error: float
    passed: bool


@dataclass
class Unused:
    """An input whose gradient is zero whatever the values: `why` is "no path" (the output never
    reads it) or "no gradient path" (read only through tests, bounds, rounding and the like)."""
    name: str
    why: str
    differentiated: bool


@dataclass
class Timing:
    decoration: float          # seconds: value_and_grad(f), the whole pipeline once
    first_call: float          # the first call (builds the version for these argument types)
    gradient: float            # median seconds per call of the gradient, once built
    primal: float              # median seconds per call of f itself
    gradient_samples: int = 0
    primal_samples: int = 0


@dataclass
class Explanation:
    name: str
    arguments: list            # [(name, value)]
    wrt: tuple
    value: object
    gradients: list            # [(name, gradient)], in the order of wrt
    signature: str             # the version's signature, `x: float, y: float`
    sources: list              # [UserSource]: the function, then the helpers it calls
    generated: list            # [GeneratedLine]
    func_name: str             # the generated function's name (f_value_and_grad)
    primal_ir: str
    gradient_ir: str
    svg: str | None
    picture_note: str | None
    check: list                # [CheckRow]
    check_passed: bool
    check_note: str | None     # why there is no check, when central differences cannot run
    unused: list               # [Unused]
    formula: str | None
    formula_note: str | None
    timing: Timing
    returns: list = field(default_factory=list)  # [(what, the expression returned for it)]

    def keys(self):
        """Every (function, line) some generated line is linked to."""
        return {g.key for g in self.generated if g.key is not None}


def explain(f, *args, wrt=None, path=None, with_formula=True):
    """The HTML page explaining the gradient of `f` at `args` (written to `path` if given).

    `f` is a plain function or what `grad` / `value_and_grad` returned; `wrt` names the parameters
    to differentiate (by default the float and float-array arguments). Returns the HTML text."""
    from . import explain_page  # noqa: PLC0415
    html = explain_page.render(gather(f, args, wrt, with_formula=with_formula))
    if path is not None:
        with open(os.fspath(path), "w", encoding="utf-8") as fh:
            fh.write(html)
    return html


# --- gathering --------------------------------------------------------------------------------------

def gather(f, args, wrt=None, with_formula=True):
    """The Explanation of the gradient of `f` at `args`."""
    from .api import Compiled, check_grad, value_and_grad  # noqa: PLC0415
    fn = getattr(f, "__wrapped__", f) if getattr(f, "_sourcead", None) is not None else f
    if not inspect.isfunction(fn):
        raise GradError(f"explain() takes a function written in Python (or what grad or "
                        f"value_and_grad returned), not {type(f).__name__}.")
    if wrt is None:
        wrt = getattr(f, "wrt", None) or _float_arguments(fn, args)
    wrt = tuple(wrt) if isinstance(wrt, (tuple, list)) else (wrt,)

    start = time.perf_counter()
    vg = value_and_grad(fn, wrt=wrt)
    decoration = time.perf_counter() - start
    compiled = getattr(vg, "_sourcead", None)
    if not isinstance(compiled, Compiled) or (
            compiled.structured is not None and compiled.structured.wants(args, {})):
        raise GradError(_BY_STRUCTURE.format(name=fn.__name__))
    start = time.perf_counter()
    try:
        value, grads = vg(*args)
    except ArithmeticError as exc:  # (a GradError, the user's own error: raised as they are)
        code = fn.__code__
        raise GradError(f'File "{code.co_filename}", line {code.co_firstlineno}, in '
                        f"{fn.__name__}\nits gradient raises {type(exc).__name__}: {exc} at "
                        f"these arguments: the derivative is not defined there (sqrt or log at 0, "
                        "a division by zero): explain it at another point.") from None
    first_call = time.perf_counter() - start
    names = list(compiled.names[:compiled.user_count])
    wrt_names = tuple(compiled.names[i] for i in compiled.wrt)
    values = compiled.arguments(args, {})
    try:
        report = check_grad(fn, *args, wrt=wrt_names)
        check, passed, check_note = [CheckRow(*row) for row in report.rows], report.passed, None
    except (ArithmeticError, ValueError) as exc:  # f raises a step away from the point
        check, passed = [], False
        check_note = (f"The check could not run: {fn.__name__} raises {type(exc).__name__} ({exc}) "
                      "a small step away from these arguments (central differences evaluate it "
                      "on both sides).")
    svg, picture_note = _picture(compiled, args)
    formula_text, formula_note = _formula(vg, compiled, with_formula)
    timing = _timing(decoration, first_call, vg, fn, args)
    source = compiled.source_for(*args)
    return Explanation(
        name=fn.__name__,
        arguments=list(zip(names, values)),
        wrt=wrt_names,
        value=value,
        gradients=list(zip(wrt_names, grads)),
        signature=compiled.describe(values),
        sources=_user_sources(compiled),
        generated=link_lines(source, compiled.fn.__name__),
        func_name=compiled.func_name,
        primal_ir=str(compiled.primal),
        gradient_ir=compiled.ir_for(*args),
        svg=svg,
        picture_note=picture_note,
        check=check,
        check_passed=passed,
        check_note=check_note,
        unused=unused_inputs(compiled),
        formula=formula_text,
        formula_note=formula_note,
        timing=timing,
        returns=returned(source, compiled.func_name, fn.__name__, wrt_names),
    )


_BY_STRUCTURE = ("{name} is compiled per structure or value of its arguments (containers such "
                 "as dicts and lists, or a function chosen by an argument): explain() shows "
                 "functions of numbers and arrays; for this one read grad(f).source_for(...) and "
                 "check_grad(f, ...).")


def _float_arguments(fn, args):
    from . import trees  # noqa: PLC0415
    names = list(inspect.signature(fn).parameters)
    found = tuple(n for n, v in zip(names, args) if isinstance(v, (float, np.floating)) or (
        isinstance(v, np.ndarray) and v.dtype.kind == "f"))
    if not found and any(trees.is_container(v) for v in args):
        raise GradError(_BY_STRUCTURE.format(name=fn.__name__))
    if not found:
        raise GradError(f"explain({fn.__name__}, ...): no float argument to differentiate; pass "
                        "floats (2.0, not 2) or name the parameters with wrt=.")
    return found


def _user_sources(compiled):
    """The function and every helper of the user's it reads (inlined into the graph)."""
    out, seen = [], set()
    for src in compiled.lowering.sources:
        if src.name in seen:
            continue
        seen.add(src.name)
        try:
            lines, start = inspect.getsourcelines(src.fn)
        except (OSError, TypeError):
            continue
        out.append(UserSource(src.name, src.filename, max(start, 1),
                              [line.rstrip("\n") for line in lines]))
    return out


def _picture(compiled, args):
    """(the SVG of the picture with values and gradients, None) or (None, why there is none)."""
    from . import drawing, picture  # noqa: PLC0415
    try:
        made = drawing.picture(compiled, args, {}, backward=True)
    except (GradError, TypeError) as exc:
        return None, f"The picture cannot be drawn here: {exc}"
    try:
        svg = made.digraph().pipe(format="svg").decode("utf-8")
    except (ImportError, picture.RenderError) as exc:
        return None, f"The picture is not in this page: {exc}"
    return svg[svg.index("<svg"):], None


def _formula(vg, compiled, wanted=True):
    """(the formula as text, None) for straight-line scalar code, else (None, why not)."""
    if compiled.scalar_version is None:
        return None, "skipped: the function takes or makes arrays (a formula covers numbers only)"
    control = sorted({e.prim for e in _all_eqns(compiled.primal) if regions(e)})
    if control:
        kinds = ", ".join({"cond": "a branch", "for": "a loop", "while": "a loop"}.get(p, p)
                          for p in control)
        return None, f"skipped: the function has {kinds} (a formula covers straight-line code)"
    if not wanted:
        return None, "left out (with_formula=False, or --no-formula on the command line)"
    from .formula import formula  # noqa: PLC0415
    try:
        return str(formula(vg)), None
    except GradError as exc:
        return None, f"skipped: {str(exc).splitlines()[-1]}"


# --- timing --------------------------------------------------------------------------------------

def _timing(decoration, first_call, vg, fn, args):
    gradient, n_gradient = _per_call(vg, args)
    primal, n_primal = _per_call(fn, args)
    return Timing(decoration, first_call, gradient, primal, n_gradient, n_primal)


def _per_call(call, args, samples=7, batch_seconds=2e-3, most=10000):
    """(median seconds per call, calls in all): calls run in batches long enough for the clock."""
    start = time.perf_counter()
    call(*args)
    once = time.perf_counter() - start
    if once > 0.2:  # a slow call: a few single calls are enough
        runs = [once] + [_timed(call, args, 1) for _ in range(2)]
        return statistics.median(runs), 3
    batch = max(1, min(most, int(batch_seconds / max(once, 1e-9))))
    runs = [_timed(call, args, batch) / batch for _ in range(samples)]
    return statistics.median(runs), samples * batch


def _timed(call, args, n):
    start = time.perf_counter()
    for _ in range(n):
        call(*args)
    return time.perf_counter() - start


# --- linking generated lines to the user's --------------------------------------------------------

_MARKER = re.compile(r"^(\s*)# (gradient of )?(?:(.+?), )?line (\d+): ")
_DEF = re.compile(r"^(\s*)def ")


def link_lines(source, user_name):
    """The generated source as GeneratedLines, each linked to the user's line it comes from.

    A `# line N: ...` comment starts the block of line N; the block holds the lines that follow at
    its indentation or deeper, until the next comment at that level or a line less indented. The
    generated function's final `return` belongs to no line."""
    out = []
    blocks = []  # (indentation, key, phase), innermost last
    body = None  # the indentation of the generated function's body
    for text in source.splitlines():
        stripped = text.lstrip()
        indent = len(text) - len(stripped)
        if not stripped:
            out.append(GeneratedLine(text))
            continue
        found = _MARKER.match(text)
        if found:
            while blocks and blocks[-1][0] >= indent:
                blocks.pop()
            key = (found.group(3) or user_name, int(found.group(4)))
            phase = "gradient" if found.group(2) else "forward"
            blocks.append((indent, key, phase))
            out.append(GeneratedLine(text, key, phase, marker=True))
            continue
        while blocks and blocks[-1][0] > indent:
            blocks.pop()
        if _DEF.match(text):
            body = indent + 4
        if indent == body and stripped.startswith("return"):
            blocks.clear()
        key, phase = (blocks[-1][1], blocks[-1][2]) if blocks else (None, None)
        out.append(GeneratedLine(text, key, phase))
    return out


def returned(source, func_name, name, wrt):
    """What the generated function's last `return` gives: [(`f`, expression), (`df/dx`,
    expression), ...], read from its `return value, (gradients...)`; [] when it has another form."""
    try:
        module = ast.parse(source)
    except SyntaxError:
        return []
    inner = [n for n in ast.walk(module) if isinstance(n, ast.FunctionDef) and n.name == func_name]
    if not inner or not inner[0].body or not isinstance(inner[0].body[-1], ast.Return):
        return []
    value = inner[0].body[-1].value
    if not isinstance(value, ast.Tuple) or len(value.elts) != 2:
        return []
    grads = value.elts[1]
    grads = grads.elts if isinstance(grads, ast.Tuple) else [grads]
    if len(grads) != len(wrt):
        return []
    return [(name, ast.unparse(value.elts[0]))] + [
        (f"d{name}/d{w}", ast.unparse(g)) for w, g in zip(wrt, grads)]


# --- inputs with zero gradient by structure ---------------------------------------------------------

def unused_inputs(compiled):
    """The parameters whose gradient is zero by the graph's structure, whatever the values:
    those with no path to the output in the function's graph, and the differentiated ones with a
    path that the reverse pass found carries no gradient (the gradient graph returns the constant
    0 for them: read only by comparisons, branch tests, loop bounds, rounding, stop_gradient)."""
    primal = compiled.primal
    names = list(compiled.names[:compiled.user_count])
    differentiated = {compiled.names[i] for i in compiled.wrt}
    constant = {compiled.names[i] for i, (k, _) in zip(compiled.wrt, compiled.gradient_of())
                if isinstance(compiled.grad_graph.results[k], Const)}
    out = []
    for name, param in zip(names, primal.params):
        if not reaches_output(primal, param):
            out.append(Unused(name, "no path", name in differentiated))
        elif name in differentiated and name in constant:
            out.append(Unused(name, "no gradient path", True))
    return out


def reaches_output(graph, source):
    """Whether any result of `graph` depends on `source` (a Var), through data or control: a
    value computed from it, a branch it decides, a loop it bounds or carries into."""
    touched = {source}
    _walk(graph, touched)
    return any(isinstance(r, Var) and r in touched for r in graph.results)


def _walk(graph, touched):
    """Mark in `touched` every variable of `graph` (and its regions) that depends on one in it."""
    for eqn in graph.eqns:
        if eqn.prim == "cond":
            test = eqn.ins[0] in touched
            branches = [eqn.params["then"], eqn.params["else"]]
            for branch in branches:
                _walk(branch, touched)
            for k, out in enumerate(eqn.outs):
                if test or any(_touched(b.results[k], touched) for b in branches):
                    touched.add(out)
        elif eqn.prim in ("for", "while"):
            _loop(eqn, touched)
        elif regions(eqn):  # any other region: every output depends on everything it reads
            reads = list(eqn.ins) + [v for sub in regions(eqn) for v in free_vars(sub)]
            if any(_touched(a, touched) for a in reads):
                touched.update(eqn.outs)
        elif any(_touched(a, touched) for a in eqn.ins):
            touched.update(eqn.outs)


def _loop(eqn, touched):
    loop = Loop(eqn)
    if loop.index is not None and any(_touched(b, touched) for b in loop.bounds):
        touched.add(loop.index)
    for p, init in zip(loop.carried, loop.inits):
        if _touched(init, touched):
            touched.add(p)
    while True:  # the body again until no carried value becomes dependent
        _walk(loop.body, touched)
        if loop.test is not None:
            _walk(loop.test, touched)
        grown = [p for p, nxt in zip(loop.carried, loop.next)
                 if p not in touched and _touched(nxt, touched)]
        if loop.test is not None:  # (a while's test reads the carried values as its params)
            for p, tp in zip(loop.carried, loop.test.params):
                if tp not in touched and p in touched:
                    touched.add(tp)
                    grown.append(tp)
        if not grown:
            break
        touched.update(grown)
    decided = _touched(loop.stop, touched) or (
        loop.test is not None and any(_touched(r, touched) for r in loop.test.results)) or (
        any(_touched(b, touched) for b in loop.bounds))
    for out, p, nxt, init in zip(loop.outs, loop.carried, loop.next, loop.inits):
        if decided or _touched(nxt, touched) or _touched(init, touched) or p in touched:
            touched.add(out)


def _touched(atom, touched):
    return isinstance(atom, Var) and atom in touched


def _all_eqns(graph):
    for eqn in graph.eqns:
        yield eqn
        for sub in regions(eqn):
            yield from _all_eqns(sub)


__all__ = ["explain", "gather", "Explanation", "link_lines", "unused_inputs", "reaches_output"]
