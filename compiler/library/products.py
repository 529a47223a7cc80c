"""Products and sums of products: einsum, tensordot, inner, kron, cross, polyval, trapezoid,
convolve/correlate and interp.

Most adjoints are einsums: the adjoint of one operand of an einsum is an einsum of g with the other
operands, so tensordot, inner and kron rewrite themselves as einsum subscripts and share its
adjoint.
Subscripts are normalised at run time, from the operands' shapes (an ellipsis becomes letters).
"""
from __future__ import annotations

import string

import numpy as np

from . import Fn, bind_arguments, helper, LINEAR, EACH, ROWS, REVERSE, OTHERS, UNKNOWN


# --- einsum ---------------------------------------------------------------------------------------


def einsum(*operands, subscripts):
    """np.einsum with its operands first and the subscripts a parameter; its value is NumPy's."""
    return np.einsum(subscripts, *operands)


def _label(k):
    if k is Ellipsis:
        return "..."
    return string.ascii_letters[k]


def _bind_einsum(args, kwargs, ctx):
    """np.einsum(subscripts, *operands, optimize=...) or the interleaved form
    np.einsum(op0, sublist0, op1, sublist1, ..., [sublistout]): the operands are the inputs, the
    subscripts (a string either way) the parameter."""
    if "out" in kwargs:
        raise TypeError("out= is not supported (the result is a new array)")
    kwargs.pop("optimize", None)  # any contraction order: the same value, up to rounding
    if kwargs:
        raise TypeError(f"unsupported keyword arguments {', '.join(kwargs)}")
    if not args:
        raise TypeError("einsum needs its subscripts")
    first = None
    try:
        first = ctx.const(args[0], "subscripts")
    except Exception:  # noqa: BLE001  (an operand: the interleaved form)
        first = None
    if isinstance(first, str):
        subscripts, operands = first, list(args[1:])
    else:
        operands, terms = [], []
        rest = list(args)
        while len(rest) >= 2:
            operands.append(rest.pop(0))
            sub = ctx.const(rest.pop(0), "sublist")
            terms.append("".join(_label(k) for k in sub))
        subscripts = ",".join(terms)
        if rest:
            subscripts += "->" + "".join(_label(k) for k in ctx.const(rest[0], "output sublist"))
    if not operands:
        raise TypeError("einsum needs at least one operand")
    return operands, {"subscripts": subscripts}


def _normalise(subscripts, shapes):
    """(inputs, output): each operand's labels and the output's, ellipses expanded to letters
    unused by the subscripts, the implicit output made explicit (NumPy's order)."""
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        lhs, rhs = subscripts.split("->")
    else:
        lhs, rhs = subscripts, None
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum subscripts name {len(terms)} operands, got {len(shapes)}")
    free = [c for c in string.ascii_letters if c not in subscripts]
    n_ell = 0
    for term, shape in zip(terms, shapes):
        if "..." in term:
            n_ell = max(n_ell, len(shape) - (len(term) - 3))
    ell = "".join(free[:n_ell])
    inputs = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            k = len(shape) - (len(term) - 3)
            term = term.replace("...", ell[n_ell - k:] if k else "")
        inputs.append(term)
    if rhs is None:
        counts = {}
        for term in inputs:
            for c in term:
                counts[c] = counts.get(c, 0) + 1
        rhs = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        rhs = rhs.replace("...", ell)
    return inputs, rhs


