"""Linear algebra (numpy.linalg): determinants, inverses, solves and factorisations.

Formulas use solves rather than explicit inverses where a solve is what the math needs, and batch
over leading axes wherever NumPy does.
"""
from __future__ import annotations

import numpy as np

from . import Fn, helper


def _mT(a):
    return np.swapaxes(a, -1, -2)


@helper()
def det_grad(g, x, out):
    """d det(X) = det(X) tr(X^-1 dX): the adjoint is g det(X) X^-T, over any leading batch axes."""
    scale = np.expand_dims(np.expand_dims(g * out, -1), -1)
    return scale * _mT(np.linalg.inv(x))


@helper()
def inv_grad(g, out):
    """d inv(X) = -inv(X) dX inv(X): the adjoint is -inv(X)^T g inv(X)^T."""
    return -np.matmul(_mT(out), np.matmul(g, _mT(out)))


@helper()
def slogdet_grad(g, x, part=1):
    """slogdet's parts: the sign has no gradient; d log|det X| = tr(X^-1 dX), so g X^-T."""
    if part == 0:
        return np.zeros(np.shape(x))
    return np.expand_dims(np.expand_dims(g, -1), -1) * _mT(np.linalg.inv(x))


ENTRIES = [
    Fn("det", "x", "det_grad(g, x, out)", family="linalg", np=np.linalg.det),
    Fn("inv", "x", "inv_grad(g, out)", family="linalg", np=np.linalg.inv),
    Fn("slogdet", "x", "slogdet_grad(g, x, part=part)", family="linalg", np=np.linalg.slogdet,
       parts=2),
]
