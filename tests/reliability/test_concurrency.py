"""Many threads at once: calling one fresh gradient, and decorating one function.

Array code specialises on its first call per signature; with 16 threads released together by a
barrier, every result must be correct and each signature compiled exactly once (counted by wrapping
`compiler.api.Compiled.build_version`, which is slowed down to widen the race window).
"""
import threading
import time

import numpy as np
import pytest

import compiler.api as api
import reliability_funcs as F
from compiler import grad, value_and_grad
from reliability_helpers import assert_matches_central_differences, as_tuple

THREADS = 16


def _run_together(target, n=THREADS):
    """Run target(i) in n threads released at once; returns the results, re-raises the first error."""
    barrier = threading.Barrier(n)
    results = [None] * n
    errors = []

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = target(i)
        except BaseException as exc:  # noqa: BLE001  (reported below, with the thread's index)
            errors.append((i, exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0][1]
    return results


@pytest.fixture
def build_counter(monkeypatch):
    counts = {}
    original = api.Compiled.build_version
    lock = threading.Lock()

    def counting(self, values):
        with lock:
            key = (id(self), api.signature_key(values, self.by_value))
            counts[key] = counts.get(key, 0) + 1
        time.sleep(0.02)  # keep the window open: other threads arrive while this one builds
        return original(self, values)

    monkeypatch.setattr(api.Compiled, "build_version", counting)
    return counts


def test_threads_calling_one_fresh_array_gradient(build_counter):
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(5, 3)) for _ in range(THREADS)]
    w = rng.normal(size=(3, 4))
    g = grad(F.mlp_loss, wrt=(0, 1))
    results = _run_together(lambda i: g(xs[i], w))
    for i in range(THREADS):
        assert_matches_central_differences(F.mlp_loss, (xs[i], w), results[i], (0, 1))
    assert list(build_counter.values()) == [1], build_counter
    assert len(g._sourcead.cache) == 1


def test_threads_calling_one_fresh_value_and_grad_with_a_loop(build_counter):
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=6) for _ in range(THREADS)]
    vg = value_and_grad(F.array_loop)
    results = _run_together(lambda i: vg(xs[i], 4))
    for i, (value, dx) in enumerate(results):
        assert value == pytest.approx(F.array_loop(xs[i], 4), rel=1e-13)
        assert_matches_central_differences(F.array_loop, (xs[i], 4), dx, (0,))
    assert list(build_counter.values()) == [1], build_counter
    assert len(vg._sourcead.cache) == 1


def test_threads_with_different_signatures_compile_each_once(build_counter):
    shapes = [(2,), (3,), (4,), (2, 2)]
    rng = np.random.default_rng(2)
    xs = [rng.normal(size=shapes[i % len(shapes)]) for i in range(THREADS)]
    g = grad(F.array_square)
    results = _run_together(lambda i: g(xs[i]))
    for i in range(THREADS):
        np.testing.assert_allclose(results[i], 2.0 * xs[i], rtol=1e-15)
        assert results[i].shape == xs[i].shape
    assert sorted(build_counter.values()) == [1] * len(shapes), build_counter
    assert len(g._sourcead.cache) == len(shapes)


def test_threads_calling_scalar_code_through_respecialize():
    # np.float64 and 0-d arrays fail the float guard and go through respecialize concurrently
    g = grad(F.scalar_mix, wrt=(0, 1))
    points = [(np.float64(0.1 * i), np.array(0.3 + 0.05 * i)) for i in range(THREADS)]
    results = _run_together(lambda i: g(*points[i]))
    for i, got in enumerate(results):
        point = (float(points[i][0]), float(points[i][1]))
        assert got == pytest.approx(g(*point), rel=1e-15)
        assert_matches_central_differences(F.scalar_mix, point, got, (0, 1))


def test_threads_decorating_one_function():
    rng = np.random.default_rng(3)
    x, w = rng.normal(size=(4, 3)), rng.normal(size=(3, 2))
    decorated = _run_together(lambda i: grad(F.mlp_loss, wrt=(0, 1)))
    sources = {g.source for g in decorated}
    assert len(sources) == 1
    results = _run_together(lambda i: decorated[i](x, w))
    for got in results:
        for a, b in zip(as_tuple(got), as_tuple(results[0])):
            np.testing.assert_array_equal(a, b)
    assert_matches_central_differences(F.mlp_loss, (x, w), results[0], (0, 1))
    assert len({g.source_for(x, w) for g in decorated}) == 1


def test_threads_decorating_different_functions_while_others_call():
    rng = np.random.default_rng(4)
    x, w = rng.normal(size=(4, 3)), rng.normal(size=(3, 2))
    shared = grad(F.mlp_loss, wrt=(0, 1))
    expected = shared(x, w)
    work = [F.scalar_mix, F.reads_globals, F.mixed_control, F.list_accumulation]

    def target(i):
        if i % 2:
            return shared(x, w)
        fn = work[(i // 2) % len(work)]
        return grad(fn).source

    results = _run_together(target)
    for i in range(1, THREADS, 2):
        for a, b in zip(results[i], expected):
            np.testing.assert_array_equal(a, b)
    for i in range(0, THREADS, 2):
        compile(results[i], "<thread>", "exec")


def test_gc_state_is_restored_after_concurrent_decoration():
    import gc
    assert gc.isenabled()
    _run_together(lambda i: grad(F.scalar_mix)(0.2, 0.3))
    assert gc.isenabled()