def _einsum_adjoint(g, operands, inputs, output, which):
    """The adjoint of operand `which` of einsum(inputs -> output): an einsum of g with the other
    operands; a label only this operand has is summed out (ones along it), a label it repeats
    (a diagonal) gets g on the diagonal only (identity matrices), a dimension it broadcasts (size 1
    where the others have more) is summed back."""
    x = operands[which]
    shape = np.shape(x)
    labels = inputs[which]
    sizes = {}
    for term, op in zip(inputs, operands):
        for c, n in zip(term, np.shape(op)):
            if n != 1 or c not in sizes:
                sizes[c] = n
    for c, n in zip(output, np.shape(g)):
        if n != 1 or c not in sizes:
            sizes[c] = n
    dtype = np.result_type(*[np.asarray(o).dtype if not hasattr(o, "dtype") else o.dtype
                             for o in operands])
    elsewhere = set(output).union(*[t for k, t in enumerate(inputs) if k != which])
    free = iter(c for c in string.ascii_letters
                if c not in "".join(inputs) + output)
    terms = [output] + [t for k, t in enumerate(inputs) if k != which]
    args = [g] + [o for k, o in enumerate(operands) if k != which]
    out_labels, seen = [], set()
    for c in labels:
        if c in seen:  # a repeat: a new label tied to the first by an identity matrix
            d = next(free)
            terms.append(c + d)
            args.append(np.eye(sizes[c], dtype=dtype))
            out_labels.append(d)
            continue
        seen.add(c)
        out_labels.append(c)
        if c not in elsewhere:  # summed out by this operand alone: g reaches every entry
            terms.append(c)
            args.append(np.ones(sizes[c], dtype=dtype))
    spec = ",".join(terms) + "->" + "".join(out_labels)
    # a contraction order (and BLAS) for large operands: the same sum, up to rounding; small
    # ones skip the search, which costs more than it saves
    big = max((int(np.size(a)) for a in args), default=0) >= 4096
    grad = np.einsum(spec, *args, optimize=len(args) > 2 or big)
    axes = tuple(k for k, (n, m) in enumerate(zip(shape, np.shape(grad))) if n == 1 and m != 1)
    if axes:
        grad = np.sum(grad, axis=axes, keepdims=True)
    return grad


@helper(tangent=(EACH, OTHERS))
def einsum_grad(g, *operands, subscripts="", which=0):
    inputs, output = _normalise(subscripts, [np.shape(o) for o in operands])
    return _einsum_adjoint(g, operands, inputs, output, which)


# --- tensordot, inner, kron -----------------------------------------------------------------------

def _tensordot_subscripts(na, nb, axes):
    if isinstance(axes, (int, np.integer)):
        ax_a = list(range(na - axes, na))
        ax_b = list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, (int, np.integer)) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, (int, np.integer)) else list(ax_b)
    ax_a = [k % na for k in ax_a]
    ax_b = [k % nb for k in ax_b]
    letters = iter(string.ascii_letters)
    la = [next(letters) for _ in range(na)]
    lb = [next(letters) for _ in range(nb)]
    for i, j in zip(ax_a, ax_b):
        lb[j] = la[i]
    out = [la[k] for k in range(na) if k not in ax_a] + [lb[k] for k in range(nb) if k not in ax_b]
    return ["".join(la), "".join(lb)], "".join(out)


def _bind_tensordot(args, kwargs, ctx):
    """np.tensordot(a, b, axes=2): axes an int or a pair of sequences (read item by item)."""
    bound = bind_arguments(("a", "b", "axes"), args, kwargs, ("a", "b"))
    axes = 2
    if "axes" in bound:
        try:
            axes = ctx.const(bound["axes"], "axes")
        except Exception:  # noqa: BLE001  (a pair of tuples: constants one by one)
            axes = tuple(ctx.const(item, "axes") for item in ctx.items(bound["axes"]))
    if not isinstance(axes, (int, np.integer)):
        axes = tuple(tuple(k) if isinstance(k, (tuple, list)) else k for k in axes)
    return [bound["a"], bound["b"]], {"axes": axes}


@helper(tangent=(EACH, OTHERS, OTHERS))
def tensordot_grad(g, a, b, axes=2, which=0):
    inputs, output = _tensordot_subscripts(np.ndim(a), np.ndim(b), axes)
    return _einsum_adjoint(g, (a, b), inputs, output, which)


def _inner_subscripts(na, nb):
    if na == 0 or nb == 0:  # a scalar: the product
        la = string.ascii_lowercase[:na]
        lb = string.ascii_lowercase[na:na + nb]
        return [la, lb], la + lb
    la = string.ascii_lowercase[:na - 1] + "z"
    lb = string.ascii_lowercase[na - 1:na + nb - 2] + "z"
    return [la, lb], la[:-1] + lb[:-1]


@helper(tangent=(EACH, OTHERS, OTHERS))
def inner_grad(g, a, b, which=0):
    inputs, output = _inner_subscripts(np.ndim(a), np.ndim(b))
    return _einsum_adjoint(g, (a, b), inputs, output, which)


