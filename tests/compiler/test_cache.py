"""The on-disk cache of generated code (compiler/cache.py).

A stale entry would be a silent wrong answer, so what decides the code is changed between
processes, as a user would change it (a helper edited in another module, a rule registered, a
module's constant, a function rebound) and the next process must build again and answer right.
Entries that are truncated or corrupt are rebuilt; processes writing the same entries at once
leave them whole. Decoration times are printed, never asserted.
"""
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

from compiler import cache, grad, value_and_grad

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_counter = itertools.count()


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A cache of this test's own (the session's is shared by every test)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("SOURCEAD_CACHE_DIR", str(folder))
    monkeypatch.delenv("SOURCEAD_CACHE", raising=False)
    return folder


def entries(folder):
    return sorted(p for p in folder.rglob("*.entry")) if folder.exists() else []


def load_module(folder, text, stem="cached"):
    """Write `text` as a module under `folder` and import it (a unique name, not in sys.modules)."""
    name = f"{stem}_{next(_counter)}"
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- in one process ---------------------------------------------------------------------------

SCALAR_AND_ARRAY = """
import math
import numpy as np

SCALE = 2.0


def helper(a):
    return math.sin(a) * SCALE


def f(x, y):
    return helper(x) * y + x ** 2


def g(W, x, b):
    h = np.tanh(W @ x + b)
    return np.sum(h ** 2) * SCALE


def make_closure(k):
    def inner(x):
        return k * x * x
    return inner
"""


def test_a_second_decoration_loads_the_same_code(cache_dir, tmp_path):
    m = load_module(tmp_path, SCALAR_AND_ARRAY)
    first = grad(m.f, wrt=("x", "y"))
    assert type(first._sourcead).__name__ == "Compiled"
    assert entries(cache_dir)
    second = grad(m.f, wrt=("x", "y"))
    loaded = second._sourcead
    assert type(loaded).__name__ == "Loaded"
    assert second(0.5, 2.0) == first(0.5, 2.0)
    assert second.source == first.source and second.ir == first.ir
    assert second.wrt == ("x", "y") and second.__name__ == "f" and second.__wrapped__ is m.f
    assert not loaded.__dict__["_materialized"]  # a float call needs nothing but the code
    # what the pipeline makes is built again when asked for
    assert str(second.graph) == str(first.graph)
    assert str(second.grad_graph) == str(first.grad_graph)
    assert loaded.__dict__["_materialized"]
    assert second.dot() == first.dot()
    assert second.check(0.5, 2.0).passed
    assert second.source_for(0.5, 2.0) == first.source_for(0.5, 2.0)
    assert second.ir_for(0.5, 2.0) == first.ir_for(0.5, 2.0)


def test_array_versions_are_kept_and_loaded(cache_dir, tmp_path):
    m = load_module(tmp_path, SCALAR_AND_ARRAY)
    rng = np.random.default_rng(0)
    W, x, b = rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=3)
    first = grad(m.g, wrt=(0, 2))
    expected = first(W, x, b)
    source, ir = first.source_for(W, x, b), first.ir_for(W, x, b)
    second = grad(m.g, wrt=(0, 2))
    got = second(W, x, b)
    assert not second._sourcead.__dict__["_materialized"]  # the version came from disk
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    assert second.source_for(W, x, b) == source and second.ir_for(W, x, b) == ir
    assert list(second.versions) == list(first.versions)
    # a signature never built before: the pipeline runs, and the answer is right
    W2, x2 = rng.normal(size=(4, 2)), rng.normal(size=2)
    b2 = rng.normal(size=4)
    np.testing.assert_allclose(second(W2, x2, b2)[1], grad(m.g, wrt=(0, 2), cache=False)(
        W2, x2, b2)[1], rtol=1e-12)


