"""Transformations (jvp, vjp, hvp, hessian, jacobian): cost against the primal and against peers,
as ratios measured in one run.

    python examples/benchmarks/bench_transforms.py [--profile]   (pip install -e ".[bench]" for peers)

T1  bench_scalar.py's scalar function f57(x, y, z): the primal; `jvp(f57)` along one tangent
    direction in all three arguments (x, y, z) / primal (target <= 2.5x); `hvp(f57, wrt=0)`, the
    Hessian-vector product in x alone (d2f/dx2 * v: hvp takes one argument) / primal (target
    <= 6x); beside them jax.jit(jax.jvp), jax.jit(jvp of grad), torch.func and
    torch.autograd.functional's jvp and hvp, HIPS autograd, and this project's tape
    (runtime.autograd.functional), each called with Python floats and giving floats back.
T2  the dense Hessian of the 100-dimensional Rosenbrock function written with NumPy arrays,
    sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2): `hessian(rosen)(x)` per call against
    torch.autograd.functional.hessian (and vectorize=True), torch.func.hessian, HIPS autograd's
    hessian, jax.jit(jax.hessian) (its trace and compile time reported apart) and the tape's
    functional.hessian; every Hessian checked against ours to 1e-6 relative.
T3  the Jacobian of tanh(W @ x + b), W 100x50 (100 outputs, 50 inputs), w.r.t. x:
    `jacobian(mode="rev")` / one `back()` of `vjp` (target <= 10x) and `jacobian(mode="fwd")` /
    one `jvp` call (the same 10x taken as its target), beside the peers' Jacobians and the tape's.
T4  the tape's functional API (runtime.autograd.functional jvp, hvp, hessian, jacobian) on the same
    functions: its rows are in the tables above, and a summary compares it with the compiled code.

Each of our transformations is timed twice: the public call, and its generated code alone
(`.compiled.function` called with the arguments and tangents), which separates the call's Python
wrapper from the code the compiler emits. Each figure is the median of repeated timings in this
run (float64, CPU). T1's systems are all timed in the same interleaved rounds, as bench_scalar.py
does; in T2 and T3 ours and the tape are timed together and each peer in a block of its own against
our Jacobian or Hessian (as bench_arrays.py does: thread pools slow each other when calls
alternate), its time put on the same scale through that ratio. Targets are reported, never
asserted; a disagreement between systems makes the exit status 1. --profile adds a cProfile of
`hessian(rosen)(x)` for n = 100.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import math
import os
import pstats
import sys
import time
import types

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_scalar import f57  # noqa: E402
from compiler import hessian, hvp, jacobian, jvp, value_and_grad, vjp  # noqa: E402
from timing import interleaved  # noqa: E402

POINT = (0.3, -0.7, 0.45)
DIRECTION = (0.2, -0.5, 0.7)  # the jvp's tangent in (x, y, z)
V = 0.8                       # hvp's vector (x is a number: v is too)
N_ROSEN = 100
JVP_TARGET, HVP_TARGET, JAC_TARGET = 2.5, 6.0, 10.0


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def layer(x, W, b):
    return np.tanh(W @ x + b)


def math_as(fn, **names):
    """fn's own source on another library: `math.sin` -> names['sin'], ... (atan as given)."""
    shim = types.SimpleNamespace(**{k: getattr(math, k) for k in dir(math) if not k.startswith("_")})
    for k, v in names.items():
        setattr(shim, k, v)
    return types.FunctionType(fn.__code__, {**fn.__globals__, "math": shim}, fn.__name__)


