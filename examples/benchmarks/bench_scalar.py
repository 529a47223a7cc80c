"""Scalar workload: a 57-operation function, value and gradient per call, as ratios measured in one run.

    python examples/benchmarks/bench_scalar.py

Reports, each the median of repeated timings in this one run: the plain function's call time, our
`value_and_grad` call time and its ratio to the primal, a hand-written backward pass for reference,
peers when installed (jax.jit(jax.value_and_grad), PyTorch eager, HIPS autograd), and how long
decoration takes (source -> compiled gradient) for a 57-op and a 100-op function.
"""
from __future__ import annotations

import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from compiler import value_and_grad  # noqa: E402
from timing import interleaved  # noqa: E402


def f57(x, y, z):
    a = x * y + z
    b = math.sin(a) * math.exp(-x * x)
    c = math.tanh(b + y) - math.log(1.0 + z * z)
    d = c * c + a / (1.0 + b * b)
    e = math.sqrt(d * d + 1.0) * math.cos(x - y)
    f = e * a - b * c + d / (2.0 + math.sin(z))
    g = math.exp(-f * f * 0.01) + math.atan(e) * x
    h = g * y - f * z + math.log1p(c * c)
    return h * h + g - a * e


def hand_written(x, y, z):
    """f57's value and gradient, written by hand: what careful plain Python reaches."""
    xy = x * y
    a = xy + z
    sa = math.sin(a)
    ex = math.exp(-x * x)
    b = sa * ex
    by = b + y
    tb = math.tanh(by)
    zz1 = 1.0 + z * z
    c = tb - math.log(zz1)
    bb1 = 1.0 + b * b
    d = c * c + a / bb1
    r = math.sqrt(d * d + 1.0)
    cxy = math.cos(x - y)
    e = r * cxy
    sz2 = 2.0 + math.sin(z)
    f = e * a - b * c + d / sz2
    eff = math.exp(-f * f * 0.01)
    at = math.atan(e)
    g = eff + at * x
    cc1 = 1.0 + c * c
    h = g * y - f * z + math.log1p(c * c)
    value = h * h + g - a * e
    dh = 2.0 * h
    dg = 1.0 + dh * y
    da = -e
    de = -a
    dy = dh * g
    df = -dh * z
    dz = -dh * f
    dc = dh * 2.0 * c / cc1
    dx = dg * at
    de += dg * x / (1.0 + e * e)
    df += dg * eff * (-0.02 * f)
    de += df * a
    da += df * e
    db = -df * c
    dc -= df * b
    dd = df / sz2
    dz -= df * d * math.cos(z) / (sz2 * sz2)
    dr = de * cxy
    dxy = -de * r * math.sin(x - y)
    dx += dxy
    dy -= dxy
    dd += dr * d / r
    dc += dd * 2.0 * c
    da += dd / bb1
    db -= dd * a * 2.0 * b / (bb1 * bb1)
    dtb = dc
    dz -= dc * 2.0 * z / zz1
    dby = dtb * (1.0 - tb * tb)
    db += dby
    dy += dby
    dsa = db * ex
    dx += db * sa * ex * (-2.0 * x)
    da += dsa * math.cos(a)
    dx += da * y
    dy += da * x
    dz += da
    return value, (dx, dy, dz)


def f100_source():
    """A 100-operation function: 25 lines of mul, add, sin, mul."""
    lines = ["def f100(x, y):", "    a = x"]
    for i in range(25):
        lines.append(f"    a = math.sin(a * y + {i + 1}.0) * x")
    lines.append("    return a")
    return "\n".join(lines) + "\n"