def test_numpy_scalar_versions_are_kept_and_loaded(cache_dir, tmp_path):
    m = load_module(tmp_path, SCALAR_AND_ARRAY)
    x, y = np.float64(0.25), 1.5
    expected = grad(m.f, wrt=("x", "y"))(x, y)
    second = grad(m.f, wrt=("x", "y"))
    got = second(x, y)
    assert not second._sourcead.__dict__["_materialized"]
    assert got == expected and type(got[0]) is np.float64


def test_globals_and_closures_are_read_when_the_gradient_runs(cache_dir, tmp_path):
    m = load_module(tmp_path, SCALAR_AND_ARRAY)
    grad(m.f, wrt="y")
    loaded = grad(m.f, wrt="y")
    assert type(loaded._sourcead).__name__ == "Loaded"
    assert loaded(0.5, 2.0) == pytest.approx(np.sin(0.5) * 2.0)
    m.SCALE = 5.0
    assert loaded(0.5, 2.0) == pytest.approx(np.sin(0.5) * 5.0)
    m.SCALE = 3  # another kind of number, read live as well
    assert loaded(0.5, 2.0) == pytest.approx(np.sin(0.5) * 3.0)
    square = m.make_closure(3.0)
    grad(square)
    cube = m.make_closure(4.0)  # the same code, another cell: the entry is shared
    loaded_cube = grad(cube)
    assert type(loaded_cube._sourcead).__name__ == "Loaded"
    assert loaded_cube(2.0) == pytest.approx(16.0)
    assert grad(square)(2.0) == pytest.approx(12.0)


def test_cache_false_and_cache_off_write_nothing(cache_dir, tmp_path, monkeypatch):
    m = load_module(tmp_path, SCALAR_AND_ARRAY)
    g = grad(m.f, cache=False)
    assert g(0.5, 2.0) == pytest.approx(grad(m.f, cache=False)(0.5, 2.0))
    value_and_grad(m.f, cache=False)(0.5, 2.0)
    assert entries(cache_dir) == []
    monkeypatch.setenv("SOURCEAD_CACHE", "off")
    grad(m.f)(0.5, 2.0)
    assert entries(cache_dir) == []
    monkeypatch.setenv("SOURCEAD_CACHE", "on")
    grad(m.f)(0.5, 2.0)
    assert entries(cache_dir) != []
    with pytest.raises(Exception, match="cache="):
        grad(m.f, cache="yes")


def test_the_key_follows_what_decides_the_code(tmp_path):
    m = load_module(tmp_path, SCALAR_AND_ARRAY)
    key = cache.function_key
    base = key(m.f, 0, False, None, False)
    assert base == key(m.f, 0, False, None, False)
    others = [key(m.f, 1, False, None, False), key(m.f, (0,), False, None, False),
              key(m.f, 0, True, None, False), key(m.f, 0, False, None, True),
              key(m.f, 0, False, "sympy", False), key(m.helper, 0, False, None, False)]
    assert len({base, *others}) == 1 + len(others)
    m.SCALE = 7.0  # read live: its value is not part of the key, its kind is
    assert key(m.f, 0, False, None, False) == base
    m.SCALE = np.ones(3)
    assert key(m.f, 0, False, None, False) != base
    m.SCALE = 2.0
    original = m.helper
    m.helper = lambda a: a * 3.0  # another function under the same name
    assert key(m.f, 0, False, None, False) != base
    m.helper = original
    assert key(m.f, 0, False, None, False) == base


def test_a_decoration_that_warns_warns_again_and_is_not_kept(cache_dir, tmp_path, monkeypatch):
    import compiler.symbolic as symbolic
    m = load_module(tmp_path, SCALAR_AND_ARRAY)
    monkeypatch.setattr(symbolic._WORKER, "ask",
                        lambda *a, **k: {"status": "error", "error": "no SymPy today"})
    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            g = grad(m.f, wrt=("x", "y"), simplify="sympy")
        assert [w for w in caught if issubclass(w.category, symbolic.SimplifyWarning)]
        assert type(g._sourcead).__name__ == "Compiled"
        assert g(0.5, 2.0) == pytest.approx(grad(m.f, wrt=("x", "y"), cache=False)(0.5, 2.0))
    assert entries(cache_dir) == []


