"""Elementwise functions of `math` and NumPy beyond the core's (compiler/primitives.py UNARY).

One input: cbrt, exp2, the inverse hyperbolics, degrees/radians, reciprocal, sinc, rint; two,
broadcasting: copysign, fmod, ldexp, logaddexp2, heaviside. Non-differentiable points follow
PyTorch: copysign'(0) = 0, rint and heaviside carry no gradient, sinc'(0) = 0.
"""
from __future__ import annotations

import math

import numpy as np

from . import Fn, helper, LINEAR, REVERSE, UNKNOWN

_LN2 = 0.6931471805599453


@helper(tangent=(LINEAR, UNKNOWN, UNKNOWN))
def sinc_grad(g, x, out):
    """sinc(x) = sin(pi x) / (pi x): d/dx = (cos(pi x) - sinc(x)) / x, 0 at x = 0."""
    zero = x == 0
    safe = np.where(zero, 1.0, x)
    return g * np.where(zero, 0.0, (np.cos(np.pi * safe) - out) / safe)


# --- math's functions of a sequence (fsum, prod, dist): floats only ---
# The compiler and the reference evaluator call a primitive with its inputs spread (f(a, b, c)), so
# each has a spreading wrapper as its callable, and math's own function is what the user calls
# (`also`); `bind` takes the items of the tuple or list written in the call.

def _items(args, kwargs, ctx, what):
    if len(args) != 1:
        raise TypeError(f"takes one {what} (a tuple or list written in the call)")
    return ctx.items(args[0])


def _bind_fsum(args, kwargs, ctx):
    if kwargs:
        raise TypeError(f"unexpected keyword arguments {sorted(kwargs)}")
    return _items(args, kwargs, ctx, "sequence"), {}


def _bind_prod(args, kwargs, ctx):
    extra = set(kwargs) - {"start"}
    if extra:
        raise TypeError(f"unexpected keyword arguments {sorted(extra)}")
    items = _items(args, kwargs, ctx, "sequence")
    return items + ([kwargs["start"]] if "start" in kwargs else []), {}


def _bind_dist(args, kwargs, ctx):
    if kwargs or len(args) != 2:
        raise TypeError("takes two points p and q (tuples or lists written in the call)")
    p, q = ctx.items(args[0]), ctx.items(args[1])
    if len(p) != len(q):
        raise ValueError("both points must have the same dimension")
    return p + q, {"n": len(p)}


def fsum(*xs):
    """math.fsum of the inputs, spread."""
    return math.fsum(xs)


def prod(*xs):
    """math.prod of the inputs, spread (start, when given, is the last)."""
    return math.prod(xs)


def dist(*xs, n=0):
    """math.dist of the first n inputs and the n after them, spread."""
    return math.dist(xs[:n], xs[n:])


def hypot_n(*xs):
    """math.hypot of any number of inputs (two go to the core's hypot)."""
    return math.hypot(*xs)


@helper(tangent=(LINEAR, UNKNOWN, UNKNOWN))
def hypot_n_grad(g, out, *xs, k=0):
    """d hypot(xs) / d xs[k] = xs[k] / hypot(xs); 0 where all are 0 (as dist's)."""
    return g * xs[k] / out if out != 0 else g * 0.0


def _f_share(x, y, larger):
    """fmax/fmin: the share of g that goes to x. NumPy returns the number where the other is nan
    (x where both are); otherwise as max/min: to the one returned, a tie split evenly."""
    wins = (x > y) if larger else (x < y)
    share = np.where(wins, 1.0, np.where(x == y, 0.5, 0.0))
    share = np.where(np.isnan(x), 0.0, share)
    return np.where(np.isnan(y), 1.0, share)


@helper(tangent=(LINEAR, None, None))
def fmax_x_grad(g, x, y):
    return g * _f_share(x, y, True)


@helper(tangent=(LINEAR, None, None))
def fmax_y_grad(g, x, y):
    return g * (1.0 - _f_share(x, y, True))


@helper(tangent=(LINEAR, None, None))
def fmin_x_grad(g, x, y):
    return g * _f_share(x, y, False)


@helper(tangent=(LINEAR, None, None))
def fmin_y_grad(g, x, y):
    return g * (1.0 - _f_share(x, y, False))


@helper(tangent=(LINEAR, UNKNOWN))
def prod_others(g, *xs, k=0):
    """d prod(xs) / d xs[k]: the product of the others (exact where an item is zero)."""
    acc = g
    for j, x in enumerate(xs):
        if j != k:
            acc = acc * x
    return acc


@helper(tangent=(LINEAR, UNKNOWN, UNKNOWN))
def dist_grad(g, out, *xs, n=0, k=0):
    """d |p - q| / d p_k = (p_k - q_k) / |p - q| (and minus that for q_k); 0 where p == q."""
    j = k + n if k < n else k - n
    d = xs[k] - xs[j] if k < n else xs[k] - xs[j]
    return g * d / out if out != 0 else g * 0.0


_SEQUENCE = {"elementwise": False, "broadcasts": False}