def main():
    args = (0.3, -0.7, 0.45)
    start = time.perf_counter()
    vg = value_and_grad(f57, wrt=(0, 1, 2))
    build57 = time.perf_counter() - start
    # the hand-written pass must agree with ours, or the comparison means nothing
    v1, g1 = vg(*args)
    v2, g2 = hand_written(*args)
    assert abs(v1 - v2) < 1e-9 and all(abs(p - q) < 1e-9 for p, q in zip(g1, g2)), (g1, g2)
    systems = {"plain Python primal f57": lambda: f57(*args),
               "sourcead value_and_grad": lambda: vg(*args),
               "hand-written backward pass": lambda: hand_written(*args)}
    from compiler.compare import tape_value_and_grad
    tape = tape_value_and_grad(f57, (0, 1, 2))  # the same source on this project's dynamic tape
    systems["runtime tape (this project)"] = lambda: tape(*args)
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        def f57_jax(x, y, z):
            a = x * y + z
            b = jnp.sin(a) * jnp.exp(-x * x)
            c = jnp.tanh(b + y) - jnp.log(1.0 + z * z)
            d = c * c + a / (1.0 + b * b)
            e = jnp.sqrt(d * d + 1.0) * jnp.cos(x - y)
            f = e * a - b * c + d / (2.0 + jnp.sin(z))
            g = jnp.exp(-f * f * 0.01) + jnp.arctan(e) * x
            h = g * y - f * z + jnp.log1p(c * c)
            return h * h + g - a * e

        jvg = jax.jit(jax.value_and_grad(f57_jax, argnums=(0, 1, 2)))
        systems["jax.jit(value_and_grad)"] = lambda: jvg(*args)[0].block_until_ready()
    except ImportError:
        print("(jax not installed: skipped; pip install -e .[bench])")
    try:
        import torch

        def torch_vg(x, y, z):
            xs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (x, y, z)]
            x_, y_, z_ = xs
            a = x_ * y_ + z_
            b = torch.sin(a) * torch.exp(-x_ * x_)
            c = torch.tanh(b + y_) - torch.log(1.0 + z_ * z_)
            d = c * c + a / (1.0 + b * b)
            e = torch.sqrt(d * d + 1.0) * torch.cos(x_ - y_)
            f = e * a - b * c + d / (2.0 + torch.sin(z_))
            g = torch.exp(-f * f * 0.01) + torch.atan(e) * x_
            h = g * y_ - f * z_ + torch.log1p(c * c)
            out = h * h + g - a * e
            out.backward()
            return out.item(), tuple(t.grad.item() for t in xs)

        systems["PyTorch eager"] = lambda: torch_vg(*args)
    except ImportError:
        print("(torch not installed: skipped; pip install -e .[bench])")
    try:
        import autograd
        import autograd.numpy as anp

        def f57_ag(x, y, z):
            a = x * y + z
            b = anp.sin(a) * anp.exp(-x * x)
            c = anp.tanh(b + y) - anp.log(1.0 + z * z)
            d = c * c + a / (1.0 + b * b)
            e = anp.sqrt(d * d + 1.0) * anp.cos(x - y)
            f = e * a - b * c + d / (2.0 + anp.sin(z))
            g = anp.exp(-f * f * 0.01) + anp.arctan(e) * x
            h = g * y - f * z + anp.log1p(c * c)
            return h * h + g - a * e

        agvg = autograd.value_and_grad(f57_ag, argnum=(0, 1, 2))
        systems["HIPS autograd"] = lambda: agvg(*args)
    except ImportError:
        print("(autograd not installed: skipped; pip install -e .[bench])")

    times = interleaved(systems)
    primal = times["plain Python primal f57"]
    ours = times["sourcead value_and_grad"]
    hand = times["hand-written backward pass"]
    print("\nScalar workload f57 (57 primitive ops, 3 inputs); every system timed in the same "
          "interleaved rounds, medians")
    print(f"{'':32} {'µs/call':>10} {'x primal':>10}")
    for name, t in times.items():
        print(f"{name:32} {t * 1e6:10.2f} {t / primal:10.1f}")
    print(f"{'sourcead vs hand-written':32} {'':10} {ours / hand:10.2f}")
    t_tape = times["runtime tape (this project)"]
    print(f"compiled gradient vs the tape: {t_tape / ours:.0f}x faster; the tape spends "
          f"{t_tape / 57 * 1e6:.2f} µs per primitive operation")

    import importlib.util
    import tempfile
    with tempfile.TemporaryDirectory() as folder:  # the compiler reads source from a real file
        path = os.path.join(folder, "f100_module.py")
        with open(path, "w") as fh:
            fh.write("import math\n\n" + f100_source())
        builds = []
        for _ in range(5):  # a fresh module each time: nothing cached from the previous build
            spec = importlib.util.spec_from_file_location("f100_module", path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            start = time.perf_counter()
            value_and_grad(mod.f100, wrt=(0, 1))
            builds.append(time.perf_counter() - start)
        build100 = statistics.median(builds)
    print(f"\nDecoration (source -> compiled gradient): f57 {build57 * 1e3:.1f} ms, "
          f"100-op function {build100 * 1e3:.1f} ms (median of 5)")


if __name__ == "__main__":
    main()
