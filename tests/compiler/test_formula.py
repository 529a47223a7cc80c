"""formula(f): the gradient of straight-line scalar code as SymPy expressions (compiler/formula.py).

What it must be: the compiled gradient itself (checked at random points against the compiled code),
with shared subexpressions written once, printed readably and as LaTeX; code outside its class is
refused at the user's line, saying what to read instead; SymPy past its budget is an error, not a
hang."""
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

sympy = pytest.importorskip("sympy")

import compiler.symbolic as symbolic  # noqa: E402
from compiler import GradError, formula, grad, value_and_grad  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# --- the functions --------------------------------------------------------------------------------

def seed(x, y, z):
    q = x + y
    return q * z


def shared(x, y):
    s = math.exp(x * y)
    return s * s + math.sin(s) * y


def trig(x, y):
    return math.sin(x) * math.cos(y) + math.tan(x * y) - math.atan(x - y)


def logs(x, y):
    return math.log(x * y + 1.0) * math.exp(-x) + math.log1p(y) - math.log2(x) + math.log10(y)


def hyperbolic(x, y):
    t = math.tanh(x * y)
    return t * t + math.sinh(x) / math.cosh(y)


def roots_and_powers(x, y):
    return math.sqrt(x * x + y) + math.pow(x, 2.5) + x ** 3 - y ** -2 + x ** y


def angles(x, y):
    r = math.hypot(x, y)
    return math.atan2(y, x) * r + math.asin(x / (r + 1.0)) + math.acos(y / (r + 2.0))


def kinks(x, y):
    return max(x, 0.5 * y) * abs(y - x) + min(x * y, 1.0)


def numpy_scalars(x, y):
    return np.sin(x) * np.exp(y) + np.tanh(x * y)


def constants(x, y):
    return 0.1 * x * x + math.pi * y + x / 3.0


def chain(x, y):
    v = math.sin(x * y) + x
    w = math.exp(-v * v) * y + v
    v = math.tanh(v * w) - math.cos(w)
    w = math.sqrt(1.0 + w * w) * v
    v = math.atan(v * x) + w / (1.0 + v * v)
    w = math.log(1.0 + w * w) * v + math.sin(v)
    v = v * w + math.exp(math.sin(w) * v)
    w = math.tanh(v - w) * x + v * y
    return v * w


def with_loop(x, n):
    for _ in range(n):
        x = x * 2.0
    return x


def with_if(x, y):
    if x > y:
        return x * y
    return x + y


def on_arrays(w):
    return np.sum(w * w)


def no_equivalent(x, y):
    return math.copysign(x, y) * x


CHECKED = [seed, shared, trig, logs, hyperbolic, roots_and_powers, angles, kinks, numpy_scalars,
           constants, chain]


# --- helpers ------------------------------------------------------------------------------------

def evaluate(F, point):
    """The formula's gradient at `point` ({parameter: float}), the definitions computed in turn."""
    values = {F.symbols[name]: sympy.Float(v, 30) for name, v in point.items()}
    for symbol, e in F.definitions:
        values[symbol] = sympy.sympify(e).xreplace(values).evalf(30)
    return {w: float(sympy.sympify(e).xreplace(values).evalf(30)) for w, e in F.gradient.items()}


def tree_size(e, memo):
    """Nodes of `e` written out as a tree (a repeated subexpression counted each time)."""
    found = memo.get(e)
    if found is None:
        found = memo[e] = 1 + sum(tree_size(a, memo) for a in e.args)
    return found


def parameters(fn):
    return fn.__code__.co_varnames[:fn.__code__.co_argcount]


# --- what it gives ------------------------------------------------------------------------------

def test_the_seed_example():
    F = formula(seed)
    x, y, z = (F.symbols[n] for n in "xyz")
    assert F.gradient == {"x": z, "y": z, "z": x + y}
    assert F.definitions == []
    assert str(F) == "df/dx = z\ndf/dy = z\ndf/dz = x + y".replace("df", "dseed")


def test_a_shared_subexpression_is_written_once():
    F = formula(shared)
    text = str(F)
    assert text.count("exp(x*y)") == 1, text
    names = [str(s) for s, _ in F.definitions]
    assert "s" in names, "the definition is named after the user's variable"
    s_def = dict((str(s), e) for s, e in F.definitions)["s"]
    assert s_def == sympy.exp(F.symbols["x"] * F.symbols["y"])
    # without the definitions, exp(x*y) appears in every gradient, several times
    expanded = "\n".join(str(e) for e in F.expanded().values())
    assert expanded.count("exp(x*y)") >= 4


def test_a_long_chain_stays_as_small_as_its_code():
    F = formula(chain)
    size = sum(sympy.count_ops(e) for _, e in F.definitions) + sum(
        sympy.count_ops(e) for e in F.gradient.values())
    equations = len(grad(chain, wrt=("x", "y")).grad_graph.eqns)
    assert size <= 2 * equations, (size, equations)
    memo = {}
    exploded = sum(tree_size(e, memo) for e in F.expanded().values())
    assert exploded > 1000 * size, (exploded, size)  # what writing each gradient as one tree costs
    assert {"v", "w"} & {str(symbol) for symbol, _ in F.definitions}  # named after the code's


