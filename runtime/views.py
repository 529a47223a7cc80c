"""Views, with PyTorch's semantics: a view shares its base's memory, so a change through either is seen by
both (inplace.py does the changing, and rewrites the recorded history to include it).

Which results are views. A shape or indexing primitive with the `view` fact (compiler/primitives.py) (basic indexing and slicing,
`.T`/transpose, reshape/ravel/flatten/expand_dims/squeeze, broadcast_to) makes a view when NumPy returned
one: the result's root `.base` is the input's. It is NumPy's decision, read from the result, never a static
rule: `y.T.reshape(-1)` is a copy (NumPy cannot reshape that layout without one), so an in-place change to it
leaves y alone, as in PyTorch. Integer-array and mask indexing copy.

What a view carries (`register`):

    t._view        ViewInfo(base, steps, no_grad): the root base (a view of a view points at the first
                   tensor that is not a view), the view operations that make t from it (primitive, params,
                   input shape), and whether one of them ran with grad mode off.
    base._views    weak references to the base's live views (dead ones are pruned as views are added).
    t._vc          the base's version counter, shared by the base, its views and detach() aliases.

Both slots are set only on views and bases, and read with getattr(..., None) behind a `_vc is not None`
test (a view always has a counter), so tensors that are neither pay nothing.

This module only keeps that record (functional.py registers views as they are made); it imports nothing
but grad_mode, so the recorder and the Tensor can use it.
"""
from __future__ import annotations

import weakref

from .grad_mode import STATE

_ref = weakref.ref


class ViewInfo:
    """What makes a view from its root base: `steps` of (primitive, params, input shape)."""

    __slots__ = ("base", "steps", "no_grad")

    def __init__(self, base, steps, no_grad):
        self.base = base
        self.steps = steps
        self.no_grad = no_grad


def root(a):
    """The object that owns a NumPy array's memory: follow `.base` to the end."""
    b = a.base
    while b is not None:
        a = b
        b = getattr(a, "base", None)
    return a


def view_info(t):
    """t's ViewInfo, or None when t is not a view."""
    return None if t._vc is None else getattr(t, "_view", None)


def register(res, x, prim, params):
    """Mark `res` (just made by `prim` from Tensor x) as a view of x's base: shared version counter, the
    steps from the base, and a weak reference on the base so in-place changes can update res's grad_fn."""
    info = view_info(x)
    res._vc = x._share_vc()
    step = ((prim, params, x._data.shape),)
    no_grad = not STATE.enabled
    if info is None:
        base = x
        steps = step
    else:
        base = info.base
        steps = info.steps + step
        no_grad = no_grad or info.no_grad
    res._view = ViewInfo(base, steps, no_grad)
    try:
        views = base._views
    except AttributeError:
        views = base._views = []
    views.append(_ref(res))
    n = len(views)
    if n >= 16 and not n & (n - 1):         # at 16, 32, 64, ...: drop the dead (amortised O(1))
        views[:] = [r for r in views if r() is not None]
