"""Test setup for the tape: import `runtime` from this checkout (not from an installed copy), and a
fixed, non-trivial seed for random inputs."""
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if sys.path[0] != ROOT:
    sys.path.insert(0, ROOT)
for name in [m for m in sys.modules if m == "runtime" or m.startswith("runtime.")]:
    if not os.path.abspath(sys.modules[name].__file__ or "").startswith(ROOT):
        del sys.modules[name]

SEED = 20240531


@pytest.fixture
def rng():
    return np.random.default_rng(SEED)