def test_a_slow_build_warns_once_and_is_kept(cache_dir, tmp_path, monkeypatch):
    # the build a user most wants kept is a slow one: its SlowBuildWarning must not stop the cache
    import compiler.buildlog as buildlog
    from compiler import SlowBuildWarning
    m = load_module(tmp_path, SCALAR_AND_ARRAY)
    monkeypatch.setattr(buildlog, "SLOW_BUILD_SECONDS", 0.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = grad(m.f, wrt=("x", "y"))
    assert [w for w in caught if issubclass(w.category, SlowBuildWarning)]
    assert entries(cache_dir) != []
    again = grad(m.f, wrt=("x", "y"))
    assert type(again._sourcead).__name__ != "Compiled"  # loaded, not built
    assert again(0.5, 2.0) == g(0.5, 2.0)


def test_a_function_it_cannot_describe_is_built_as_before(cache_dir, tmp_path):
    m = load_module(tmp_path, """
        import functools
        import numpy as np

        def scaled(w, x):
            return np.sum(w * x)

        weighted = functools.partial(scaled, np.array([1.0, 2.0]))

        def f(x):
            return weighted(x)
    """)
    x = np.array([0.5, 0.25])
    for _ in range(2):  # the partial's array has no place another process could find it again
        g = grad(m.f)
        assert type(g._sourcead).__name__ == "Compiled"
        np.testing.assert_allclose(g(x), [1.0, 2.0])


def test_a_rebound_helper_after_loading_is_said(cache_dir, tmp_path):
    m = load_module(tmp_path, SCALAR_AND_ARRAY)
    grad(m.g, wrt=0)
    loaded = grad(m.g, wrt=0)
    m.SCALE = 2.0
    original = np.tanh
    m.np = type(np)("fake_numpy")  # a name the function reads now refers to something else
    m.np.__dict__.update(vars(np))
    m.np.tanh = np.sin
    try:
        with pytest.warns(cache.StaleWarning, match="rebound"):
            str(loaded.graph)
    finally:
        m.np = np
    assert original is np.tanh


# --- across processes -------------------------------------------------------------------------

def run(folder, script, cache_folder, extra_env=None, check=True):
    """Run `script` in a new process with cwd `folder` and the cache `cache_folder`; its last
    line of output is JSON."""
    env = dict(os.environ)
    env.update({"SOURCEAD_CACHE_DIR": str(cache_folder), "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONPATH": os.pathsep.join([ROOT, str(folder)])})
    env.pop("SOURCEAD_CACHE", None)
    env.update(extra_env or {})
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


HELPERS = """
def scale(x):
    return x * {factor}


def square(x):
    return x * x
"""

MAIN = """
import os
import helpers
from helpers import square
import numpy as np

K = float(os.environ.get("K", "1.0"))
act = np.tanh if os.environ.get("ACT", "tanh") == "tanh" else np.sin


def f(x, y):
    return helpers.scale(x) * y + square(y) * K


def h(x):
    return np.sum(act(x) * K)
"""

DRIVER = """
import json, sys
import numpy as np
from compiler import grad
import main
g = grad(main.f, wrt=("x", "y"))
dh = grad(main.h)
x = np.array([0.1, 0.2, 0.3])
print(json.dumps({"f": g(0.5, 2.0), "h": dh(x).tolist(), "kind": type(g._sourcead).__name__,
                  "hkind": type(dh._sourcead).__name__}))
"""


def _project(tmp_path, factor="2.0"):
    folder = tmp_path / "project"
    folder.mkdir(exist_ok=True)
    (folder / "helpers.py").write_text(HELPERS.format(factor=factor))
    (folder / "main.py").write_text(MAIN)
    return folder


def test_editing_a_helper_in_another_module_is_built_again(tmp_path):
    folder, store = _project(tmp_path), tmp_path / "cache"
    first = run(folder, DRIVER, store)
    assert first["kind"] == "Compiled" and first["f"] == pytest.approx([4.0, 5.0])
    again = run(folder, DRIVER, store)
    assert again["kind"] == "Loaded" and again["f"] == first["f"]
    _project(tmp_path, factor="3.0")  # d/dx = 3 y now
    edited = run(folder, DRIVER, store)
    assert edited["kind"] == "Compiled" and edited["f"] == pytest.approx([6.0, 5.5])
    assert run(folder, DRIVER, store)["f"] == edited["f"]


def test_globals_read_live_and_constants_rebound_between_processes(tmp_path):
    folder, store = _project(tmp_path), tmp_path / "cache"
    x = np.array([0.1, 0.2, 0.3])
    run(folder, DRIVER, store)
    scaled = run(folder, DRIVER, store, {"K": "3.0"})  # a live global: the same code
    assert scaled["kind"] == "Loaded" and scaled["hkind"] == "Loaded"
    assert scaled["f"] == pytest.approx([4.0, 0.5 * 2 + 2 * 2.0 * 3.0])
    np.testing.assert_allclose(scaled["h"], 3.0 / np.cosh(x) ** 2)
    sine = run(folder, DRIVER, store, {"ACT": "sin"})  # `act` is another function now
    assert sine["hkind"] == "Compiled" and sine["kind"] == "Loaded"
    np.testing.assert_allclose(sine["h"], np.cos(x))


RULES_DRIVER = """
import json, os
from compiler import grad, register
import main, helpers
if os.environ.get("RULE"):
    register(helpers.square, lambda g, out, x: g * 10.0)  # deliberately not 2x
g = grad(main.f, wrt=("x", "y"))
print(json.dumps({"f": g(0.5, 2.0), "kind": type(g._sourcead).__name__}))
"""


def test_registering_a_rule_is_built_again(tmp_path):
    folder, store = _project(tmp_path), tmp_path / "cache"
    plain = run(folder, RULES_DRIVER, store)
    assert plain["f"] == pytest.approx([4.0, 5.0])
    ruled = run(folder, RULES_DRIVER, store, {"RULE": "1"})
    assert ruled["kind"] == "Compiled" and ruled["f"] == pytest.approx([4.0, 1.0 + 10.0])
    assert run(folder, RULES_DRIVER, store, {"RULE": "1"})["kind"] == "Loaded"
    back = run(folder, RULES_DRIVER, store)
    assert back["kind"] == "Loaded" and back["f"] == plain["f"]


def _check_entries(store):
    """Every entry on disk passes its checksum and names its own key."""
    found = entries(store)
    assert found
    reader = cache.Store(str(store))
    for path in found:
        key, _, version = path.stem.partition("-")
        assert reader.read(key, version or None) is not None, path
    assert not [p for p in store.rglob("*") if p.name.startswith(".tmp-")]


def test_corrupt_and_truncated_entries_are_ignored_and_rebuilt(tmp_path):
    folder, store = _project(tmp_path), tmp_path / "cache"
    first = run(folder, DRIVER, store)
    found = entries(store)
    assert len(found) >= 3  # f, h, and h's version for float64[3]
    for k, path in enumerate(found):
        data = path.read_bytes()
        if k % 3 == 0:
            path.write_bytes(data[:len(data) // 2])  # truncated
        elif k % 3 == 1:
            i = len(data) - 10
            path.write_bytes(data[:i] + bytes([data[i] ^ 1]) + data[i + 1:])  # one bit flipped
        else:
            path.write_bytes(b"not an entry at all")
    again = run(folder, DRIVER, store)
    assert again["kind"] == "Compiled" and again["hkind"] == "Compiled"
    assert again["f"] == first["f"] and again["h"] == first["h"]
    _check_entries(store)
    assert run(folder, DRIVER, store)["kind"] == "Loaded"


CONCURRENT = """
import json, sys, time
import numpy as np
from compiler import grad, value_and_grad
import main
start = float(sys.argv[1])
while time.time() < start:
    time.sleep(0.005)
out = {}
for n in range(3):
    g = grad(main.f, wrt=("x", "y"))
    v = value_and_grad(main.h)
    out[str(n)] = [g(0.5, 2.0), v(np.arange(1.0 + n, 4.0 + 2 * n))[1].tolist()]
print(json.dumps(out))
"""


def test_processes_writing_the_same_entries_at_once(tmp_path):
    folder, store = _project(tmp_path), tmp_path / "cache"
    env = dict(os.environ)
    env.update({"SOURCEAD_CACHE_DIR": str(store), "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONPATH": os.pathsep.join([ROOT, str(folder)])})
    start = time.time() + 2.0
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT, repr(start)], cwd=folder, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(6)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        outs.append(json.loads(out.strip().splitlines()[-1]))
    assert all(o == outs[0] for o in outs)
    for n in range(3):
        x = np.arange(1.0 + n, 4.0 + 2 * n)
        assert outs[0][str(n)][0] == pytest.approx([4.0, 5.0])
        np.testing.assert_allclose(outs[0][str(n)][1], 1.0 / np.cosh(x) ** 2)
    _check_entries(store)
    assert run(folder, DRIVER, store)["kind"] == "Loaded"


def test_a_second_process_on_a_thousand_statements(tmp_path, capsys):
    folder, store = tmp_path / "big", tmp_path / "cache"
    folder.mkdir()
    lines = ["import math", "", "", "def big(x, y):", "    a = x", "    b = y"]
    for i in range(1000):
        lines.append([f"    a = a * {1.0 - 1e-4 * (i % 3)!r} + math.sin(b) * {1e-3 * (i % 5)!r}",
                      f"    b = b * 0.999 + a * {1e-4 * (i % 7)!r}",
                      f"    c{i} = math.cos(a) + b",
                      f"    a = a + c{i - 1} * 1e-4"][i % 4])
    lines.append("    return a * b")
    (folder / "bigmod.py").write_text("\n".join(lines) + "\n")
    script = """
        import json, time
        from compiler import grad
        import bigmod
        start = time.perf_counter()
        g = grad(bigmod.big, wrt=("x", "y"))
        value = g(0.3, 0.7)
        print(json.dumps({"seconds": time.perf_counter() - start, "value": value,
                          "kind": type(g._sourcead).__name__}))
    """
    first = run(folder, script, store)
    second = run(folder, script, store)
    assert first["kind"] == "Compiled" and second["kind"] == "Loaded"
    assert second["value"] == first["value"]
    with capsys.disabled():
        print(f"\n[cache] 1,000-statement function, decorate + first call: first process "
              f"{first['seconds'] * 1e3:.0f} ms, second {second['seconds'] * 1e3:.0f} ms "
              f"({100 * second['seconds'] / first['seconds']:.1f}%)")


def test_two_lambdas_on_one_line_are_told_apart(cache_dir, tmp_path):
    m = load_module(tmp_path, """
        pair = (lambda x: x * x, lambda x: x * x * x)
    """)
    from compiler import cache as disk
    square, cube = m.pair
    assert disk.function_key(square, 0, False, None, False) != \
        disk.function_key(cube, 0, False, None, False)


def test_a_loaded_function_takes_containers_as_the_decorated_one_does(cache_dir, tmp_path):
    m = load_module(tmp_path, """
        import numpy as np

        def f(p, x):
            return np.sum(p["w"] * x) + p["b"]
    """)
    x = np.array([1.0, 2.0])
    params = {"w": np.array([0.5, -1.0]), "b": 0.25}
    built = grad(m.f)(params, x)
    loaded = grad(m.f)
    assert type(loaded._sourcead).__name__ == "Loaded"
    got = loaded(params, x)
    assert set(got) == {"w", "b"} and got["b"] == built["b"] == 1.0
    np.testing.assert_array_equal(got["w"], built["w"])
