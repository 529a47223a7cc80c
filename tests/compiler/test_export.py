"""Exported gradients (compiler/export.py): a module that needs NumPy alone.

Every exported module here runs in a process where sourcead cannot be imported (`python -I`, the
project off sys.path, and an import hook refusing `compiler` and `runtime`) and must give the
decorator's numbers: the version for the example arguments bit for bit, the generic one as the
decorator's own generic code gives them.
"""
import importlib
import itertools
import json
import os
import pathlib
import pickle
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from compiler import GradError, grad, register, value_and_grad

ROOT = pathlib.Path(__file__).resolve().parents[2]
_counter = itertools.count()

ALONE = """
import importlib, pickle, sys, warnings


class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("compiler", "runtime"):
            raise ImportError(f"{name} is not to be imported by an exported module")


sys.meta_path.insert(0, Refuse())
sys.path.insert(0, ".")
warnings.simplefilter("ignore")
calls = pickle.load(open("calls.pkl", "rb"))
out = []
for module, function, args in calls:
    try:
        out.append(getattr(importlib.import_module(module), function)(*args))
    except Exception as exc:
        out.append(f"raised {type(exc).__name__}: {exc}")
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("compiler", "runtime"))
pickle.dump((out, leaked), open("out.pkl", "wb"))
"""


def run_alone(folder, calls, setup=""):
    """Call exported functions in a process that cannot import sourcead: [(module, function,
    args)] -> their results."""
    folder = pathlib.Path(folder)
    with open(folder / "calls.pkl", "wb") as fh:
        pickle.dump(calls, fh)
    script = ALONE.replace("calls = pickle", setup + "\ncalls = pickle")
    done = subprocess.run([sys.executable, "-I", "-c", script], cwd=folder, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with open(folder / "out.pkl", "rb") as fh:
        out, leaked = pickle.load(fh)
    assert leaked == []
    return out


def load_module(folder, text, stem="exported_src"):
    name = f"{stem}_{next(_counter)}"
    path = pathlib.Path(folder) / f"{name}.py"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # importable by name, as a user's module is
    spec.loader.exec_module(module)
    return module


def assert_same(got, want, exact=True):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), (got, want)
        for g, w in zip(got, want):
            assert_same(g, w, exact)
        return
    assert type(got) is type(want), (got, want)
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    assert np.shape(got) == np.shape(want)


SCALAR = """
import math
import numpy as np

SCALE = 2.0


def helper(a):
    return math.sin(a) * SCALE


def f(x, y):
    return helper(x) * y + x ** 2


def make(k):
    def g(x):
        return k * math.exp(x) + x * x
    return g


def model(W, x, b):
    h = np.tanh(W @ x + b)
    return np.sum(h ** 2) * SCALE


def with_aux(x, y):
    loss = x * y + math.cos(x)
    return loss, {"ratio": x / y}
"""


