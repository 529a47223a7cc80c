"""The check every library function passes, in both designs: the compiler's gradient and the tape's,
each against central differences of the function itself (NumPy's value).

A case is (entry name, f, args): `f` is written as users write it, with NumPy/SciPy/math calls. The
compiler differentiates its source; the tape runs the same `f` on Tensors (NumPy hands its functions
to the tape), or `tape_f` where the user would call the runtime's spelling (math.erf leaves the tape
as float() does, so the tape's case spells runtime.erf).
"""
from __future__ import annotations

import numpy as np

import runtime as rt
from compiler import grad
from runtime.gradcheck import compare, numerical_grad


class Case:
    def __init__(self, entry, f, *args, tape_f=None, tape=True, wrt=None, rtol=1e-5, atol=1e-7,
                 id=None):
        self.entry = entry
        self.f = f
        self.args = args
        self.tape_f = tape_f or f
        self.tape = tape
        self.wrt = wrt if wrt is not None else tuple(
            k for k, a in enumerate(args) if isinstance(a, (float, np.ndarray))
            and np.asarray(a).dtype.kind == "f")
        self.rtol = rtol
        self.atol = atol
        self.id = id or f.__name__

    def numeric(self):
        return [numerical_grad(self.f, [_copy(a) for a in self.args], k) for k in self.wrt]


def _copy(a):
    return a.copy() if isinstance(a, np.ndarray) else a


def _close(got, want, case, what):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, central differences {want.shape}"
    err, rel, ok = compare(got, want, atol=case.atol, rtol=case.rtol)
    assert ok, f"{what}: max abs error {err:.3g} (rel {rel:.3g})\n got {got}\nwant {want}"


def check_compiler(case):
    args = [_copy(a) for a in case.args]
    before = [_copy(a) for a in args]
    g = grad(case.f, wrt=case.wrt)(*args)  # a tuple wrt: a tuple of gradients
    for k, (got, want) in enumerate(zip(g, case.numeric())):
        _close(got, want, case, f"compiler, d/d arg {case.wrt[k]}")
    for a, b in zip(args, before):  # the caller's arrays are never written
        np.testing.assert_array_equal(a, b)
    return g


def check_tape(case):
    tensors = [rt.tensor(_copy(a), requires_grad=True) if k in case.wrt else _copy(a)
               for k, a in enumerate(case.args)]
    out = case.tape_f(*tensors)
    assert isinstance(out, rt.Tensor) and out.requires_grad, "the tape did not record the function"
    np.testing.assert_allclose(np.asarray(out.detach().numpy(), dtype=np.float64),
                               np.asarray(case.f(*[_copy(a) for a in case.args]), dtype=np.float64),
                               rtol=1e-12, atol=1e-12)
    rt.sum(out).backward() if np.ndim(out.detach().numpy()) else out.backward()
    for k, want in zip(case.wrt, case.numeric()):
        _close(tensors[k].grad.numpy(), want, case, f"tape, d/d arg {k}")