@helper(tangent=(EACH, OTHERS, OTHERS))
def kron_grad(g, a, b, which=0):
    """kron(a, b)[i*B + k] = a[i] b[k] per axis (the operand of fewer axes padded with leading
    ones): g split into (A_0, B_0, A_1, B_1, ...) is an einsum with the other operand."""
    n = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (n - np.ndim(a)) + tuple(np.shape(a))
    sb = (1,) * (n - np.ndim(b)) + tuple(np.shape(b))
    split = np.reshape(g, tuple(d for pair in zip(sa, sb) for d in pair))
    la = string.ascii_lowercase[:n]
    lb = string.ascii_uppercase[:n]
    out = "".join(p + q for p, q in zip(la, lb))
    a_, b_ = np.reshape(a, sa), np.reshape(b, sb)
    if which == 0:
        grad = np.einsum(f"{out},{lb}->{la}", split, b_)
        return np.reshape(grad, np.shape(a))
    grad = np.einsum(f"{out},{la}->{lb}", split, a_)
    return np.reshape(grad, np.shape(b))


# --- cross ----------------------------------------------------------------------------------------

def _sum_to(x, shape):
    """x summed back to `shape` (what broadcasting made of it)."""
    extra = np.ndim(x) - len(shape)
    if extra:
        x = np.sum(x, axis=tuple(range(extra)))
    axes = tuple(k for k, n in enumerate(shape) if n == 1 and np.shape(x)[k] != 1)
    if axes:
        x = np.sum(x, axis=axes, keepdims=True)
    return x


@helper(tangent=(EACH, OTHERS, OTHERS))
def cross_grad(g, a, b, axis=None, which=0):
    """d(a x b) . g = a . (b x g) = b . (g x a)."""
    ax = -1 if axis is None else axis
    if which == 0:
        return _sum_to(np.cross(b, g, axis=ax), np.shape(a))
    return _sum_to(np.cross(g, a, axis=ax), np.shape(b))


# --- polyval --------------------------------------------------------------------------------------

@helper(tangent=(LINEAR, None, UNKNOWN))
def polyval_p_grad(g, p, x):
    """d/dp[k] of sum_k p[k] x**(n-1-k): x**(n-1-k), summed over the entries of x."""
    n = np.shape(p)[0]
    powers = np.expand_dims(x, -1) ** np.arange(n - 1, -1, -1)
    grad = np.expand_dims(g, -1) * powers
    return np.reshape(np.sum(np.reshape(grad, (-1, n)), axis=0), np.shape(p))


@helper(tangent=(EACH, EACH, UNKNOWN))
def polyval_x_grad(g, p, x):
    """d/dx: the derivative polynomial's value."""
    n = np.shape(p)[0]
    if n < 2:
        return g * np.zeros_like(x)
    dp = p[:-1] * np.arange(n - 1, 0, -1)
    return g * np.polyval(dp, x)


# --- trapezoid ------------------------------------------------------------------------------------

def trapezoid(y, x, dx=1.0, axis=-1, has_x=True):
    """np.trapezoid(y, x=None, dx=1.0, axis=-1) with y and x the inputs; without x, the input x is
    y again (never read) and has_x is False."""
    return np.trapezoid(y, x if has_x else None, dx=dx, axis=axis)


def _bind_trapezoid(args, kwargs, ctx):
    bound = bind_arguments(("y", "x", "dx", "axis"), args, kwargs, ("y",))
    dx = ctx.const(bound["dx"], "dx") if "dx" in bound else 1.0
    axis = ctx.const(bound["axis"], "axis") if "axis" in bound else -1
    has_x = False
    if "x" in bound:
        try:
            has_x = ctx.const(bound["x"], "x") is not None
        except Exception:  # noqa: BLE001  (an array: not a constant)
            has_x = True
    y = bound["y"]
    return [y, bound["x"] if has_x else y], {"dx": dx, "axis": axis, "has_x": has_x}


def _slice(a, axis, start, stop):
    """a[..., start:stop, ...] along axis (a basic index: Tensors take it too)."""
    key = [slice(None)] * np.ndim(a)
    key[axis] = slice(start, stop)
    return a[tuple(key)]


def _widths(y, x, dx, axis):
    """The interval widths along `axis`, shaped to broadcast against y's intervals."""
    if x is None:
        return dx
    xa = -1 if np.ndim(x) == 1 else axis
    m = np.shape(x)[xa]
    d = _slice(x, xa, 1, m) - _slice(x, xa, 0, m - 1)
    if np.ndim(x) == 1:
        shape = [1] * np.ndim(y)
        shape[axis] = np.shape(d)[0]
        d = np.reshape(d, tuple(shape))
    return d