ENTRIES = [
    # --- sequences (math, floats only) ---
    Fn("fsum", "*xs", "g", family="elementwise", math=fsum, np=fsum, also=(math.fsum,),
       bind=_bind_fsum, tape=None, facts=_SEQUENCE, tangent=(REVERSE,)),
    Fn("math_prod", "*xs", "prod_others(g, *xs, k=i)", family="elementwise", math=prod, np=prod,
       also=(math.prod,), bind=_bind_prod, tape=None, facts=_SEQUENCE, tangent=(REVERSE,)),
    Fn("dist", "*xs", "dist_grad(g, out, *xs, n=n, k=i)", family="elementwise", math=dist,
       np=dist, also=(math.dist,), bind=_bind_dist, params="n", tape=None, facts=_SEQUENCE, tangent=(REVERSE,)),
    # np.fmax/np.fmin: max/min that ignore a nan (np.maximum propagates it)
    Fn("fmax", "x y", "fmax_x_grad(g, x, y)", "fmax_y_grad(g, x, y)", family="elementwise",
       np=np.fmax),
    Fn("fmin", "x y", "fmin_x_grad(g, x, y)", "fmin_y_grad(g, x, y)", family="elementwise",
       np=np.fmin),
    # math.hypot(x, y, z, ...): the frontend sends a call with other than two arguments here
    Fn("hypot_n", "*xs", "hypot_n_grad(g, out, *xs, k=i)", family="elementwise", math=hypot_n,
       np=hypot_n, tape=None, facts=_SEQUENCE, tangent=(REVERSE,)),

    # --- one input ---
    # inf at 0, as sqrt's (PyTorch: g / (3 cbrt(x)^2))
    Fn("cbrt", "x", "g / (3.0 * (out * out))", family="unary", math=math.cbrt, np=np.cbrt),
    Fn("exp2", "x", f"g * out * {_LN2!r}", family="unary", math=math.exp2, np=np.exp2),
    Fn("asinh", "x", "g / sqrt(x * x + 1.0)", family="unary", math=math.asinh, np=np.arcsinh),
    Fn("acosh", "x", "g / sqrt((x - 1.0) * (x + 1.0))", family="unary", math=math.acosh,
       np=np.arccosh),
    Fn("atanh", "x", "g / (1.0 - x * x)", family="unary", math=math.atanh, np=np.arctanh),
    Fn("degrees", "x", f"g * {180.0 / math.pi!r}", family="unary", math=math.degrees,
       np=np.degrees, also=(np.rad2deg,)),
    Fn("radians", "x", f"g * {math.pi / 180.0!r}", family="unary", math=math.radians,
       np=np.radians, also=(np.deg2rad,)),
    Fn("reciprocal", "x", "-g * (out * out)", family="unary", np=np.reciprocal),
    Fn("sinc", "x", "sinc_grad(g, x, out)", family="unary", np=np.sinc),
    # piecewise constant: no gradient. No tape function: the tape's elementwise recorders need a
    # formula per input (functional.py _unary_function reads prim.reads[x])
    Fn("rint", "x", None, family="unary_stepwise", np=np.rint, tape=None),
    # --- two inputs, broadcasting ---
    # |x| with y's sign: d/dx = sign(x) sign(out), 0 at x = 0 (PyTorch); zero to y (spelled
    # 0.0 * g, not None: the tape's two-input elementwise recorder needs a formula per input)
    Fn("copysign", "x y", "g * (sign(x) * sign(out))", "0.0 * g", family="elementwise",
       math=math.copysign, np=np.copysign),
    # x - trunc(x / y) y (PyTorch's fmod gradients); trunc(x / y) read as (x - out) / y, since
    # the tape has no trunc function for a formula to call
    Fn("fmod", "x y", "g", "-g * ((x - out) / y)", family="elementwise", math=math.fmod, np=np.fmod),
    # x 2**e: exact and in x's dtype; the integer exponent has none (0.0 * g, as for copysign).
    # Not named `i`: the tape's formulas read `i` as a join's position
    Fn("ldexp", "x e", "ldexp(g, e)", "0.0 * g", family="elementwise", math=math.ldexp, np=np.ldexp),
    Fn("logaddexp2", "x y", "g * exp2(x - out)", "g * exp2(y - out)", family="elementwise",
       np=np.logaddexp2),
    # a step: no gradient to either input
    Fn("heaviside", "x y", None, None, family="stepwise", np=np.heaviside, tape=None),
    Fn("floor_divide", "x y", None, None, family="stepwise", np=np.floor_divide, tape=None),
    # the gap to the next float: piecewise constant, no gradient (as rint)
    Fn("spacing", "x", None, family="unary_stepwise", np=np.spacing, tape=None),
    # the float after x towards y: x moved by one ulp, so x's gradient is g; y steers only (0.0 * g,
    # as for copysign)
    Fn("nextafter", "x y", "g", "0.0 * g", family="elementwise", np=np.nextafter),
    # x - floor(x / y) y, as the core's `%` (NumPy's mod is remainder)
    Fn("remainder", "x y", "g", "-g * (x // y)", family="elementwise", np=np.remainder),
    # x ** y in float64 (at least): the core's pow rule (d/dx 0 where y == 0; d/dy 0 at x == 0)
    Fn("float_power", "x y", "g * y * float_power(x, select(y == 0.0, 1.0, y - 1.0))",
       "g * out * log(select(y >= 0.0, select(x == 0.0, 1.0, x), x))", family="elementwise",
       np=np.float_power),
    # the identity on real numbers
    Fn("positive", "x", "g", family="unary", np=np.positive),
    Fn("conjugate", "x", "g", family="unary", np=np.conjugate),
]
