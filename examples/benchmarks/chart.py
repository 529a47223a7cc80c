"""results.png: for each workload, every other system's time over ours (bars above 1: ours is that many
times faster), log scale, one colour per system. Drawn from the sections' ratios; skipped with a line
saying so when matplotlib is missing."""
from __future__ import annotations

import textwrap

COLOURS = {"hand": "#4c72b0", "tape": "#8c8c8c", "torch": "#dd8452", "jax": "#55a868",
           "autograd": "#c44e52"}
LABELS = {"hand": "hand-written", "tape": "tape (runtime)", "torch": "PyTorch eager",
          "jax": "jax.jit(value_and_grad)", "autograd": "HIPS autograd"}


def draw(sections, path, say=print):
    rows = [(label, speed) for s in sections for label, speed in s.speedups.items() if speed]
    if not rows:
        say("(no chart: no workload with ratios was run)")
        return None
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, NullFormatter
    except ImportError:
        say("(no chart: matplotlib is not installed; pip install -e '.[bench]' adds it)")
        return None
    systems = [k for k in COLOURS if any(k in speed for _, speed in rows)]
    width = 0.8 / len(systems)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.25 * len(rows)), 5.5))
    for j, system in enumerate(systems):
        xs = [i + (j - (len(systems) - 1) / 2) * width for i, (_, s) in enumerate(rows) if system in s]
        ys = [s[system] for _, s in rows if system in s]
        bars = ax.bar(xs, ys, width, label=LABELS[system], color=COLOURS[system])
        for bar, y in zip(bars, ys):
            ax.annotate(f"{y:.3g}", (bar.get_x() + bar.get_width() / 2, y), ha="center",
                        va="bottom", fontsize=6, rotation=90, xytext=(0, 2),
                        textcoords="offset points")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}×"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([textwrap.fill(label, 12) for label, _ in rows], fontsize=8)
    ax.set_ylabel("time / our value_and_grad time (log)")
    ax.set_title("How many times slower than sourcead's compiled gradient (above 1: we are faster)")
    ax.legend(fontsize=8, ncol=len(systems), loc="upper center", bbox_to_anchor=(0.5, -0.14))
    ax.grid(axis="y", which="major", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    say(f"(chart: {path})")
    return path
