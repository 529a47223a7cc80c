"""numpy.linalg: each function's gradient, both designs, against central differences."""
import numpy as np
import pytest

from harness import Case, check_compiler, check_tape

rng = np.random.default_rng(7)
A = rng.normal(size=(3, 3)) + 3.0 * np.eye(3)
BATCH = rng.normal(size=(2, 3, 3)) + 3.0 * np.eye(3)


def det_times_sum(a):
    return np.linalg.det(a) * np.sum(a)


def det_batched(a):
    return np.sum(np.linalg.det(a) ** 2)


def inv_weighted(a):
    return np.sum(np.linalg.inv(a) * np.arange(9.0).reshape(3, 3))


def inv_batched(a):
    return np.sum(np.sin(np.linalg.inv(a)))


def slogdet_logabs(a):
    sign, logdet = np.linalg.slogdet(a)
    return logdet * 2.0


def slogdet_both(a):
    s, ld = np.linalg.slogdet(a)
    return np.sum(s * ld)


CASES = [
    Case("slogdet", slogdet_logabs, A),
    Case("slogdet", slogdet_both, BATCH),
    Case("det", det_times_sum, A),
    Case("det", det_batched, BATCH),
    Case("inv", inv_weighted, A),
    Case("inv", inv_batched, BATCH),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_compiler(case):
    check_compiler(case)


@pytest.mark.parametrize("case", [c for c in CASES if c.tape], ids=lambda c: c.id)
def test_tape(case):
    check_tape(case)