def _pad(a, axis, before, after):
    """a with `before`/`after` zeros added along axis (a new array; no writes)."""
    parts = []
    shape = list(np.shape(a))
    if before:
        shape[axis] = before
        parts.append(np.zeros(tuple(shape), dtype=a.dtype))
    parts.append(a)
    if after:
        shape[axis] = after
        parts.append(np.zeros(tuple(shape), dtype=a.dtype))
    return np.concatenate(parts, axis=axis) if len(parts) > 1 else a


@helper(tangent=(EACH, OTHERS, OTHERS))
def trapezoid_grad(g, y, x, dx=1.0, axis=-1, has_x=True, which=0):
    """trapezoid = sum_i d_i (y_i + y_{i+1}) / 2: y_i gets g (d_{i-1} + d_i) / 2; with x given,
    d_i = x_{i+1} - x_i gets g (y_i + y_{i+1}) / 2, so x_i gets that of d_{i-1} minus that of
    d_i."""
    if not has_x:
        if which == 1:  # the padding input (y again): no contribution
            return np.zeros_like(y)
        x = None
    ax = axis % np.ndim(y)
    ge = np.expand_dims(g, ax)
    n = np.shape(y)[ax]
    if which == 0:
        d = _widths(y, x, dx, ax)
        half = ge * d * 0.5  # per interval
        half = half * np.ones(tuple(n - 1 if k == ax else s for k, s in enumerate(np.shape(y))),
                              dtype=np.result_type(half))
        return _pad(half, ax, 0, 1) + _pad(half, ax, 1, 0)
    lo = _slice(y, ax, 0, n - 1)
    hi = _slice(y, ax, 1, n)
    s = ge * (lo + hi) * 0.5  # the adjoint of each width
    grad = _pad(s, ax, 1, 0) - _pad(s, ax, 0, 1)
    if np.ndim(x) == 1 and np.ndim(y) > 1:
        grad = np.sum(grad, axis=tuple(k for k in range(np.ndim(y)) if k != ax))
    return _sum_to(grad, np.shape(x))


# --- convolve, correlate --------------------------------------------------------------------------

def _full_adjoint(g, n, m, mode, kind):
    """g (the adjoint of the mode's slice of the full result) placed in the full result's frame."""
    full = n + m - 1
    length = np.shape(g)[0]
    lo = min(n, m)
    if mode == "full":
        start = 0
    elif mode == "valid":
        start = lo - 1
    elif kind == "correlate" and m > n:
        start = (lo - 1) - (lo - 1) // 2
    else:
        start = (lo - 1) // 2
    return _pad(g, 0, start, full - length - start)


@helper(tangent=(EACH, OTHERS, OTHERS))
def convolve_grad(g, a, v, mode="full", which=0):
    """conv_full[k] = sum_j a[j] v[k - j]: a gets correlate(g_full, v), v correlate(g_full, a)."""
    gf = _full_adjoint(g, np.shape(a)[0], np.shape(v)[0], mode, "convolve")
    other = v if which == 0 else a
    return np.convolve(gf, other[::-1], mode="valid")


@helper(tangent=(EACH, OTHERS, OTHERS))
def correlate_grad(g, a, v, mode="valid", which=0):
    """correlate_full(a, v) = convolve_full(a, v[::-1])."""
    gf = _full_adjoint(g, np.shape(a)[0], np.shape(v)[0], mode, "correlate")
    if which == 0:
        return np.convolve(gf, v, mode="valid")
    return np.convolve(gf, a[::-1], mode="valid")[::-1]


# --- interp ---------------------------------------------------------------------------------------

def _interp_weights(x, xp):
    """The interval of each x and its position t in it (clamped to [0, 1] outside xp's range),
    and the masks of the points left and right of the range."""
    n = np.shape(xp)[0]
    j = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, max(n - 2, 0))
    below = x < xp[0]
    above = x > xp[-1]
    if n < 2:
        return j, j, x * 0.0, below, above
    x0 = xp[j]
    x1 = xp[j + 1]
    t = np.clip((x - x0) / (x1 - x0), 0.0, 1.0)
    return j, j + 1, t, below, above


