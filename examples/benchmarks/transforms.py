"""Section "transforms": forward mode and second order against the peers'.

T1  f57 (math spelling): `jvp` along one tangent in (x, y, z), and `hvp` in x alone (d2f/dx2 * v),
    the public call and its generated code alone (`.compiled.function`), against the tape's
    functional API and the peers' jvp and forward-over-reverse hvp (all in the same interleaved
    rounds).
T2  the dense Hessian of the n = 100 Rosenbrock function (NumPy arrays), `hessian(rosen)(x)`.
T3  the Jacobian of tanh(W @ x + b), W 100 x 50, w.r.t. x: `jacobian` in both modes.

In T2 and T3 ours and the tape share interleaved rounds; each peer is timed in a block of its own
against our call (thread pools) and put on the same scale through that ratio. Our results are
checked by central differences (of the function for jvp, of the checked gradient for hvp and the
Hessian, of nothing for T3: its Jacobian is written out); every other system's against ours.
"""
from __future__ import annotations

import time

import numpy as np

import peers as peer_lib
from checks import Reference
from report import Section, Table, mismatch, per_call, ratio
from scalar_workloads import S1_POINT, f57, f57_np
from timing import against, interleaved

DIRECTION = (0.2, -0.5, 0.7)
V = 0.8
TARGETS = {"jvp": 2.5, "hvp": 6.0, "jacobian": 10.0}


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def layer(x, W, b):
    return np.tanh(W @ x + b)


def _close(a, b, rel):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.max(np.abs(a - b)) <= rel * max(1.0, float(np.max(np.abs(b)))))


def _keep(section, systems, name, fn, expected, rel, say):
    """Add fn to systems if its result agrees with `expected`; else drop the row, loudly."""
    try:
        got = fn()
    except Exception as exc:  # noqa: BLE001
        mismatch(section, f"{name} raised {type(exc).__name__}: {exc}", say)
        return
    if _close(got, expected, rel):
        systems[name] = fn
    else:
        mismatch(section, f"{name} gives {np.asarray(got).ravel()[:4]}..., ours (checked by "
                          f"central differences) {np.asarray(expected).ravel()[:4]}...", say)


# ---- T1 ------------------------------------------------------------------------------------------

def _scalar_peers(loaded):
    """{name: (callable giving the jvp's tangent out, or the hvp)}, both kinds, for f57."""
    x, y, z = S1_POINT
    args, direction, v = S1_POINT, DIRECTION, V
    jvps, hvps = {}, {}
    if "jax" in loaded:
        jax = loaded["jax"]
        import jax.numpy as jnp
        fj = peer_lib.numpy_as(f57_np, jnp)
        jj = jax.jit(lambda p, t: jax.jvp(fj, p, t)[1])
        hj = jax.jit(lambda x, y, z, v: jax.jvp(lambda x: jax.grad(fj)(x, y, z), (x,), (v,))[1])
        jvps["jax.jit(jax.jvp)"] = lambda: jj(args, direction).block_until_ready()
        hvps["jax.jit(jvp of grad)"] = lambda: hj(x, y, z, v).block_until_ready()
    if "torch" in loaded:
        torch = loaded["torch"]
        ft = peer_lib.numpy_as(f57_np, torch)

        def T(value):
            return torch.tensor(value, dtype=torch.float64)

        def functional_jvp():
            return torch.autograd.functional.jvp(ft, tuple(map(T, args)),
                                                 tuple(map(T, direction)))[1].item()

        def func_jvp():
            return torch.func.jvp(ft, tuple(map(T, args)), tuple(map(T, direction)))[1].item()

        def functional_hvp():
            Y, Z = T(y), T(z)
            return torch.autograd.functional.hvp(lambda X: ft(X, Y, Z), T(x), T(v))[1].item()

        def func_hvp():
            Y, Z = T(y), T(z)
            return torch.func.jvp(torch.func.grad(lambda X: ft(X, Y, Z)), (T(x),), (T(v),))[1].item()

        jvps["torch.autograd.functional.jvp"] = functional_jvp
        jvps["torch.func.jvp"] = func_jvp
        hvps["torch.autograd.functional.hvp"] = functional_hvp
        hvps["torch.func jvp(grad)"] = func_hvp
    if "autograd" in loaded:
        autograd = loaded["autograd"]
        import autograd.numpy as anp
        fa = peer_lib.numpy_as(f57_np, anp)
        aj = autograd.make_jvp(fa, argnum=(0, 1, 2))
        ah = autograd.hessian_vector_product(fa, 0)
        jvps["HIPS autograd make_jvp"] = lambda: aj(*args)(direction)[1]
        hvps["HIPS autograd hessian_vector_product"] = lambda: ah(x, y, z, v)
    return jvps, hvps


