"""The benchmark command (examples/benchmarks/run.py): its workloads and hand-written passes are right
(each against central differences and against our gradient, in both spellings), the command runs in a
tiny mode and writes its table, a missing peer is reported as skipped, a wrong gradient loses its row
loudly. Speed is reported by the command, never asserted here."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "examples", "benchmarks")
sys.path.insert(0, BENCH)

import array_workloads  # noqa: E402
import checks  # noqa: E402
import peers  # noqa: E402
import run  # noqa: E402
import scalar_workloads as W  # noqa: E402
from compiler import value_and_grad  # noqa: E402

F64 = np.float64
SCALAR_CASES = {
    "S1 math": (W.f57, W.hand_f57, W.S1_POINT, (0, 1, 2)),
    "S1 NumPy": (W.f57_np, W.hand_f57_np, W.S1_POINT, (0, 1, 2)),
    "S1 NumPy np.float64": (W.f57_np, W.hand_f57_np, tuple(map(F64, W.S1_POINT)), (0, 1, 2)),
    "S1 math, another point": (W.f57, W.hand_f57, (-1.1, 0.4, 2.0), (0, 1, 2)),
    "S1 NumPy, another point": (W.f57_np, W.hand_f57_np, (-1.1, 0.4, 2.0), (0, 1, 2)),
    "S2 math": (W.recurrence, W.hand_recurrence, W.S2_POINT, (0, 1)),
    "S2 NumPy": (W.recurrence_np, W.hand_recurrence_np, W.S2_POINT, (0, 1)),
    "S2 NumPy np.float64": (W.recurrence_np, W.hand_recurrence_np, tuple(map(F64, W.S2_POINT)),
                            (0, 1)),
    "S2 math, another point": (W.recurrence, W.hand_recurrence, (-0.6, 0.3), (0, 1)),
}


def close(a, b, rel=1e-10):
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


@pytest.mark.parametrize("case", SCALAR_CASES)
def test_scalar_hand_pass_ours_and_central_differences_agree(case):
    fn, hand, args, wrt = SCALAR_CASES[case]
    ref = checks.Reference(fn, args, wrt)
    ours = value_and_grad(fn, wrt=wrt)(*args)
    mine = hand(*args)
    ref.check("ours", ours)
    ref.check("hand", mine)
    assert close(ours[0], mine[0]) and all(close(p, q) for p, q in zip(ours[1], mine[1]))


def test_spellings_compute_the_same_function():
    assert close(W.f57(*W.S1_POINT), W.f57_np(*W.S1_POINT), 1e-14)
    assert close(W.recurrence(*W.S2_POINT), W.recurrence_np(*W.S2_POINT), 1e-14)
    assert math.isclose(W.recurrence(0.0, 0.5, 3), sum(h * h for h in _steps(0.0, 0.5, 3)))


def _steps(w, b, n):
    h, out = 0.0, []
    for _ in range(n):
        h = math.tanh(w * h + b)
        out.append(h)
    return out


@pytest.mark.parametrize("key", ["a1", "a2", "a3"])
def test_array_hand_passes_and_ours_agree_with_central_differences(key):
    title, fn, hand, args, wrt = array_workloads.workloads(scale=0.02)[key]
    ref = checks.Reference(fn, args, wrt)
    ours = value_and_grad(fn, wrt=wrt)(*args)
    ref.check("ours", ours)
    ref.check("hand", hand(*args))
    for p, q in zip(ours[1], hand(*args)[1]):
        assert np.allclose(p, q, rtol=1e-9, atol=1e-12)


def test_full_size_workloads_have_the_sizes_of_the_brief():
    specs = array_workloads.workloads()
    assert [a.shape for a in specs["a1"][3]] == [(784, 128), (128,), (128, 10), (10,), (64, 784),
                                                 (64, 10)]
    assert specs["a2"][3][0].shape == (1_000_000,)
    assert specs["a3"][3][2].shape == (10_000, 100)


def test_the_check_catches_a_wrong_gradient_and_a_wrong_value():
    ref = checks.Reference(W.f57, W.S1_POINT, (0, 1, 2))
    value, grads = W.hand_f57(*W.S1_POINT)
    ref.check("right", (value, grads))
    with pytest.raises(checks.Mismatch, match="directional derivative"):
        ref.check("wrong", (value, (grads[0], grads[1] * 1.001, grads[2])))
    with pytest.raises(checks.Mismatch, match="value"):
        ref.check("wrong value", (value + 1e-6, grads))
    title, fn, hand, args, wrt = array_workloads.workloads(scale=0.02)["a1"]
    value, grads = hand(*args)
    ref = checks.Reference(fn, args, wrt)
    wrong = list(grads)
    wrong[0] = grads[0].copy()
    wrong[0][3, 1] += 0.5
    with pytest.raises(checks.Mismatch):
        ref.check("one wrong entry", (value, wrong))


def test_the_command_runs_in_a_tiny_mode_and_writes_its_table(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(BENCH, "run.py"), "--only", "s1",
                           "decoration", "--smoke", "--no-chart", "--no-peers", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": ROOT})
    assert done.returncode == 0, done.stdout + done.stderr
    text = (tmp_path / "results.md").read_text()
    assert "| workload | primal | **ours** | hand-written | tape (runtime) | fastest peer / ours |" in text
    for row in ("S1 f57 (57 ops, 3 inputs), math", "S1 f57 (57 ops, 3 inputs), NumPy |",
                "NumPy, np.float64 args", "straight-line, 20 statements", "lstm_cell", "sinkhorn"):
        assert row in text
    assert "S2 recurrence" not in text  # --only
    assert "| S1 f57 (57 ops, 3 inputs), math |" in done.stdout  # printed too
    assert "MISMATCH" not in text and not (tmp_path / "results.png").exists()


def _blocked(monkeypatch, names):
    """Make `import name` fail as if the package were not installed."""
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr(peers, "_loaded", {})
    for key, value in run.ONE_THREAD.items():  # main() sets them: restored after the test
        monkeypatch.setenv(key, value)


def test_a_missing_peer_is_reported_as_skipped(monkeypatch, tmp_path):
    _blocked(monkeypatch, peers.NAMES)
    said = []
    status = run.main(["--only", "s1", "--smoke", "--no-chart", "--out", str(tmp_path)],
                      say=said.append)
    assert status == 0
    lines = "\n".join(said)
    for name in peers.NAMES:
        assert f"({peers.LABELS[name]}: skipped, {name} is not installed" in lines
    text = (tmp_path / "results.md").read_text()
    assert "PyTorch eager" not in text and "| S1 f57 (57 ops, 3 inputs), math |" in text


def test_a_wrong_gradient_loses_its_row_loudly(monkeypatch, tmp_path):
    _blocked(monkeypatch, peers.NAMES)

    def wrong(x, y, z):
        value, (dx, dy, dz) = W.hand_f57(x, y, z)
        return value, (dx, -dy, dz)

    monkeypatch.setattr(W, "hand_f57", wrong)
    said = []
    status = run.main(["--only", "s1", "--smoke", "--no-chart", "--out", str(tmp_path)],
                      say=said.append)
    assert status == 1
    assert any("MISMATCH, row dropped" in line and "[math] hand" in line for line in said)
    text = (tmp_path / "results.md").read_text()
    assert "**MISMATCH (row dropped)" in text
    math_row = next(line for line in text.splitlines() if line.startswith("| S1 f57 (57 ops, 3 inputs), math |"))
    assert math_row.split(" | ")[3] == "-"  # the hand-written cell is empty; ours still timed


def test_the_chart_is_drawn_or_skipped_with_a_line(monkeypatch, tmp_path):
    pytest.importorskip("matplotlib")
    import chart
    from report import Section
    section = Section("scalar", "t")
    section.speedups = {"S1, math": {"hand": 0.9, "tape": 50.0, "torch": 200.0},
                        "S2, math": {"hand": 1.1, "jax": 5.0}}
    path = tmp_path / "results.png"
    assert chart.draw([section], str(path), say=lambda s: None) == str(path)
    assert path.stat().st_size > 1000
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    said = []
    assert chart.draw([section], str(tmp_path / "again.png"), say=said.append) is None
    assert "matplotlib is not installed" in said[0] and not (tmp_path / "again.png").exists()


def test_torch_runs_the_numpy_spelled_workloads_when_installed():
    torch = pytest.importorskip("torch")
    for fn, args, wrt in ((W.f57_np, W.S1_POINT, (0, 1, 2)), (W.recurrence_np, W.S2_POINT, (0, 1))):
        run_, _ = peers.value_and_grad("torch", torch, fn, wrt, args)
        checks.Reference(fn, args, wrt).check("torch", run_(*args))
    for key, (title, fn, hand, args, wrt) in array_workloads.workloads(scale=0.02).items():
        run_, _ = peers.value_and_grad("torch", torch, fn, wrt, args)
        checks.Reference(fn, args, wrt).check(f"torch {key}", run_(*args))


@pytest.mark.slow
def test_the_quick_run_with_every_peer_installed_passes_its_checks(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(BENCH, "run.py"), "--quick", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": ROOT})
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    text = (tmp_path / "results.md").read_text()
    for heading in ("## Scalar code", "## Array code", "## First calls", "## Transformations",
                    "## The SymPy pass"):
        assert heading in text
    assert "MISMATCH" not in text