@pytest.fixture
def source(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    return load_module(src, SCALAR)


def test_scalar_gradients_run_alone(source, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    df = grad(source.f, wrt=("x", "y"))
    vf = value_and_grad(source.f, wrt="x")
    dg = grad(source.make(3.0))
    assert df.export(out / "f_grad.py") == str(out / "f_grad.py")
    vf.export(out / "f_value.py")
    dg.export(out / "g_grad.py")
    points = [(0.5, 2.0), (-1.25, 0.75), (np.float64(0.5), 2.0)]
    calls = [("f_grad", "f_grad", p) for p in points] + [("f_value", "f_value_and_grad", p)
                                                         for p in points]
    calls += [("g_grad", "g_grad", (0.3,)), ("g_grad", "g_grad", (np.float64(-0.4),))]
    got = run_alone(out, calls)
    want = [df(*p) for p in points] + [vf(*p) for p in points] + [dg(0.3), dg(np.float64(-0.4))]
    for (_, _, p), g, w in zip(calls, got, want):
        # floats: the decorator's own code; NumPy scalars: the generic version (same numbers)
        assert_same(g, w, exact=type(p[0]) is float) if type(p[0]) is float else \
            np.testing.assert_allclose(g, w, rtol=1e-12)


def test_the_module_says_what_it_is(source, tmp_path):
    path = tmp_path / "loss_grad.py"
    grad(source.f, wrt=("x", "y")).export(path)
    text = path.read_text()
    head = text.split('"""')[1]
    line = source.f.__code__.co_firstlineno
    assert "gradient of `f`" in head and f"{source.__file__}, function f (line {line})" in head
    assert "grad(f, wrt=('x', 'y'))" in head
    assert re.search(r"sourcead \S+ \(compiler [0-9a-f]{12}\)\non \d{4}-\d\d-\d\d \d\d:\d\d UTC",
                     head)
    assert "from loss_grad import f_grad" in head and "f_grad(x, y) -> (df/dx, df/dy)" in head
    assert "SCALE = 2.0" in text  # what the gradient reads, written out
    assert "def make_f_grad_float(" in text and "def make_f_grad_generic(" in text
    assert not re.search(r"^\s*(import|from)\s+(compiler|runtime)\b", text, re.M)
    assert "f_grad = f_grad_float" in text


def test_globals_are_copied_and_may_be_assigned(source, tmp_path):
    grad(source.f, wrt="y").export(tmp_path / "f_grad.py")
    setup = "import f_grad; f_grad.SCALE = 5.0"
    got = run_alone(tmp_path, [("f_grad", "f_grad", (0.5, 2.0))], setup=setup)
    assert got[0] == pytest.approx(np.sin(0.5) * 5.0)


def test_array_gradients_with_a_specialised_version(source, tmp_path):
    rng = np.random.default_rng(1)
    W, x, b = rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=3)
    dm = grad(source.model, wrt=("W", "b"))
    dm.export(tmp_path / "model_grad.py", args=(W, x, b))
    text = (tmp_path / "model_grad.py").read_text()
    assert "def model_grad(W, x, b):" in text and "model_grad_specialised" in text
    W2, x2, b2 = rng.normal(size=(5, 4)), rng.normal(size=4), rng.normal(size=5)
    calls = [("model_grad", "model_grad", (W, x, b)),            # the specialised version
             ("model_grad", "model_grad", (W2, x2, b2)),         # other shapes: the generic one
             ("model_grad", "model_grad_generic", (W, x, b))]
    got = run_alone(tmp_path, calls)
    assert_same(got[0], dm(W, x, b))
    assert_same(got[1], dm(W2, x2, b2), exact=False)
    assert_same(got[2], dm(W, x, b), exact=False)


def test_has_aux_and_value(source, tmp_path):
    v = value_and_grad(source.with_aux, wrt=("x", "y"), has_aux=True)
    v.export(tmp_path / "aux.py")
    got = run_alone(tmp_path, [("aux", "with_aux_value_and_grad", (0.5, 2.0))])
    assert got[0] == v(0.5, 2.0)


def test_the_command_line_writes_a_module_that_runs_alone(source, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = tmp_path / "cli"
    out.mkdir()
    done = subprocess.run([sys.executable, "-m", "compiler", "export",
                           f"{source.__file__}:model", "-o", str(out / "model_grad.py"),
                           "--wrt", "W,b", "--shapes", "W=3,2", "x=2", "b=3"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "from model_grad import model_grad" in done.stdout
    done = subprocess.run([sys.executable, "-m", "compiler", "export", f"{source.__file__}:f",
                           "--value", "--wrt", "x"], cwd=out, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (out / "f_value_and_grad.py").exists()
    rng = np.random.default_rng(0)  # what --shapes made its example of
    W, x, b = rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=3)
    got = run_alone(out, [("model_grad", "model_grad", (W, x, b)),
                          ("f_value_and_grad", "f_value_and_grad", (0.5, 2.0))])
    assert_same(got[0], grad(source.model, wrt=("W", "b"))(W, x, b))
    assert got[1] == value_and_grad(source.f, wrt=("x",))(0.5, 2.0)  # --wrt: a tuple
    bad = subprocess.run([sys.executable, "-m", "compiler", "export", f"{source.__file__}:f",
                          "-o", str(tmp_path)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 2 and "is a directory" in bad.stderr


RULES = """
import numpy as np


def softplus(x):
    return np.log1p(np.exp(x))


def softplus_vjp(g, out, x):
    return g / (1.0 + np.exp(-x))


def clipped(x):
    return np.minimum(x, 1.0)
"""


def test_a_registered_rule_is_imported_from_its_module(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    rules = load_module(folder, RULES, stem="exported_rules")
    register(rules.softplus, rules.softplus_vjp)
    user = load_module(folder, f"""
        import numpy as np
        import {rules.__name__} as rules

        def loss(x):
            return np.sum(rules.softplus(x) * x)
    """)
    d = grad(user.loss)
    x = np.array([-1.0, 0.5, 2.0])
    d.export(folder / "loss_grad.py")
    text = (folder / "loss_grad.py").read_text()
    assert f"import {rules.__name__}" in text and f"{rules.__name__}.softplus_vjp" in text
    got = run_alone(folder, [("loss_grad", "loss_grad", (x,))])
    assert_same(got[0], d(x), exact=False)


def test_a_rule_that_cannot_be_imported_is_refused(tmp_path):
    rules = load_module(tmp_path, RULES, stem="exported_rules")
    register(rules.clipped, lambda g, out, x: g * (x < 1.0))
    user = load_module(tmp_path, f"""
        import numpy as np
        import {rules.__name__} as rules

        def loss(x):
            return np.sum(rules.clipped(x))
    """)
    with pytest.raises(GradError, match=r"(?s)lambda.*top level of a module"):
        grad(user.loss).export(tmp_path / "loss_grad.py")
    assert not (tmp_path / "loss_grad.py").exists()


def test_a_large_array_global_is_refused(tmp_path):
    user = load_module(tmp_path, """
        import numpy as np
        BIG = np.ones(200_000)

        def loss(x):
            return np.sum(x * BIG[:3])
    """)
    with pytest.raises(GradError, match="Pass it as an argument"):
        grad(user.loss).export(tmp_path / "loss_grad.py")


def test_a_function_read_from_the_cache_exports_the_same(source, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCEAD_CACHE_DIR", str(tmp_path / "cache"))
    built = grad(source.f, wrt=("x", "y"))
    loaded = grad(source.f, wrt=("x", "y"))
    assert type(loaded._sourcead).__name__ == "Loaded"
    built.export(tmp_path / "a.py")
    loaded.export(tmp_path / "b.py")
    strip = lambda text: text.split('"""', 2)[2]  # noqa: E731  (the header has the time)
    assert strip((tmp_path / "a.py").read_text()) == strip((tmp_path / "b.py").read_text())


def _library_cases():
    here = ROOT / "tests" / "library"
    sys.path.insert(0, str(here))
    try:
        modules = [importlib.import_module(p.stem) for p in sorted(here.glob("test_*.py"))
                   if p.stem not in ("test_library", "test_tangents")]
    finally:
        sys.path.remove(str(here))
    return [c for m in modules for c in getattr(m, "CASES", []) + getattr(m, "STRING_FORM", [])]


@pytest.mark.parametrize("every", [
    "entry", pytest.param("case", marks=pytest.mark.slow)])
def test_the_library_exports_and_runs_alone(tmp_path, every):
    """Each library function's gradient (one case per function; every case with -m slow),
    exported with its example arguments: the specialised version gives the decorator's numbers
    bit for bit, the generic version the decorator's generic code's."""
    from compiler.loader import origin
    cases, seen = [], set()
    for case in _library_cases():
        if every == "case" or case.entry not in seen:
            seen.add(case.entry)
            cases.append(case)
    calls, wants = [], []
    for k, case in enumerate(cases):
        copy = lambda: [a.copy() if isinstance(a, np.ndarray) else a for a in case.args]  # noqa
        d = grad(case.f, wrt=case.wrt)
        want = d(*copy())
        d.export(tmp_path / f"case_{k}.py", args=copy())
        compiled = d._sourcead
        _, generic = compiled.emit(compiled.grad_graph, kinds=None)
        assert origin(generic) is not None
        name = compiled.func_name
        calls += [(f"case_{k}", name, tuple(copy())), (f"case_{k}", f"{name}_generic",
                                                       tuple(copy()))]
        wants += [(case.id, want), (case.id, generic(*copy()))]
    got = run_alone(tmp_path, calls)
    for (cid, want), g in zip(wants, got):
        assert not isinstance(g, str), f"{cid}: {g}"
        for a, b in zip(g, want):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=cid)
            assert np.shape(a) == np.shape(b) and np.asarray(a).dtype == np.asarray(b).dtype, cid


def test_keywords_defaults_aux_records_and_branches(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    user = load_module(folder, """
        import math
        from collections import namedtuple
        import numpy as np

        Stats = namedtuple("Stats", "mean spread")


        def kw(x, y=2.0, *, z=0.5):
            return x * y + math.sin(z * x)


        def aux(x, y):
            return x * x * y, Stats(x + y, x - y)


        def branchy(x, t):
            if np.sum(x) > t:
                return np.sum(x * x)
            return np.sum(np.sin(x))
    """, stem="exported_user")
    x = np.array([0.1, 0.2, 0.3])
    dkw = grad(user.kw, wrt=("x", "z"))
    vaux = value_and_grad(user.aux, wrt="x", has_aux=True)
    dbr = grad(user.branchy)
    dkw.export(folder / "kw_grad.py")
    vaux.export(folder / "aux_grad.py")
    dbr.export(folder / "br_grad.py", args=(x, 0.0))  # the version that never saw the else branch
    text = (folder / "br_grad.py").read_text()
    assert "def zero_like(x):" in text and "class Deopt(Exception):" in text
    calls = [("kw_grad", "kw_grad", (1.5,)), ("kw_grad", "kw_grad", (1.5, 3.0)),
             ("aux_grad", "aux_value_and_grad", (0.5, 2.0)),
             ("br_grad", "branchy_grad", (x, 0.0)), ("br_grad", "branchy_grad", (x, 10.0))]
    got = run_alone(folder, calls, setup="import kw_grad\nkw_grad.kw_grad.__kwdefaults__ = "
                                         "{'z': 0.25}")
    assert got[0] == dkw(1.5, z=0.25) and got[1] == dkw(1.5, 3.0, z=0.25)
    (value, stats), dx = got[2]
    assert type(stats).__name__ == "Stats" and ((value, tuple(stats)), dx) == (
        (0.5, (2.5, -1.5)), 2.0)
    assert_same(got[3], dbr(x, 0.0))
    np.testing.assert_allclose(got[4], dbr(x, 10.0), rtol=1e-12)  # Deopt: the other version


def test_a_gradient_of_containers_says_it_cannot_be_exported(tmp_path):
    user = load_module(tmp_path, """
        def loss(params, x):
            return params.w * x + params.b
    """)
    with pytest.raises(GradError, match="containers"):
        grad(user.loss).export(tmp_path / "loss_grad.py")


def test_the_check_before_a_write_in_place_is_exported(tmp_path):
    user = load_module(tmp_path, """
        import numpy as np

        def f(x, s, flag):
            if flag > 0:
                a = x
            else:
                a = x * 2.0
            a[0] = s
            return np.sum(a * x)
    """)
    g = grad(user.f, wrt=(0, 1))
    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises(GradError, match="would change the array the caller passed as `x`"):
        g(x, 0.5, 1)
    g.export(tmp_path / "f_grad.py")
    got = run_alone(tmp_path, [("f_grad", "f_grad", (x, 0.5, -1)), ("f_grad", "f_grad", (x, 0.5, 1))])
    assert_same(got[0], g(x, 0.5, -1), exact=False)
    assert got[1].startswith("raised ValueError") and "the caller passed as `x`" in got[1]
    assert user.__file__ in got[1]  # where, in the user's file