def t1(section, plan, loaded, say):
    import runtime as rt
    from runtime.autograd import functional as TF

    from compiler import hvp, jvp, value_and_grad
    from compiler.compare import on_tape
    args, direction, v = S1_POINT, DIRECTION, V
    x, y, z = args
    vg = value_and_grad(f57, wrt=(0, 1, 2))
    J, H = jvp(f57), hvp(f57, wrt=0)
    Jf, Hf = J.compiled.function, H.compiled.function
    eps = 1e-5
    moved = [tuple(a + s * eps * d for a, d in zip(args, direction)) for s in (1, -1)]
    expected_jvp = (f57(*moved[0]) - f57(*moved[1])) / (2 * eps)
    Reference(f57, args, (0, 1, 2)).check("value_and_grad", vg(*args))
    expected_hvp = (vg(x + eps, y, z)[1][0] - vg(x - eps, y, z)[1][0]) / (2 * eps) * v
    jvps = {"ours jvp": lambda: J(args, direction)[1],
            "ours jvp, generated code": lambda: Jf(x, y, z, *direction)[1]}
    hvps = {"ours hvp": lambda: H(x, y, z, v),
            "ours hvp, generated code": lambda: Hf(x, y, z, v)[1]}
    taped = on_tape(f57)
    jvps["tape functional.jvp"] = lambda: TF.jvp(
        taped, tuple(map(rt.tensor, args)), tuple(map(rt.tensor, direction)))[1].item()
    hvps["tape functional.hvp"] = lambda: TF.hvp(
        lambda X: taped(X, rt.tensor(y), rt.tensor(z)), rt.tensor(x), rt.tensor(v))[1].item()
    peer_jvps, peer_hvps = _scalar_peers(loaded)
    jvps.update(peer_jvps)
    hvps.update(peer_hvps)
    systems = {"primal f57": lambda: f57(*args), "ours value_and_grad": lambda: vg(*args)}
    for name, fn in jvps.items():
        _keep(section, systems, f"jvp: {name}", fn, expected_jvp, 1e-6, say)
    for name, fn in hvps.items():
        _keep(section, systems, f"hvp in x: {name}", fn, expected_hvp, 1e-5, say)
    times = interleaved(systems, plan)
    primal = times["primal f57"]
    table = Table("T1 f57: jvp along (0.2, -0.5, 0.7) in (x, y, z), hvp = d²f/dx² v in x alone",
                  ["system", "per call", "× primal", "× ours (same transformation)"])
    ours_of = {"jvp": "jvp: ours jvp", "hvp in x": "hvp in x: ours hvp"}
    for name, t in times.items():
        ours = times.get(ours_of.get(name.split(":")[0]))
        table.add(name, per_call(t), ratio(t / primal), ratio(t / ours) if ours else "")
    section.tables.append(table)
    for kind, key in (("jvp", "jvp: ours jvp"), ("hvp", "hvp in x: ours hvp")):
        public, generated = times.get(key), times.get(f"{key}, generated code")
        if public and generated:
            section.notes.append(
                f"{kind} / primal: public call {public / primal:.1f}×, generated code "
                f"{generated / primal:.1f}× (target ≤ {TARGETS[kind]:g}×: "
                f"{'met' if generated / primal <= TARGETS[kind] else 'missed'} by the generated code).")


# ---- T2 and T3 -----------------------------------------------------------------------------------

