"""Shrink a failing generated program by hand-rolled delta debugging on its AST.

    python tests/fuzz/fuzz_reduce.py PROGRAM.py "POINT" MODE [TEXT]

POINT is a Python expression for f's arguments, e.g. "(0.5, 1.2)" or
"(np.array([0.1, 0.2, 0.3]), np.ones((2, 3)), np.zeros((2, 1)), 0.5)", or a list of them: the
compiled function is called at each in turn and the last must show the problem (the first call with
new shapes builds the specialised version the later ones run).
MODE says what must keep happening:
  raise      the compiled gradient raises an exception whose text contains TEXT
  refuse     value_and_grad refuses the program with a GradError containing TEXT
  compiled   the compiled value or gradient disagrees with plain Python / central differences
  tape       the tape's value or gradient disagrees with central differences (or it raises TEXT)
  mutate     the compiled call changes the caller's arrays
  accepts    the compiler accepts a program that writes into its arguments (plain Python does)
Plain Python must keep running at the point, and (for compiled/tape) central differences with two
steps must keep agreeing, so the result stays a fair example. Prints the smallest program found.
Not collected by pytest.
"""
import ast
import os
import signal
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.append(os.path.dirname(os.path.dirname(HERE)))  # (PYTHONPATH first: a
# compiler/runtime of another commit, e.g. from `git archive`)

import numpy as np  # noqa: E402