def numpy_as(fn, module):
    """fn's own source with `np` pointed at another module (jax.numpy, autograd.numpy, torch)."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, "np": module}, fn.__name__)


def unary_names(m, atan):
    return dict(sin=m.sin, cos=m.cos, exp=m.exp, tanh=m.tanh, log=m.log, sqrt=m.sqrt,
                log1p=m.log1p, atan=atan)


def close(a, b, rel):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.max(np.abs(a - b)) <= rel * max(1.0, float(np.max(np.abs(b)))))


def peer_blocks(anchor_name, anchor, peers, rounds=9, target=0.05):
    """Each peer timed in a block of its own against `anchor`: {name: peer / anchor}."""
    ratios = {}
    for name, fn in peers.items():
        time.sleep(0.5)
        block = interleaved({anchor_name: anchor, name: fn}, rounds=rounds, target=target)
        ratios[name] = block[name] / block[anchor_name]
    return ratios


def verdict(ratio, target):
    return f"{'met' if ratio <= target else 'MISSED'} ({ratio:.1f}x, target <= {target:g}x)"


# ---- peers (each returns {name: zero-argument callable} and {name: its result}) -------------------

def scalar_peers(args, direction, v):
    systems, results = {}, {}
    x, y, z = args
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        fj = math_as(f57, **unary_names(jnp, jnp.arctan))
        jj = jax.jit(lambda p, t: jax.jvp(fj, p, t))
        hj = jax.jit(lambda x, y, z, v: jax.jvp(lambda x: jax.grad(fj)(x, y, z), (x,), (v,))[1])
        systems["jax.jit(jax.jvp)"] = lambda: jax.block_until_ready(jj(args, direction))
        systems["jax.jit(jvp of grad) hvp in x"] = lambda: hj(x, y, z, v).block_until_ready()
        results["jax.jit(jax.jvp)"] = float(jj(args, direction)[1])
        results["jax.jit(jvp of grad) hvp in x"] = float(hj(x, y, z, v))
    except ImportError:
        print("(jax not installed: skipped; pip install -e .[bench])")
    try:
        import torch
        torch.set_num_threads(1)  # as bench_arrays.py: PyTorch's pool against NumPy's threads
        ft = math_as(f57, **unary_names(torch, torch.atan))

        def T(value):
            return torch.tensor(value, dtype=torch.float64)

        def func_jvp():
            return torch.func.jvp(ft, tuple(map(T, args)), tuple(map(T, direction)))[1].item()

        def functional_jvp():
            return torch.autograd.functional.jvp(ft, tuple(map(T, args)),
                                                 tuple(map(T, direction)))[1].item()

        def func_hvp():
            Y, Z = T(y), T(z)
            g = torch.func.grad(lambda X: ft(X, Y, Z))
            return torch.func.jvp(g, (T(x),), (T(v),))[1].item()

        def functional_hvp():
            Y, Z = T(y), T(z)
            return torch.autograd.functional.hvp(lambda X: ft(X, Y, Z), T(x), T(v))[1].item()

        for name, fn in (("torch.func.jvp", func_jvp),
                         ("torch.autograd.functional.jvp", functional_jvp),
                         ("torch.func jvp(grad) hvp in x", func_hvp),
                         ("torch.autograd.functional.hvp x", functional_hvp)):
            systems[name] = fn
            results[name] = fn()
    except ImportError:
        print("(torch not installed: skipped; pip install -e .[bench])")
    try:
        import autograd
        import autograd.numpy as anp
        fa = math_as(f57, **unary_names(anp, anp.arctan))
        aj = autograd.make_jvp(fa, argnum=(0, 1, 2))
        ah = autograd.hessian_vector_product(fa, 0)
        systems["HIPS autograd make_jvp"] = lambda: aj(*args)(direction)[1]
        systems["HIPS autograd hvp in x"] = lambda: ah(x, y, z, v)
        results["HIPS autograd make_jvp"] = float(aj(*args)(direction)[1])
        results["HIPS autograd hvp in x"] = float(ah(x, y, z, v))
    except ImportError:
        print("(autograd not installed: skipped; pip install -e .[bench])")
    return systems, results


def rosen_peers(x):
    """{name: (callable giving the Hessian as an ndarray, compile seconds or None)}."""
    peers = {}
    try:
        import torch
        torch.set_num_threads(1)
        rt_ = numpy_as(rosen, torch)
        F = torch.autograd.functional
        peers["torch functional.hessian"] = (
            lambda: F.hessian(rt_, torch.tensor(x)).numpy(), None)
        peers["torch functional.hessian vectorize"] = (
            lambda: F.hessian(rt_, torch.tensor(x), vectorize=True).numpy(), None)
        th = torch.func.hessian(rt_)
        peers["torch.func.hessian"] = (lambda: th(torch.tensor(x)).numpy(), None)
    except ImportError:
        print("(torch not installed: skipped; pip install -e .[bench])")
    try:
        import autograd
        import autograd.numpy as anp
        ah = autograd.hessian(numpy_as(rosen, anp))
        peers["HIPS autograd.hessian"] = (lambda: ah(x), None)
    except ImportError:
        print("(autograd not installed: skipped; pip install -e .[bench])")
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        hj = jax.jit(jax.hessian(numpy_as(rosen, jnp)))
        start = time.perf_counter()
        hj(x).block_until_ready()
        compile_s = time.perf_counter() - start
        peers["jax.jit(jax.hessian)"] = (lambda: np.asarray(hj(x).block_until_ready()), compile_s)
    except ImportError:
        print("(jax not installed: skipped; pip install -e .[bench])")
    return peers


def jacobian_peers(x, W, b):
    peers = {}
    try:
        import torch
        torch.set_num_threads(1)
        Wt, bt = torch.tensor(W), torch.tensor(b)
        F = torch.autograd.functional

        def ft(x_):
            return torch.tanh(Wt @ x_ + bt)
        peers["torch functional.jacobian"] = lambda: F.jacobian(ft, torch.tensor(x)).numpy()
        peers["torch functional.jacobian vectorize"] = \
            lambda: F.jacobian(ft, torch.tensor(x), vectorize=True).numpy()
        peers["torch functional.jacobian fwd (vect.)"] = \
            lambda: F.jacobian(ft, torch.tensor(x), vectorize=True,
                               strategy="forward-mode").numpy()
    except ImportError:
        print("(torch not installed: skipped; pip install -e .[bench])")
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        fj = numpy_as(layer, jnp)
        jr = jax.jit(jax.jacrev(fj))
        jf = jax.jit(jax.jacfwd(fj))
        jr(x, W, b).block_until_ready()
        jf(x, W, b).block_until_ready()
        peers["jax.jit(jax.jacrev)"] = lambda: np.asarray(jr(x, W, b).block_until_ready())
        peers["jax.jit(jax.jacfwd)"] = lambda: np.asarray(jf(x, W, b).block_until_ready())
    except ImportError:
        print("(jax not installed: skipped; pip install -e .[bench])")
    try:
        import autograd
        import autograd.numpy as anp
        aj = autograd.jacobian(numpy_as(layer, anp))
        peers["HIPS autograd.jacobian"] = lambda: aj(x, W, b)
    except ImportError:
        print("(autograd not installed: skipped; pip install -e .[bench])")
    return peers


# ---- T1 ------------------------------------------------------------------------------------------

def t1(report):
    import runtime as rt
    from runtime.autograd import functional as TF

    from compiler.compare import on_tape
    args, direction, v = POINT, DIRECTION, V
    x, y, z = args
    vg = value_and_grad(f57, wrt=(0, 1, 2))
    J = jvp(f57)
    Jx = jvp(f57, wrt=0)  # a tangent in x alone: the jvp that pairs with hvp in x
    H = hvp(f57, wrt=0)
    ours_jvp = J(args, direction)
    ours_jvp_x = Jx(args, (direction[0],))
    ours_hvp = H(*args, v)
    Jf, Jxf, Hf = J.compiled.function, Jx.compiled.function, H.compiled.function
    assert Jf(*args, *direction) == ours_jvp and Hf(*args, v)[1] == ours_hvp
    assert Jxf(*args, direction[0]) == ours_jvp_x
    # a central difference says both are right before anything is timed
    eps = 1e-5
    fd_jvp = (f57(*(a + eps * d for a, d in zip(args, direction)))
              - f57(*(a - eps * d for a, d in zip(args, direction)))) / (2 * eps)
    gx = value_and_grad(f57, wrt=0)
    fd_hvp = (gx(x + eps, y, z)[1] - gx(x - eps, y, z)[1]) / (2 * eps) * v
    fd_jvp_x = (f57(x + eps, y, z) - f57(x - eps, y, z)) / (2 * eps) * direction[0]
    assert abs(fd_jvp - ours_jvp[1]) < 1e-6 and abs(fd_jvp_x - ours_jvp_x[1]) < 1e-6 and abs(fd_hvp - ours_hvp) < 1e-5, \
        (fd_jvp, ours_jvp, fd_hvp, ours_hvp)

    taped = on_tape(f57)

    def tape_jvp():
        return TF.jvp(taped, tuple(map(rt.tensor, args)), tuple(map(rt.tensor, direction)))[1].item()

    def tape_hvp():
        Y, Z = rt.tensor(y), rt.tensor(z)
        return TF.hvp(lambda X: taped(X, Y, Z), rt.tensor(x), rt.tensor(v))[1].item()

    systems = {"plain Python primal f57": lambda: f57(*args),
               "sourcead value_and_grad (3 args)": lambda: vg(*args),
               "sourcead jvp": lambda: J(args, direction),
               "sourcead jvp, generated code": lambda: Jf(x, y, z, *direction),
               "sourcead jvp in x alone": lambda: Jx(args, (direction[0],)),
               "sourcead jvp in x alone, generated": lambda: Jxf(x, y, z, direction[0]),
               "sourcead hvp in x": lambda: H(x, y, z, v),
               "sourcead hvp in x, generated code": lambda: Hf(x, y, z, v),
               "runtime tape functional.jvp": tape_jvp,
               "runtime tape functional.hvp x": tape_hvp}
    results = {"runtime tape functional.jvp": tape_jvp(), "runtime tape functional.hvp x": tape_hvp()}
    peers, peer_results = scalar_peers(args, direction, v)
    systems.update(peers)
    results.update(peer_results)
    agree = {name: close(r, ours_jvp[1] if "jvp" in name and "hvp" not in name else ours_hvp, 1e-9)
             for name, r in results.items()}

    times = interleaved(systems)
    primal = times["plain Python primal f57"]
    print(f"\nT1  scalar f57 (57 primitive ops, 3 inputs): jvp along "
          f"{DIRECTION} in (x, y, z); hvp = d2f/dx2 * v in x alone. Every system in the same "
          "interleaved rounds, medians")
    print(f"{'':36} {'µs/call':>10} {'x primal':>10}  agrees")
    for name, t in times.items():
        mark = "" if name not in agree else ("yes" if agree[name] else "NO")
        print(f"{name:36} {t * 1e6:10.2f} {t / primal:10.1f}  {mark}")
    report["jvp"] = times["sourcead jvp"] / primal
    report["jvp generated"] = times["sourcead jvp, generated code"] / primal
    report["jvp x generated"] = times["sourcead jvp in x alone, generated"] / primal
    report["hvp"] = times["sourcead hvp in x"] / primal
    report["hvp generated"] = times["sourcead hvp in x, generated code"] / primal
    report["jvp wrapper µs"] = (times["sourcead jvp"] - times["sourcead jvp, generated code"]) * 1e6
    report["hvp wrapper µs"] = (times["sourcead hvp in x"]
                                - times["sourcead hvp in x, generated code"]) * 1e6
    report["tape jvp"] = times["runtime tape functional.jvp"] / times["sourcead jvp"]
    report["tape hvp"] = times["runtime tape functional.hvp x"] / times["sourcead hvp in x"]
    print(f"jvp / primal: public call {report['jvp']:.1f}x, generated code {report['jvp generated']:.1f}x"
          f"; hvp / primal: public call {report['hvp']:.1f}x, generated code "
          f"{report['hvp generated']:.1f}x; the call wrapper adds {report['jvp wrapper µs']:.1f} µs "
          f"to jvp and {report['hvp wrapper µs']:.1f} µs to hvp")
    return all(agree.values())


# ---- T2 ------------------------------------------------------------------------------------------

def t2(report):
    import runtime as rt
    from runtime.autograd import functional as TF
    x = np.random.default_rng(0).uniform(-1.5, 1.5, N_ROSEN)
    start = time.perf_counter()
    H = hessian(rosen)
    ours = H(x)
    build = time.perf_counter() - start
    assert ours.shape == (N_ROSEN, N_ROSEN)
    vg = value_and_grad(rosen)
    vg(x)
    column = H.compiled.function
    e = np.zeros(N_ROSEN)
    e[N_ROSEN // 2] = 1.0
    column(x, e)
    P = hvp(rosen)
    P(x, e)

    def tape_hessian():
        return TF.hessian(rosen, rt.tensor(x)).numpy()

    main = interleaved({"plain primal rosen": lambda: rosen(x),
                        "sourcead value_and_grad": lambda: vg(x),
                        "sourcead hvp (one H v)": lambda: P(x, e),
                        "sourcead one column, generated": lambda: column(x, e),
                        "sourcead hessian": lambda: H(x),
                        "runtime tape functional.hessian": tape_hessian}, rounds=9, target=0.05)
    ours_t = main["sourcead hessian"]
    rows = {name: (t, None) for name, t in main.items()}
    agree = {"runtime tape functional.hessian": close(tape_hessian(), ours, 1e-6)}
    peers = rosen_peers(x)
    for name, (fn, _) in peers.items():
        agree[name] = close(fn(), ours, 1e-6)
    ratios = peer_blocks("sourcead hessian", lambda: H(x), {n: p[0] for n, p in peers.items()})
    for name, (_, compile_s) in peers.items():
        rows[name] = (ratios[name] * ours_t, compile_s)

    primal = main["plain primal rosen"]
    print(f"\nT2  dense Hessian of Rosenbrock, n = {N_ROSEN}, NumPy arrays; ours and the tape in the "
          "same interleaved rounds, each peer in a block of its own against ours, medians")
    print(f"{'':38} {'ms/call':>9} {'x primal':>9} {'vs ours':>8}  agrees (1e-6 rel.)")
    for name, (t, _) in rows.items():
        mark = "" if name not in agree else ("yes" if agree[name] else "NO")
        print(f"{name:38} {t * 1e3:9.3f} {t / primal:9.1f} {t / ours_t:8.2f}  {mark}")
    compiled = [f"{n} {c:.2f} s" for n, (_, c) in rows.items() if c is not None]
    print(f"first call, compile included: sourcead hessian {build * 1e3:.0f} ms (decoration, then "
          f"the float64[{N_ROSEN}] version)" + "".join(f"; {c} (trace and XLA compile)"
                                                        for c in compiled))
    col = main["sourcead one column, generated"]
    report["hessian ms"] = ours_t * 1e3
    report["hessian columns share"] = N_ROSEN * col / ours_t
    report["column / gradient"] = col / main["sourcead value_and_grad"]
    report["tape hessian"] = main["runtime tape functional.hessian"] / ours_t
    for name, (t, _) in rows.items():
        if "jax" in name:
            report["jax hessian vs ours"] = ours_t / t
    print(f"where it goes: {N_ROSEN} forward-over-reverse columns of {col * 1e6:.1f} µs each "
          f"(each {report['column / gradient']:.2f}x a value_and_grad call) make "
          f"{100 * report['hessian columns share']:.0f}% of the call; the rest is hessian's own loop "
          "(a fresh tangent array per column, writing the column)")
    return all(agree.values())


# ---- T3 ------------------------------------------------------------------------------------------

def t3(report):
    import runtime as rt
    from runtime.autograd import functional as TF
    rng = np.random.default_rng(1)
    W = rng.normal(size=(100, 50)) / np.sqrt(50)
    b = rng.normal(size=100) * 0.1
    x = rng.normal(size=50)
    exact = (1.0 - np.tanh(W @ x + b) ** 2)[:, None] * W
    Jr = jacobian(layer, wrt=0, mode="rev")
    Jf = jacobian(layer, wrt=0, mode="fwd")
    out, back = vjp(layer, x, W, b, wrt=0)
    J = jvp(layer, wrt=0)
    seed = rng.normal(size=100)
    tangent = rng.normal(size=50)
    assert close(Jr(x, W, b), exact, 1e-12) and close(Jf(x, W, b), exact, 1e-12)
    assert close(back(seed), seed @ exact, 1e-12) and close(J((x, W, b), (tangent,))[1],
                                                             exact @ tangent, 1e-12)
    back_gen, jvp_gen = back.compiled.function, J.compiled.function

    def tape_rev():
        return TF.jacobian(lambda x_: layer(x_, W, b), rt.tensor(x)).numpy()

    def tape_fwd():
        return TF.jacobian(lambda x_: layer(x_, W, b), rt.tensor(x),
                           strategy="forward-mode").numpy()

    main = interleaved({"plain primal": lambda: layer(x, W, b),
                        "sourcead vjp back() (one row)": lambda: back(seed),
                        "sourcead vjp, generated code": lambda: back_gen(x, W, b, seed),
                        "sourcead jacobian rev": lambda: Jr(x, W, b),
                        "sourcead jvp (one column)": lambda: J((x, W, b), (tangent,)),
                        "sourcead jvp, generated code": lambda: jvp_gen(x, W, b, tangent),
                        "sourcead jacobian fwd": lambda: Jf(x, W, b),
                        "runtime tape functional.jacobian": tape_rev,
                        "runtime tape jacobian forward-mode": tape_fwd}, rounds=9, target=0.05)
    agree = {"runtime tape functional.jacobian": close(tape_rev(), exact, 1e-9),
             "runtime tape jacobian forward-mode": close(tape_fwd(), exact, 1e-9)}
    peers = jacobian_peers(x, W, b)
    for name, fn in peers.items():
        agree[name] = close(fn(), exact, 1e-9)
    ours_t = main["sourcead jacobian rev"]
    ratios = peer_blocks("sourcead jacobian rev", lambda: Jr(x, W, b), peers)
    rows = dict(main)
    rows.update({name: r * ours_t for name, r in ratios.items()})
    primal = main["plain primal"]
    print("\nT3  Jacobian of tanh(W @ x + b), W 100x50, w.r.t. x (100 x 50); ours and the tape in "
          "the same interleaved rounds, each peer in a block of its own against ours, medians")
    print(f"{'':38} {'µs/call':>10} {'x primal':>9} {'vs rev':>7}  agrees")
    for name, t in rows.items():
        mark = "" if name not in agree else ("yes" if agree[name] else "NO")
        print(f"{name:38} {t * 1e6:10.1f} {t / primal:9.1f} {t / ours_t:7.2f}  {mark}")
    report["rev / back"] = ours_t / main["sourcead vjp back() (one row)"]
    report["rev / back generated"] = ours_t / main["sourcead vjp, generated code"]
    report["fwd / jvp"] = main["sourcead jacobian fwd"] / main["sourcead jvp (one column)"]
    report["fwd / jvp generated"] = main["sourcead jacobian fwd"] / main["sourcead jvp, generated code"]
    report["tape jacobian"] = main["runtime tape functional.jacobian"] / ours_t
    print(f"jacobian rev / one back(): {report['rev / back']:.1f}x ({report['rev / back generated']:.1f}x "
          f"the generated vjp alone: 100 rows, one full vjp each); jacobian fwd / one jvp call: "
          f"{report['fwd / jvp']:.1f}x ({report['fwd / jvp generated']:.1f}x the generated jvp alone: "
          "50 columns, one full jvp each)")
    return all(agree.values())


def profile_hessian():
    x = np.random.default_rng(0).uniform(-1.5, 1.5, N_ROSEN)
    H = hessian(rosen)
    H(x)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(200):
        H(x)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(12)
    print(f"\ncProfile of hessian(rosen)(x), n = {N_ROSEN}, 200 calls, by own time:")
    print("\n".join(line for line in text.getvalue().splitlines()[4:] if line.strip()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of hessian(rosen)(x) for n = 100")
    options = parser.parse_args()
    start = time.perf_counter()
    report = {}
    ok = t1(report)
    ok = t2(report) and ok
    ok = t3(report) and ok

    print("\nT4  the tape's functional API against the compiled transformations (public calls): "
          f"jvp {report['tape jvp']:.0f}x, hvp {report['tape hvp']:.0f}x, hessian "
          f"{report['tape hessian']:.1f}x, jacobian rev {report['tape jacobian']:.1f}x slower")
    print("\nTargets (reported, not asserted):")
    print(f"  jvp / primal (x,y,z)  public {verdict(report['jvp'], JVP_TARGET)}; generated code "
          f"{verdict(report['jvp generated'], JVP_TARGET)}")
    print(f"  jvp in x alone        generated code {verdict(report['jvp x generated'], JVP_TARGET)}")
    print(f"  hvp in x / primal     public {verdict(report['hvp'], HVP_TARGET)}; generated code "
          f"{verdict(report['hvp generated'], HVP_TARGET)}")
    print(f"  jacobian rev / back() {verdict(report['rev / back'], JAC_TARGET)}")
    print(f"  jacobian fwd / jvp    {verdict(report['fwd / jvp'], JAC_TARGET)}")
    if options.profile:
        profile_hessian()
    print(f"\n(whole run {time.perf_counter() - start:.0f} s)")
    if not ok:
        print("DISAGREEMENT: see the rows marked NO")
        sys.exit(1)


if __name__ == "__main__":
    main()