def _blocks(section, title, unit_note, ours_name, main, peer_fns, plan, compile_notes):
    """Table: main systems interleaved, each peer against ours in its own block."""
    times = interleaved(main, plan)
    ours_t = times[ours_name]
    for name, fn in peer_fns.items():
        times[name] = against(main[ours_name], fn, plan) * ours_t
    primal = next(iter(times.values()))
    table = Table(title, ["system", "per call", "× primal", f"× {ours_name}"])
    for name, t in times.items():
        table.add(name, per_call(t), ratio(t / primal), ratio(t / ours_t))
    section.tables.append(table)
    if compile_notes:
        section.notes.append(unit_note + "; ".join(compile_notes) + ".")
    return times


def t2(section, plan, loaded, n, say):
    import runtime as rt
    from runtime.autograd import functional as TF

    from compiler import hessian, value_and_grad
    x = np.random.default_rng(0).uniform(-1.5, 1.5, n)
    vg = value_and_grad(rosen)
    Reference(rosen, (x,), (0,)).check("rosen value_and_grad", vg(x))
    start = time.perf_counter()
    H = hessian(rosen)
    ours = H(x)
    first = time.perf_counter() - start
    d = np.random.default_rng(1).normal(size=n)
    eps = 1e-6
    column = (vg(x + eps * d)[1] - vg(x - eps * d)[1]) / (2 * eps)
    if not _close(ours @ d, column, 1e-5):
        mismatch(section, "rosen: hessian(rosen) H @ d disagrees with central differences of the "
                          "gradient; T2 not timed", say)
        return
    main = {"primal rosen": lambda: rosen(x), "ours value_and_grad": lambda: vg(x),
            "ours hessian": lambda: H(x)}
    _keep(section, main, "tape functional.hessian",
          lambda: TF.hessian(rosen, rt.tensor(x)).numpy(), ours, 1e-6, say)
    peer_fns, notes = {}, [f"ours {first * 1e3:.0f} ms (decoration and the float64[{n}] version)"]
    if "torch" in loaded:
        torch = loaded["torch"]
        rt_ = peer_lib.numpy_as(rosen, torch)
        F = torch.autograd.functional
        _keep(section, peer_fns, "torch functional.hessian",
              lambda: F.hessian(rt_, torch.tensor(x)).numpy(), ours, 1e-6, say)
        _keep(section, peer_fns, "torch functional.hessian(vectorize=True)",
              lambda: F.hessian(rt_, torch.tensor(x), vectorize=True).numpy(), ours, 1e-6, say)
        th = torch.func.hessian(rt_)
        _keep(section, peer_fns, "torch.func.hessian", lambda: th(torch.tensor(x)).numpy(), ours,
              1e-6, say)
    if "jax" in loaded:
        jax = loaded["jax"]
        import jax.numpy as jnp
        hj = jax.jit(jax.hessian(peer_lib.numpy_as(rosen, jnp)))
        start = time.perf_counter()
        hj(x).block_until_ready()
        notes.append(f"jax.jit(jax.hessian) {time.perf_counter() - start:.2f} s (trace and compile)")
        _keep(section, peer_fns, "jax.jit(jax.hessian)",
              lambda: np.asarray(hj(x).block_until_ready()), ours, 1e-6, say)
    if "autograd" in loaded:
        import autograd.numpy as anp
        ah = loaded["autograd"].hessian(peer_lib.numpy_as(rosen, anp))
        _keep(section, peer_fns, "HIPS autograd.hessian", lambda: ah(x), ours, 1e-6, say)
    _blocks(section, f"T2 dense Hessian of Rosenbrock, n = {n}", "First calls: ", "ours hessian",
            main, peer_fns, plan, notes)


