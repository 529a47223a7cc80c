"""The same function compiled twice gives identical source: in one process, and across processes
with different string-hash seeds (PYTHONHASHSEED), where set and dict-of-set orders change."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import reliability_funcs as F
import reliability_names as N
from compiler import grad, value_and_grad

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


# name -> (function, wrt, arguments for an array version or None)
FUNCTIONS = {
    "scalar_mix": (F.scalar_mix, (0, 1), None),
    "reads_globals": (F.reads_globals, (0, 1), None),
    "mixed_control": (F.mixed_control, (0, 1), None),
    "scalar_locals": (N.scalar_locals, (0, 1), None),
    "loop_locals": (N.loop_locals, (0, 1), None),
    "while_locals": (N.while_locals, (0, 1, 2), None),
    "mlp_loss": (F.mlp_loss, (0, 1), (np.ones((3, 4)), np.ones((4, 2)))),
    "array_loop": (F.array_loop, (0,), (np.ones(5), 3)),
    "array_in_place_candidates": (F.array_in_place_candidates, (0, 1), (np.ones(4), np.ones(4))),
    "array_locals": (N.array_locals, (0, 1), (np.ones((4, 3)), np.ones((3, 3)))),
}


def _sources(name):
    fn, wrt, args = FUNCTIONS[name]
    out = [grad(fn, wrt=wrt).source, value_and_grad(fn, wrt=wrt).source]
    if args is not None:
        out.append(grad(fn, wrt=wrt).source_for(*args))
    return out


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_compiled_twice_in_one_process(name):
    first = _sources(name)
    # compile other things in between: global counters (ids, file names) must not leak into source
    grad(F.list_accumulation)
    grad(N.scalar_params, wrt=(0, 1))
    assert _sources(name) == first


def test_list_accumulation_twice_in_one_process():
    assert grad(F.list_accumulation).source == grad(F.list_accumulation).source


_SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path[:0] = [{root!r}, {here!r}]
    import test_determinism as T
    from compiler import grad
    import reliability_funcs as F
    out = {{name: T._sources(name) for name in T.FUNCTIONS}}
    out["list_accumulation"] = [grad(F.list_accumulation).source]
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def per_seed():
    """Every source, generated in fresh interpreters with different hash seeds."""
    script = _SCRIPT.format(root=ROOT, here=HERE)
    out = {}
    for seed in ("0", "1", "2", "3"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        out[seed] = json.loads(done.stdout)
    return out


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_identical_across_hash_seeds(per_seed, name):
    sources = [per_seed[seed][name] for seed in sorted(per_seed)]
    assert all(s == sources[0] for s in sources), name


def test_identical_to_this_process(per_seed):
    for name in FUNCTIONS:
        assert per_seed["0"][name] == _sources(name), name


def test_list_accumulation_identical_across_hash_seeds(per_seed):
    sources = [per_seed[seed]["list_accumulation"] for seed in sorted(per_seed)]
    assert all(s == sources[0] for s in sources)
