"""One command for every benchmark: value-and-gradient time of the compiled code (`value_and_grad`)
against the plain function, a careful hand-written gradient, this project's tape and the peers.

    python examples/benchmarks/run.py [--quick] [--only NAME ...] [--no-chart] [--no-peers]

What it measures (float64 on the CPU; BLAS, PyTorch and XLA pinned to one thread so that ratios
compare the systems, not their thread pools):

  s1, s2       scalar code: S1 = f57 (57 operations, 3 inputs), S2 = a 100-step recurrence
               h = tanh(w*h + b); total += h*h. Each spelled with `math.*` and with `np.*` on Python
               floats (and on np.float64), with a hand-written value-and-gradient pass per spelling.
  a1, a2, a3   array code: an MLP (batch 64, 784-128-10), a 1e6-element elementwise chain, logistic
               regression 10000 x 100; hand-written NumPy gradients beside them.
  decoration   first calls: decoration of f57 and of straight-line functions of N statements,
               and the first call of an LSTM cell and a Sinkhorn loop.
  transforms   jvp, hvp, hessian and jacobian against the peers' (see transforms.py).
  sympy        the optional SymPy pass: its time and what it saves (see sympy_pass.py).
  tape         (only when asked for) the tape's cost per operation on S1 and a profile of it.

Peers, when installed (pip install -e '.[bench]'): PyTorch eager, jax.jit(jax.value_and_grad)
(its first call, trace and compile, reported apart) and HIPS autograd; one that is missing is
skipped with a line saying so. Every gradient is checked against central differences before it is
timed; a wrong one is not timed and is reported loudly (exit status 1).

How to read the ratios (all medians from this one run, the systems of a workload timed in the same
interleaved rounds): "ours (2.6×)" is our value-and-gradient time over the primal's; "ours/hand"
below 1 means the compiled gradient is faster than the hand-written one; after the tape and each
peer, "(150×)" is that system's time over ours, how many times faster ours is; the last column is
that ratio for the fastest peer.

Output: the tables are printed and written to results.md beside this file, and results.png (a bar
chart of those ratios, log scale) unless --no-chart or matplotlib is missing.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "VECLIB_MAXIMUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1",
              "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
              "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "2"}
SCALAR, ARRAYS = ("s1", "s2"), ("a1", "a2", "a3")
DEFAULT = SCALAR + ARRAYS + ("decoration", "transforms", "sympy")
CHOICES = DEFAULT + ("tape", "scalar", "arrays")


def pin_threads():
    """One thread for every library: set before NumPy, PyTorch or JAX is first imported."""
    os.environ.update(ONE_THREAD)


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats and sizes (under two minutes on two cores)")
    parser.add_argument("--only", nargs="+", choices=CHOICES, metavar="NAME",
                        help=f"run only these ({', '.join(CHOICES)})")
    parser.add_argument("--no-chart", action="store_true", help="do not draw results.png")
    parser.add_argument("--no-peers", action="store_true", help="skip PyTorch, JAX and autograd")
    parser.add_argument("--out", default=HERE, help="folder for results.md and results.png")
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)  # tests: tiny sizes
    options = parser.parse_args(argv)
    options.argv = list(argv)
    wanted = options.only or DEFAULT
    options.names = [n for n in CHOICES[:-2] if n in wanted
                     or (n in SCALAR and "scalar" in wanted) or (n in ARRAYS and "arrays" in wanted)]
    return options


def main(argv=None, say=print):
    options = parse(sys.argv[1:] if argv is None else argv)
    pin_threads()
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # the checkout, when not installed
    import numpy as np

    import peers
    import report
    from timing import FULL, QUICK, SMOKE

    started = time.strftime("%Y-%m-%d %H:%M")
    clock = time.perf_counter()
    plan = SMOKE if options.smoke else QUICK if options.quick else FULL
    loaded = {} if options.no_peers else peers.available(say=say)
    if options.no_peers:
        say("(peers skipped: --no-peers)")
    sections = []

    def done(section):
        sections.append(section)
        say("\n" + section.markdown())

    names = options.names
    if any(n in SCALAR for n in names):
        import measure_scalar
        done(measure_scalar.measure([n for n in SCALAR if n in names], plan, loaded, say=say))
    if any(n in ARRAYS for n in names):
        import measure_arrays
        scale = 0.01 if options.smoke else 1.0
        done(measure_arrays.measure([n for n in ARRAYS if n in names], plan, loaded, scale, say=say))
    if "decoration" in names:
        import decoration
        sizes = (20,) if options.smoke else (100, 300) if options.quick else (300, 1000, 3000)
        done(decoration.measure(sizes, repeats=1 if options.smoke else 3 if options.quick else 5,
                                say=say))
    if "transforms" in names:
        import transforms
        done(transforms.measure(plan, loaded, small=options.smoke, say=say))
    if "sympy" in names:
        import sympy_pass
        done(sympy_pass.measure(chains=1 if options.smoke else 4 if options.quick else 20, say=say))
    if "tape" in names:
        import tape_profile
        done(tape_profile.measure(plan, say=say))

    os.makedirs(options.out, exist_ok=True)
    path = os.path.join(options.out, "results.md")
    report.write(path, report.header(options, started, np.__version__), sections)
    say(f"(written: {path})")
    if not options.no_chart:
        import chart
        chart.draw(sections, os.path.join(options.out, "results.png"), say=say)
    failures = sum(len(s.mismatches) for s in sections)
    say(f"(whole run {time.perf_counter() - clock:.0f} s"
        + (f"; {failures} MISMATCH{'ES' if failures > 1 else ''}: see above)" if failures else ")"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
