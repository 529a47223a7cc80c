"""Section "scalar": S1 and S2, each in its `math` and NumPy spellings (and NumPy with np.float64
arguments), against the hand-written passes, this project's tape and the peers, all systems of one
workload timed in the same interleaved rounds."""
from __future__ import annotations

import numpy as np

import peers as peer_lib
import scalar_workloads as W
from checks import Reference, checked
from report import Section, Table, mismatch, speed_row
from timing import interleaved


class Variant:
    def __init__(self, label, fn, hand, args, tape=True):
        self.label, self.fn, self.hand, self.args, self.tape = label, fn, hand, args, tape


def workloads():
    """{key: (title, wrt, [Variant], NumPy-spelled function and float arguments for the peers)}."""
    f64 = tuple(np.float64(v) for v in W.S1_POINT)
    f64_2 = tuple(np.float64(v) for v in W.S2_POINT)
    return {
        "s1": ("S1 f57 (57 ops, 3 inputs)", (0, 1, 2), [
            Variant("math", W.f57, W.hand_f57, W.S1_POINT),
            Variant("NumPy", W.f57_np, W.hand_f57_np, W.S1_POINT),
            Variant("NumPy, np.float64 args", W.f57_np, W.hand_f57_np, f64, tape=False)],
            (W.f57_np, W.S1_POINT)),
        "s2": (f"S2 recurrence ({W.S2_STEPS} steps)", (0, 1), [
            Variant("math", W.recurrence, W.hand_recurrence, W.S2_POINT),
            Variant("NumPy", W.recurrence_np, W.hand_recurrence_np, W.S2_POINT),
            Variant("NumPy, np.float64 args", W.recurrence_np, W.hand_recurrence_np, f64_2,
                    tape=False)],
            (W.recurrence_np, W.S2_POINT)),
    }


def measure(keys, plan, loaded_peers, say=print):
    from compiler import value_and_grad
    from compiler.compare import tape_value_and_grad

    section = Section("scalar", "Scalar code: S1 (f57) and S2 (a 100-step recurrence)", INTRO)
    table = Table("Value and gradient per call; in brackets: ours × primal, ours / hand, and for "
                  "the tape and each peer its time / ours (how many times faster ours is)",
                  ["workload", "primal", "**ours**", "hand-written", "tape (runtime)"]
                  + [peer_lib.LABELS[p] for p in loaded_peers] + ["fastest peer / ours"])
    labels = {p: peer_lib.LABELS[p] for p in loaded_peers}
    compile_notes = []
    for key in keys:
        title, wrt, variants, (peer_fn, peer_args) = workloads()[key]
        systems, rows = {}, []
        for v in variants:
            ref = Reference(v.fn, v.args, wrt)
            name = f"{title} [{v.label}]"
            kinds = {"primal": (name, "primal")}
            systems[(name, "primal")] = (lambda f, a: lambda: f(*a))(v.fn, v.args)
            candidates = [("ours", value_and_grad(v.fn, wrt=wrt)), ("hand", v.hand)]
            if v.tape:
                candidates.append(("tape", tape_value_and_grad(v.fn, wrt)))
            for kind, fn in candidates:
                if checked(section, ref, f"{name} {kind}", fn, v.args, say):
                    systems[(name, kind)] = (lambda f, a: lambda: f(*a))(fn, v.args)
                    kinds[kind] = (name, kind)
            rows.append((f"{title}, {v.label}", f"{key.upper()} {v.label}", kinds))
        ref = Reference(peer_fn, peer_args, wrt)
        for p, module in loaded_peers.items():
            label = f"{title} {peer_lib.LABELS[p]}"
            try:
                run, first = peer_lib.value_and_grad(p, module, peer_fn, wrt, peer_args)
            except Exception as exc:  # noqa: BLE001  (a peer that cannot run it loses its row)
                mismatch(section, f"{label} raised {type(exc).__name__}: {exc}", say)
                continue
            if checked(section, ref, label, run, peer_args, say):
                systems[p] = (lambda f, a: lambda: f(*a))(run, peer_args)
                if p == "jax":
                    compile_notes.append(f"{title}: {first:.2f} s")
        times = interleaved(systems, plan)
        t_peers = {p: times[p] for p in loaded_peers if p in times}
        for label, short, kinds in rows:
            t = {kind: times[k] for kind, k in kinds.items()}
            speed_row(table, section, label, t, t_peers, labels, short)
    section.tables.append(table)
    if compile_notes:
        section.notes.append("JAX's first call (trace and XLA compile, not in the table): "
                             + "; ".join(compile_notes) + ".")
    return section


INTRO = ("`math`: the function spelled with `math.sin`...; NumPy: the same source spelled with "
         "`np.sin`... called on Python floats (the last row: on np.float64). The hand-written pass "
         "is in the same spelling as the row. The peers run the NumPy-spelled source on their own "
         "NumPy (PyTorch on 0-d float64 tensors, JAX jitted, autograd), the same timing for all "
         "three rows of a workload; their ratio is to each row's own `ours`.")
