"""Results as Markdown: a table per section, printed as each section finishes and written together to
results.md at the end."""
from __future__ import annotations

import platform
import sys


def per_call(seconds):
    """A time per call in the unit that keeps 3 significant digits readable."""
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def ratio(r):
    if r is None:
        return "-"
    if r < 0.1:
        return f"{r:.2g}×"
    if r < 10:
        return f"{r:.2f}×"
    if r < 100:
        return f"{r:.1f}×"
    return f"{r:.0f}×"


class Table:
    def __init__(self, title, columns):
        self.title, self.columns, self.rows = title, list(columns), []

    def add(self, *cells):
        self.rows.append([str(c) for c in cells])

    def markdown(self):
        lines = [f"**{self.title}**", "", "| " + " | ".join(self.columns) + " |",
                 "|" + "|".join("---" for _ in self.columns) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


class Section:
    """One part of the run: its tables, notes, the rows that failed their check, chart data."""

    def __init__(self, key, title, intro=""):
        self.key, self.title, self.intro = key, title, intro
        self.tables, self.notes, self.mismatches = [], [], []
        self.speedups = {}  # {workload: {system: its time / ours}} for the chart

    def markdown(self):
        parts = [f"## {self.title}"]
        if self.intro:
            parts.append(self.intro)
        for note in self.mismatches:
            parts.append(f"**MISMATCH (row dropped): {note}**")
        parts += [t.markdown() for t in self.tables]
        parts += self.notes
        return "\n\n".join(parts) + "\n"


def mismatch(section, message, say=print):
    """A row whose gradient is wrong is not timed: said loudly, kept in the results."""
    bar = "!" * 78
    say(f"\n{bar}\nMISMATCH, row dropped: {message}\n{bar}\n")
    section.mismatches.append(message)


def header(options, started, numpy_version):
    mode = "quick" if options.quick else "full"
    return (f"# Benchmark results\n\n`python examples/benchmarks/run.py"
            f"{' ' + ' '.join(options.argv) if options.argv else ''}` ({mode} mode), {started}; "
            f"Python {sys.version.split()[0]}, NumPy {numpy_version}, {platform.machine()}, "
            f"float64 on the CPU, BLAS, PyTorch and XLA pinned to one thread. Every figure is a "
            f"median of repeated timings in this one run; ratios are taken within it.\n")


def write(path, head, sections):
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(head + "\n" + "\n".join(s.markdown() for s in sections))


def speed_row(table, section, label, t, t_peers, peer_labels, short=None):
    """One workload's summary row: primal, ours (× primal), hand (ours/hand), then the tape and each
    peer as time (its time / ours), and the fastest peer; its ratios kept for the chart under
    `short`."""
    ours, primal = t.get("ours"), t["primal"]
    cells = [label, per_call(primal), f"**{per_call(ours)}** ({ratio(ours / primal)})" if ours else "-"]
    speed = {}
    for kind in ("hand", "tape"):
        if kind in t and ours:
            speed[kind] = t[kind] / ours
            shown = ratio(speed[kind]) if kind == "tape" else f"ours/hand {ours / t[kind]:.2f}"
            cells.append(f"{per_call(t[kind])} ({shown})")
        else:
            cells.append("-")
    for p in peer_labels:
        if p in t_peers and ours:
            speed[p] = t_peers[p] / ours
            cells.append(f"{per_call(t_peers[p])} ({ratio(speed[p])})")
        else:
            cells.append("-")
    peer_speed = {p: s for p, s in speed.items() if p in peer_labels}
    if peer_speed:
        fastest = min(peer_speed, key=peer_speed.get)
        cells.append(f"{ratio(peer_speed[fastest])} ({peer_labels[fastest]})")
    else:
        cells.append("-")
    table.add(*cells)
    section.speedups[short or label] = speed