import fuzz_harness as H  # noqa: E402
from compiler import GradError, value_and_grad  # noqa: E402
from runtime.gradcheck import compare, numerical_grad  # noqa: E402


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def interesting(source, point, mode, text, seconds=3):
    """`_interesting`, with a time limit (a deleted `n += 1` makes a while loop endless)."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        return _interesting_source(source, point, mode, text)
    except _Timeout:
        return False
    finally:
        signal.alarm(0)


def _interesting_source(source, point, mode, text):
    try:
        compile(source, "<reduce>", "exec")
    except SyntaxError:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            mod = H.load_source(source, "fuzzreduce")
        except Exception:  # noqa: BLE001
            return False
        try:
            return _interesting(mod, point, mode, text)
        finally:
            H.unload(mod)


def _interesting(mod, point, mode, text):
    f = getattr(mod, "f", None)
    if f is None:
        return False
    points = point if isinstance(point, list) else [point]
    wrt = tuple(range(f.__code__.co_argcount))
    if any(len(wrt) != len(p) for p in points):
        return False
    mutated = False
    try:
        for p in points:
            args = H._copy_args(p)
            with np.errstate(all="raise"):
                value = f(*args)
            if np.ndim(value) != 0 or not np.isfinite(float(value)):
                return False
            mutated |= any(not np.array_equal(a, b) for a, b in zip(args, p))
    except Exception:  # noqa: BLE001
        return False
    if mutated and mode not in ("mutate", "accepts"):
        return False   # f writes into its arguments
    try:
        compiled = value_and_grad(f, wrt=wrt)
    except GradError as exc:
        return mode == "refuse" and text in str(exc)
    if mode == "refuse":
        return False
    *warm, point = points     # earlier points: calls that pick the specialised version
    try:
        for p in warm:
            compiled(*H._copy_args(p))
    except Exception:  # noqa: BLE001
        return False
    args = H._copy_args(point)
    try:
        cvalue, cgrads = compiled(*args)
    except GradError:
        return False
    except Exception as exc:  # noqa: BLE001
        return mode == "raise" and text in f"{type(exc).__name__}: {exc}"
    if mode == "mutate":
        return any(not np.array_equal(a, b) for a, b in zip(args, point))
    if mode == "accepts":
        return mutated
    if mode == "raise":
        return False
    try:
        numeric = []
        for i in wrt:
            n1 = numerical_grad(f, H._copy_args(point), i)
            n2 = H._numeric2(f, H._copy_args(point), i, H.STEP2)
            if not np.allclose(n1, n2, rtol=H.SMOOTH_RTOL, atol=H.SMOOTH_ATOL):
                return False
            numeric.append(n1)
    except Exception:  # noqa: BLE001
        return False
    if mode == "compiled":
        if not np.isclose(cvalue, value, rtol=H.VALUE_RTOL, atol=H.VALUE_ATOL):
            return True
        return any(np.shape(c) != np.shape(p) or not compare(c, n)[2]
                   for c, n, p in zip(cgrads, numeric, point))
    if mode == "tape":
        try:
            tvalue, tgrads = H.tape_runner(f, wrt)(*H._copy_args(point))
        except Exception as exc:  # noqa: BLE001
            return bool(text) and text in f"{type(exc).__name__}: {exc}"
        if text:
            return False
        if not np.isclose(tvalue, value, rtol=1e-9, atol=1e-9):
            return True
        return any(not compare(t, n)[2] for t, n in zip(tgrads, numeric))
    raise ValueError(mode)


# ---- candidate edits -----------------------------------------------------------------------------

def _bodies(tree):
    for node in ast.walk(tree):
        for field in ("body", "orelse"):
            body = getattr(node, field, None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                yield node, field


def statement_deletions(tree):
    """Trees with one statement removed (or a compound statement replaced by its body)."""
    paths = []
    for node, field in _bodies(tree):
        for i in range(len(getattr(node, field))):
            paths.append((node, field, i))
    for node, field, i in paths:
        body = getattr(node, field)
        stmt = body[i]
        replacements = [[]]
        if isinstance(stmt, (ast.If, ast.For, ast.While)):
            replacements.append(stmt.body)
            if getattr(stmt, "orelse", None):
                replacements.append(stmt.orelse)
        for rep in replacements:
            new_body = body[:i] + rep + body[i + 1:]
            if not new_body:
                if field == "orelse":
                    new_body = []
                else:
                    new_body = [ast.Pass()]
            old = body
            setattr(node, field, new_body)
            yield tree
            setattr(node, field, old)


class _Collect(ast.NodeVisitor):
    def __init__(self):
        self.sites = []

    def generic_visit(self, node):
        for field, value in ast.iter_fields(node):
            if isinstance(value, ast.expr):
                self.sites.append((node, field, None, value))
            elif isinstance(value, list):
                for i, v in enumerate(value):
                    if isinstance(v, ast.expr):
                        self.sites.append((node, field, i, v))
        super().generic_visit(node)


def expression_simplifications(tree):
    """Trees with one expression replaced by a sub-expression, a name or a constant."""
    c = _Collect()
    c.visit(tree)
    for parent, field, index, expr in c.sites:
        if isinstance(parent, (ast.Attribute, ast.keyword)) or (
                isinstance(parent, ast.Call) and field == "func"):
            continue
        if isinstance(expr, ast.Name) and isinstance(expr.ctx, ast.Store):
            continue
        if isinstance(expr, (ast.Tuple,)) and isinstance(getattr(expr, "ctx", None), ast.Store):
            continue
        candidates = []
        for child in ast.iter_child_nodes(expr):
            if isinstance(child, ast.expr) and not isinstance(child, (ast.expr_context,)):
                candidates.append(child)
        if not isinstance(expr, ast.Constant):
            candidates.append(ast.Constant(0.5))
        in_test = field == "test" or isinstance(parent, ast.BoolOp) or (
            isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not))
        if in_test:   # keep conditions comparisons (a float's truth value is another feature)
            candidates = [c for c in candidates if isinstance(c, (ast.Compare, ast.BoolOp))
                          or isinstance(c, ast.UnaryOp) and isinstance(c.op, ast.Not)]
        for cand in candidates:
            if index is None:
                old = getattr(parent, field)
                setattr(parent, field, cand)
                yield tree
                setattr(parent, field, old)
            else:
                lst = getattr(parent, field)
                old = lst[index]
                lst[index] = cand
                yield tree
                lst[index] = old


def reduce(source, point, mode, text=""):
    assert interesting(source, point, mode, text), "the program does not show the problem"
    best = ast.unparse(ast.parse(source))
    seen = {}

    def test(src):
        if src not in seen:
            seen[src] = interesting(src, point, mode, text)
        return seen[src]

    progress = True
    while progress:
        progress = False
        for editor in (statement_deletions, expression_simplifications):
            k = 0
            while True:
                candidates = [ast.unparse(t) for t in editor(ast.parse(best))]
                if k >= len(candidates):
                    break
                src = candidates[k]
                if len(src) < len(best) and test(src):
                    best = src
                    progress = True     # same index, new tree: the next candidate moved here
                else:
                    k += 1
    return best


if __name__ == "__main__":
    src = open(sys.argv[1]).read()
    point = eval(sys.argv[2], {"np": np, "array": np.array})  # noqa: S307 -- a local tool
    if not isinstance(point, (tuple, list)):
        point = (point,)
    mode = sys.argv[3]
    text = sys.argv[4] if len(sys.argv) > 4 else ""
    out = reduce(src, point, mode, text)
    print(out)
    print("\n# point:", sys.argv[2])
