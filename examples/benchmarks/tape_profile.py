"""Section "tape" (only when asked for: --only tape): what the tape (runtime) costs per recorded
operation on S1, through the tape's own API and through compiler.compare's wrapper in both spellings,
and where the time goes (cProfile, by own time). For following the tape's per-operation overhead
from one version to the next."""
from __future__ import annotations

import cProfile
import io
import os
import pstats

import scalar_workloads as W
from report import Section, Table, per_call
from timing import interleaved

OPERATIONS = 57


def _direct(rt):
    """f57 written against the tape's own functions: no wrapper, no NumPy dispatch."""
    def run(vx, vy, vz):
        x, y, z = (rt.tensor(v, requires_grad=True) for v in (vx, vy, vz))
        a = x * y + z
        b = rt.sin(a) * rt.exp(-x * x)
        c = rt.tanh(b + y) - rt.log(1.0 + z * z)
        d = c * c + a / (1.0 + b * b)
        e = rt.sqrt(d * d + 1.0) * rt.cos(x - y)
        f = e * a - b * c + d / (2.0 + rt.sin(z))
        g = rt.exp(-f * f * 0.01) + rt.arctan(e) * x
        h = g * y - f * z + rt.log1p(c * c)
        out = h * h + g - a * e
        out.backward()
        return out.item(), (x.grad.item(), y.grad.item(), z.grad.item())
    return run


def measure(plan, calls=300, say=print):
    import runtime as rt

    from compiler.compare import tape_value_and_grad
    section = Section("tape", "The tape's cost per operation (S1)", INTRO)
    args = W.S1_POINT
    systems = {"primal f57 (math)": W.f57,
               "tape, its own API (rt.sin...)": _direct(rt),
               "tape via compare.tape_value_and_grad, math": tape_value_and_grad(W.f57, (0, 1, 2)),
               "tape via compare.tape_value_and_grad, NumPy": tape_value_and_grad(W.f57_np, (0, 1, 2))}
    times = interleaved({k: (lambda f: lambda: f(*args))(f) for k, f in systems.items()}, plan)
    table = Table("Value and gradient of f57 on the tape", ["system", "per call", "per operation"])
    for name, t in times.items():
        table.add(name, per_call(t), per_call(t / OPERATIONS))
    section.tables.append(table)
    profiler = cProfile.Profile()
    run = systems["tape, its own API (rt.sin...)"]
    profiler.enable()
    for _ in range(calls):
        run(*args)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(12)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep
    lines = [line.replace(root, "") for line in text.getvalue().splitlines() if line.strip()][3:]
    section.notes.append(f"cProfile of the tape's own API, {calls} calls, by own time:\n\n```\n"
                         + "\n".join(lines) + "\n```")
    return section


INTRO = ("57 operations recorded per call; `per operation`: the call's time / 57 (making the leaves, "
         "recording, backward and reading the gradients included).")