def t3(section, plan, loaded, rows, cols, say):
    import runtime as rt
    from runtime.autograd import functional as TF

    from compiler import jacobian, jvp, vjp
    rng = np.random.default_rng(1)
    W = rng.normal(size=(rows, cols)) / np.sqrt(cols)
    b = rng.normal(size=rows) * 0.1
    x = rng.normal(size=cols)
    exact = (1.0 - np.tanh(W @ x + b) ** 2)[:, None] * W
    Jr, Jf = jacobian(layer, wrt=0, mode="rev"), jacobian(layer, wrt=0, mode="fwd")
    _, back = vjp(layer, x, W, b, wrt=0)
    J = jvp(layer, wrt=0)
    seed, tangent = rng.normal(size=rows), rng.normal(size=cols)
    main = {"primal layer": lambda: layer(x, W, b)}
    _keep(section, main, "ours vjp back() (one row)", lambda: back(seed), seed @ exact, 1e-12, say)
    _keep(section, main, "ours jvp (one column)", lambda: J((x, W, b), (tangent,))[1],
          exact @ tangent, 1e-12, say)
    _keep(section, main, "ours jacobian rev", lambda: Jr(x, W, b), exact, 1e-12, say)
    _keep(section, main, "ours jacobian fwd", lambda: Jf(x, W, b), exact, 1e-12, say)
    if "ours jacobian rev" not in main:
        return
    _keep(section, main, "tape functional.jacobian",
          lambda: TF.jacobian(lambda x_: layer(x_, W, b), rt.tensor(x)).numpy(), exact, 1e-9, say)
    peer_fns = {}
    if "torch" in loaded:
        torch = loaded["torch"]
        Wt, bt = torch.tensor(W), torch.tensor(b)
        F = torch.autograd.functional

        def ft(x_):
            return torch.tanh(Wt @ x_ + bt)
        _keep(section, peer_fns, "torch functional.jacobian",
              lambda: F.jacobian(ft, torch.tensor(x)).numpy(), exact, 1e-9, say)
        _keep(section, peer_fns, "torch functional.jacobian(vectorize=True)",
              lambda: F.jacobian(ft, torch.tensor(x), vectorize=True).numpy(), exact, 1e-9, say)
    if "jax" in loaded:
        jax = loaded["jax"]
        import jax.numpy as jnp
        fj = peer_lib.numpy_as(layer, jnp)
        jr, jf = jax.jit(jax.jacrev(fj)), jax.jit(jax.jacfwd(fj))
        _keep(section, peer_fns, "jax.jit(jax.jacrev)",
              lambda: np.asarray(jr(x, W, b).block_until_ready()), exact, 1e-9, say)
        _keep(section, peer_fns, "jax.jit(jax.jacfwd)",
              lambda: np.asarray(jf(x, W, b).block_until_ready()), exact, 1e-9, say)
    if "autograd" in loaded:
        import autograd.numpy as anp
        aj = loaded["autograd"].jacobian(peer_lib.numpy_as(layer, anp))
        _keep(section, peer_fns, "HIPS autograd.jacobian", lambda: aj(x, W, b), exact, 1e-9, say)
    times = _blocks(section, f"T3 Jacobian of tanh(W @ x + b), W {rows}x{cols}, w.r.t. x", "",
                    "ours jacobian rev", main, peer_fns, plan, [])
    if "ours vjp back() (one row)" in times and "ours jvp (one column)" in times:
        rev = times["ours jacobian rev"] / times["ours vjp back() (one row)"]
        fwd = times["ours jacobian fwd"] / times["ours jvp (one column)"]
        section.notes.append(
            f"jacobian rev / one vjp back(): {rev:.0f}× ({rows} rows, one vjp each); jacobian fwd / "
            f"one jvp: {fwd:.0f}× ({cols} columns) (target ≤ {TARGETS['jacobian']:g}×: "
            f"{'met' if max(rev, fwd) <= TARGETS['jacobian'] else 'missed'}; the seeds are not "
            "batched through one pass).")


def measure(plan, loaded, small=False, say=print):
    section = Section("transforms", "Transformations: jvp, hvp, hessian, jacobian", INTRO)
    t1(section, plan, loaded, say)
    t2(section, plan, loaded, 10 if small else 100, say)
    t3(section, plan, loaded, *((6, 4) if small else (100, 50)), say=say)
    return section


INTRO = ("Each system's result is checked before it is timed (ours by central differences, the "
         "others against ours). `generated code`: our transformation's emitted function called "
         "directly, without the public call's argument handling. In T2 and T3 each peer is timed "
         "in a block of its own against ours and put on the same scale.")
