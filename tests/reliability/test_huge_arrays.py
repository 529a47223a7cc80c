"""A 2,000,000-element elementwise gradient: it runs, it is right, and its memory stays bounded.

Peaks are measured with tracemalloc (NumPy reports its buffers to it) and printed. The primal's peak
is the yardstick: the specialised gradient may hold at most ~4x as much.
"""
import tracemalloc

import numpy as np
import pytest

import reliability_funcs as F
from compiler import grad, value_and_grad

N = 2_000_000
LIMIT = 4.0


def _peak(fn, *args):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = fn(*args)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _expected_grad(x):
    t = np.tanh(x)
    s = np.sin(x)
    y = t * x + s * s
    dy = 2.0 * y
    dx = dy * ((1.0 - t * t) * x + t + 2.0 * s * np.cos(x))
    return dx + (-2.0 * x * np.exp(-x * x)) / x.size


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(0).normal(size=N)


@pytest.mark.parametrize("make", [grad, value_and_grad], ids=["grad", "value_and_grad"])
def test_two_million_elements_memory(x, make, capsys):
    _, primal_peak = _peak(F.huge_elementwise, x)
    g = make(F.huge_elementwise)
    first, first_peak = _peak(g, x)      # specialises: instrumented run + the user's function
    result, steady_peak = _peak(g, x)    # the specialised version
    with capsys.disabled():
        print(f"\n[reliability] {make.__name__} of a {N:,}-element elementwise function: primal peak "
              f"{primal_peak / 2**20:.1f} MiB; first call {first_peak / 2**20:.1f} MiB "
              f"({first_peak / primal_peak:.2f}x); specialised call {steady_peak / 2**20:.1f} MiB "
              f"({steady_peak / primal_peak:.2f}x)")
    dx = result[1] if make is value_and_grad else result
    if make is value_and_grad:
        assert result[0] == pytest.approx(F.huge_elementwise(x), rel=1e-12)
    assert dx.shape == x.shape and dx.dtype == x.dtype
    np.testing.assert_allclose(dx, _expected_grad(x), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(first[1] if make is value_and_grad else first, dx)
    assert steady_peak <= LIMIT * primal_peak, (steady_peak, primal_peak)


def test_two_million_elements_first_call_memory(x):
    _, primal_peak = _peak(F.huge_elementwise, x)
    g = grad(F.huge_elementwise)
    _, first_peak = _peak(g, x)
    assert first_peak <= LIMIT * primal_peak, f"{first_peak / primal_peak:.2f}x the primal"