@helper(tangent=(LINEAR, None, None, EACH))
def interp_x_grad(g, x, xp, fp, left=None, right=None):
    """The slope of the segment x falls in; 0 outside xp's range (the value is clamped there)."""
    n = np.shape(xp)[0]
    if n < 2:
        return g * np.zeros_like(x)
    j = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, n - 2)
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    inside = (x >= xp[0]) & (x <= xp[-1])
    return g * slope * inside


@helper(tangent=(LINEAR, UNKNOWN, None, None))
def interp_fp_grad(g, x, xp, fp, left=None, right=None):
    """Each x gives (1 - t) of g to its interval's left knot and t to its right one; outside
    the range, all of g to the end knot it is clamped to (unless left=/right= replace it)."""
    n = np.shape(fp)[0]
    lo, hi, t, below, above = _interp_weights(x, xp)
    keep = np.ones(np.shape(below), dtype=bool)
    if left is not None:
        keep = keep & ~below
    if right is not None:
        keep = keep & ~above
    knots = np.arange(n)
    w_lo = np.expand_dims(g * (1.0 - t) * keep, -1) * (np.expand_dims(lo, -1) == knots)
    w_hi = np.expand_dims(g * t * keep, -1) * (np.expand_dims(hi, -1) == knots)
    total = w_lo + w_hi
    return np.sum(np.reshape(total, (-1, n)), axis=0)


# --- the entries ----------------------------------------------------------------------------------

ENTRIES = [
    Fn("einsum", "*xs", "einsum_grad(g, *xs, subscripts=subscripts, which=i)",
       family="linalg", np=einsum, also=(np.einsum,), params="subscripts", bind=_bind_einsum,
       # NumPy returns a view for a diagonal or a transpose ("ii->i", "ij->ji"): writes near the
       # result are checked when the code runs; the tape returns a new array there, as PyTorch
       facts={"fresh": False, "view": "opaque"}, tangent=(EACH,)),
    Fn("tensordot", "a b", "tensordot_grad(g, a, b, axes=axes, which=0)",
       "tensordot_grad(g, a, b, axes=axes, which=1)", family="linalg", np=np.tensordot,
       params="axes", bind=_bind_tensordot, tangent=(EACH, EACH)),
    Fn("inner", "a b", "inner_grad(g, a, b, which=0)", "inner_grad(g, a, b, which=1)",
       family="linalg", np=np.inner, tangent=(EACH, EACH)),
    Fn("kron", "a b", "kron_grad(g, a, b, which=0)", "kron_grad(g, a, b, which=1)",
       family="linalg", np=np.kron, tangent=(EACH, EACH)),
    Fn("cross", "a b", "cross_grad(g, a, b, axis=axis, which=0)",
       "cross_grad(g, a, b, axis=axis, which=1)", family="linalg", np=np.cross, params="axis", tangent=(EACH, EACH)),
    Fn("polyval", "p x", "polyval_p_grad(g, p, x)", "polyval_x_grad(g, p, x)", family="linalg",
       np=np.polyval, tangent=(EACH, REVERSE)),
    Fn("trapezoid", "y x", "trapezoid_grad(g, y, x, dx=dx, axis=axis, has_x=has_x, which=0)",
       "trapezoid_grad(g, y, x, dx=dx, axis=axis, has_x=has_x, which=1)", family="linalg",
       np=trapezoid, also=(np.trapezoid,) + ((np.trapz,) if hasattr(np, "trapz") else ()),
       params="dx axis has_x", bind=_bind_trapezoid, tangent=(EACH, ROWS)),
    Fn("convolve", "a v", "convolve_grad(g, a, v, mode=mode, which=0)",
       "convolve_grad(g, a, v, mode=mode, which=1)", family="linalg", np=np.convolve,
       params="mode", tangent=(EACH, EACH)),
    Fn("correlate", "a v", "correlate_grad(g, a, v, mode=mode, which=0)",
       "correlate_grad(g, a, v, mode=mode, which=1)", family="linalg", np=np.correlate,
       params="mode", tangent=(EACH, EACH)),
    Fn("interp", "x xp fp", "interp_x_grad(g, x, xp, fp, left=left, right=right)", None,
       "interp_fp_grad(g, x, xp, fp, left=left, right=right)", family="linalg", np=np.interp,
       params="left right", tangent=(REVERSE, None, ROWS)),
]