@pytest.mark.parametrize("fn", CHECKED, ids=[f.__name__ for f in CHECKED])
def test_the_formula_is_the_compiled_gradient(fn):
    names = parameters(fn)
    F = formula(fn)
    assert F.wrt == names
    compiled = grad(fn, wrt=names)
    rng = np.random.default_rng(sum(map(ord, fn.__name__)))
    for _ in range(5):
        point = dict(zip(names, (float(v) for v in rng.uniform(0.2, 0.9, len(names)))))
        want = compiled(*point.values())
        got = evaluate(F, point)
        for name, w in zip(names, want):
            assert got[name] == pytest.approx(w, rel=1e-9, abs=1e-12), (fn.__name__, name, point)


def test_special_points_of_the_rules_are_listed():
    F = formula(roots_and_powers)
    x, y = F.symbols["x"], F.symbols["y"]
    # x ** y: its derivative rule guards y == 0 and x == 0; the formula is the one elsewhere
    assert sympy.Ne(y, 0) in F.holds_where and sympy.Ne(x, 0) in F.holds_where
    assert "where" in str(F).splitlines()[-1]
    assert formula(seed).holds_where == ()


def test_grad_and_value_and_grad_results_and_wrt():
    F = formula(grad(seed, wrt=("x", "z")))
    assert F.wrt == ("x", "z") and str(F.gradient["z"]) == "x + y"
    F = formula(value_and_grad(seed, wrt=(0, 1, 2)), wrt="z")
    assert list(F.gradient) == ["z"]
    assert list(formula(seed, wrt=1).gradient) == ["y"]
    with pytest.raises(GradError, match="with respect to x, z only"):
        formula(grad(seed, wrt=("x", "z")), wrt="y")


def test_latex():
    F = formula(seed)
    text = F.latex()
    assert text.startswith("\\begin{aligned}") and text.endswith("\\end{aligned}")
    assert "\\frac{\\partial \\mathrm{seed}}{\\partial x} &= z \\\\" in text
    assert "\\frac{\\partial \\mathrm{seed}}{\\partial z} &= x + y" in text
    assert F._repr_latex_() == f"$$\n{text}\n$$"
    shared_text = formula(shared).latex()
    assert shared_text.splitlines()[1].startswith("s &= e^{x y}")


# --- refusals -----------------------------------------------------------------------------------

@pytest.mark.parametrize("fn, what, line", [
    (with_loop, "a loop", "for _ in range(n):"),
    (with_if, "a branch", "if x > y:"),
    (on_arrays, "np.sum, an operation on arrays", "return np.sum(w * w)"),
    (no_equivalent, "math.copysign, which has no SymPy equivalent", "return math.copysign(x, y) * x"),
])
def test_outside_the_class_refused_at_the_users_line(fn, what, line):
    with pytest.raises(GradError) as info:
        formula(fn)
    message = str(info.value)
    lineno = next(i for i, text in enumerate(open(__file__).read().splitlines(), 1)
                  if text.strip() == line)
    assert f'File "{__file__}", line {lineno}, in {fn.__name__}' in message
    assert what in message
    assert f"grad({fn.__name__}).source" in message and "show" in message


def test_past_the_budget_an_error_not_a_hang(monkeypatch):
    assert symbolic.start_worker(wait=60)
    monkeypatch.setattr(symbolic, "BUDGET_SECONDS", 0.0)
    with pytest.raises(GradError, match="within its budget of 0 s"):
        formula(shared)
    with pytest.raises(GradError, match="budget of 1e-06 s"):
        formula(shared, budget=1e-6)
    monkeypatch.undo()
    assert str(formula(seed)).startswith("dseed/dx = z")  # the worker still answers


# --- the command line -----------------------------------------------------------------------------

def test_show_latex(tmp_path):
    (tmp_path / "model.py").write_text(textwrap.dedent('''\
        import math


        def f(x, y, z):
            q = x + y
            return q * z


        def loop(x):
            for i in range(3):
                x = math.sin(x)
            return x
        '''))
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("SOURCEAD_DEBUG", None)

    runs = [("model.py:f", "--latex"), ("model.py:f", "--latex", "--wrt", "z"),
            ("model.py:loop", "--latex")]
    procs = [subprocess.Popen([sys.executable, "-m", "compiler", "show", *args], cwd=tmp_path,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for args in runs]  # started together, to keep the test short

    def finished(proc):
        out, err = proc.communicate(timeout=180)
        return proc.returncode, out, err
    (code, out, err), (code_z, out_z, _), (code_loop, out_loop, err_loop) = map(finished, procs)
    assert code == 0, err
    assert out == ("\\begin{aligned}\n"
                   "\\frac{\\partial f}{\\partial x} &= z \\\\\n"
                   "\\frac{\\partial f}{\\partial y} &= z \\\\\n"
                   "\\frac{\\partial f}{\\partial z} &= x + y\n"
                   "\\end{aligned}\n")
    assert code_z == 0 and "\\partial z} &= x + y" in out_z and "\\partial x}" not in out_z
    assert code_loop == 1 and out_loop == ""
    assert "line 10" in err_loop and "a loop" in err_loop and "Traceback" not in err_loop


def pendulum_energy(theta, omega, length):
    h = length * (1.0 - math.cos(theta))
    return 0.5 * (length * omega) ** 2 + 9.81 * h


def test_a_constant_reads_as_the_user_wrote_it():
    # a simple fraction is shown exactly (0.5 -> 1/2); a physical constant as its decimal, never
    # as 981/100
    text = str(formula(pendulum_energy))
    assert "9.81" in text and "981" not in text.replace("9.81", ""), text
