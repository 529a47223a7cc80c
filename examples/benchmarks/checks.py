"""Every gradient is checked before it is timed: a fast wrong answer is worth nothing.

The reference is central differences of the primal, taken once per workload along a few directions
(each input's own axis for scalar functions, random directions for arrays); each system's value must
match the primal's and its gradient's directional derivatives the differences'.
"""
from __future__ import annotations

import numpy as np

STEP = 1e-6
TOLERANCE = 1e-5


class Mismatch(Exception):
    """A system's value or gradient disagrees with the primal and central differences."""


def _directions(args, wrt, seed):
    if all(np.ndim(args[i]) == 0 for i in wrt):
        out = []
        for i in wrt:
            out.append({j: (1.0 if j == i else 0.0) for j in wrt})
        return out
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(3):
        d = {}
        for i in wrt:
            v = rng.normal(size=np.shape(args[i]))
            d[i] = v / max(np.max(np.abs(v)), 1e-12) if np.ndim(v) else float(v)
        out.append(d)
    return out


def _moved(args, direction, by):
    moved = list(args)
    for i, d in direction.items():
        moved[i] = args[i] + by * d
    return moved


class Reference:
    """The primal's value and central differences along fixed directions, computed once."""

    def __init__(self, fn, args, wrt, seed=0):
        self.fn, self.args, self.wrt = fn, args, wrt
        self.value = float(fn(*args))
        self.directions = _directions(args, wrt, seed)
        self.slopes = [(float(fn(*_moved(args, d, STEP))) - float(fn(*_moved(args, d, -STEP))))
                       / (2 * STEP) for d in self.directions]

    def check(self, system, result):
        """Raise Mismatch naming `system` if `result` = (value, grads) disagrees."""
        value, grads = result
        grads = tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)
        if len(grads) != len(self.wrt):
            raise Mismatch(f"{system}: {len(grads)} gradients for {len(self.wrt)} inputs")
        value = float(value)
        if not abs(value - self.value) <= 1e-9 * max(1.0, abs(self.value)):
            raise Mismatch(f"{system}: value {value!r}, the primal gives {self.value!r}")
        by_input = dict(zip(self.wrt, grads))
        for direction, slope in zip(self.directions, self.slopes):
            got = 0.0
            for i, d in direction.items():
                g = np.asarray(by_input[i], dtype=float)
                if g.shape != np.shape(self.args[i]):
                    raise Mismatch(f"{system}: gradient of input {i} has shape {g.shape}, the "
                                   f"input {np.shape(self.args[i])}")
                got += float(np.sum(g * d))
            if not abs(got - slope) <= TOLERANCE * max(1e-3, abs(slope), abs(got)):
                raise Mismatch(f"{system}: directional derivative {got!r}, central differences "
                               f"give {slope!r}")


def checked(section, ref, name, fn, args, say=print):
    """fn if its (value, gradient) at args passes the check, else None: the row is dropped, loudly."""
    from report import mismatch
    try:
        ref.check(name, fn(*args))
    except Mismatch as exc:
        mismatch(section, str(exc), say)
        return None
    except Exception as exc:  # noqa: BLE001  (a system that fails to run loses its row too)
        mismatch(section, f"{name} raised {type(exc).__name__}: {exc}", say)
        return None
    return fn
