"""Section "arrays": A1-A3 against hand-written NumPy gradients, this project's tape and the peers.
The primal, ours, the hand-written pass and the tape are timed in the same interleaved rounds; each
peer in a block of its own against the primal, its time put on the same scale through that ratio."""
from __future__ import annotations

import array_workloads
import peers as peer_lib
from checks import Reference, checked
from report import Section, Table, mismatch, speed_row
from timing import against, interleaved


def measure(keys, plan, loaded_peers, scale=1.0, say=print):
    from compiler import value_and_grad
    from compiler.compare import tape_value_and_grad

    section = Section("arrays", "Array code: A1 MLP, A2 elementwise, A3 logistic regression", INTRO)
    table = Table("Value and gradient per call; in brackets: ours × primal, ours / hand, and for "
                  "the tape and each peer its time / ours (how many times faster ours is)",
                  ["workload", "primal", "**ours**", "hand-written", "tape (runtime)"]
                  + [peer_lib.LABELS[p] for p in loaded_peers] + ["fastest peer / ours"])
    labels = {p: peer_lib.LABELS[p] for p in loaded_peers}
    compile_notes = []
    specs = array_workloads.workloads(scale)
    for key in keys:
        title, fn, hand, args, wrt = specs[key]
        ref = Reference(fn, args, wrt)
        systems = {"primal": lambda: fn(*args)}
        for kind, candidate in (("ours", value_and_grad(fn, wrt=wrt)), ("hand", hand),
                                ("tape", tape_value_and_grad(fn, wrt))):
            if checked(section, ref, f"{title} {kind}", candidate, args, say):
                systems[kind] = (lambda f: lambda: f(*args))(candidate)
        times = interleaved(systems, plan)
        t_peers = {}
        for p, module in loaded_peers.items():
            label = f"{title} {peer_lib.LABELS[p]}"
            try:
                run, first = peer_lib.value_and_grad(p, module, fn, wrt, args)
            except Exception as exc:  # noqa: BLE001  (a peer that cannot run it loses its row)
                mismatch(section, f"{label} raised {type(exc).__name__}: {exc}", say)
                continue
            if checked(section, ref, label, run, args, say):
                t_peers[p] = against(systems["primal"], lambda: run(*args), plan) * times["primal"]
                if p == "jax":
                    compile_notes.append(f"{title}: {first:.2f} s")
        speed_row(table, section, title, times, t_peers, labels, " ".join(title.split()[:2]))
    section.tables.append(table)
    if compile_notes:
        section.notes.append("JAX's first call (trace and XLA compile, not in the table): "
                             + "; ".join(compile_notes) + ".")
    return section


INTRO = ("NumPy float64 arrays. The hand-written gradients are plain NumPy written for each "
         "workload. Each peer is timed in a block of its own against the primal (thread pools "
         "would slow each other if calls alternated) and its time put on the primal's scale.")
