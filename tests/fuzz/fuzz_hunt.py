"""Long fuzzing runs that collect every disagreement instead of stopping at the first.

    python tests/fuzz/fuzz_hunt.py scalar 2000 [seed]     # or: array
    python tests/fuzz/fuzz_hunt.py shrink KIND FAMILY N [TEXT]  # let Hypothesis minimise one kind

Prints a summary (programs tried, points checked/discarded, failures by kind) and writes every
failure to /tmp/sourcead_fuzz_failures_<family>.txt. `shrink` runs until a failure of KIND
(e.g. compiled-grad) is found and prints Hypothesis' minimal example. Not collected by pytest.
"""
import collections
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.append(os.path.dirname(os.path.dirname(HERE)))  # (PYTHONPATH first: a
# compiler/runtime of another commit, e.g. from `git archive`)

from hypothesis import HealthCheck, given, settings, seed as hseed  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fuzz_harness as H  # noqa: E402
import fuzz_programs as P  # noqa: E402

FAMILIES = {"scalar": P.scalar_programs, "array": P.array_programs}


def hunt(family, n, seed=0):
    failures = []
    kinds = collections.Counter()

    @hseed(seed)
    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck),
              phases=["generate"])
    @given(program=FAMILIES[family](), data=st.data())
    def fuzz(program, data):
        ties = 0.25 if family == "array" else 0.0
        points = data.draw(P.points_for(program.kinds, 3, ties))
        try:
            H.check_program(program.source, program.guarded, points, program.tape_source,
                            program.constructs, ties=bool(ties), layout=program.layout)
        except H.Mismatch as exc:
            kinds[exc.kind] += 1
            failures.append(str(exc))
        except AssertionError as exc:
            kinds["generator"] += 1
            failures.append(str(exc))
        except Exception as exc:  # noqa: BLE001 -- a generator or harness bug: keep going
            kinds["harness-" + type(exc).__name__] += 1
            failures.append(f"{type(exc).__name__}: {exc}\n\n{program.source}")

    fuzz()
    path = f"/tmp/sourcead_fuzz_failures_{family}.txt"
    with open(path, "w") as fh:
        fh.write(("\n" + "=" * 100 + "\n").join(failures))
    print(H.summary(H.STATS, family))
    if H.REFUSALS:
        print("refusals:\n" + "\n".join(f"  {v:5d}  {k}" for k, v in H.REFUSALS.most_common(12)))
        with open(f"/tmp/sourcead_fuzz_refusals_{family}.txt", "w") as fh:
            fh.write(("\n" + "=" * 100 + "\n").join(H.REFUSAL_EXAMPLES.values()))
    print(f"failures by kind: {dict(kinds)}  (written to {path})")


def shrink(kind, family, n, needle=""):
    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(program=FAMILIES[family](), data=st.data())
    def fuzz(program, data):
        ties = 0.25 if family == "array" else 0.0
        points = data.draw(P.points_for(program.kinds, 3, ties))
        try:
            H.check_program(program.source, program.guarded, points, program.tape_source,
                            program.constructs, ties=bool(ties), layout=program.layout)
        except H.Mismatch as exc:
            if exc.kind == kind and needle in str(exc):
                raise
        except AssertionError:
            pass
    fuzz()
    print("no failure of kind", kind)


if __name__ == "__main__":
    if sys.argv[1] == "shrink":
        shrink(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else "")
    else:
        hunt(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
