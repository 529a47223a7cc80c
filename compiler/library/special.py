"""SciPy's special functions (scipy.special), with `math`'s where it has them (erf, erfc, gamma,
lgamma). SciPy is optional: without it this family has no entries.

Conventions follow PyTorch and JAX: xlogy(0, y) and xlog1py(0, y) give y no gradient (and x the
gradient 0 rather than log(0) = -inf); logsumexp's gradient is the softmax of its input, computed
from the result (exp(a - out)), so it never overflows.
"""
from __future__ import annotations

import math

import numpy as np

from . import Fn, helper, optional, LINEAR, REVERSE, UNKNOWN

special = optional("scipy.special")

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_TWO = math.sqrt(math.pi) / 2.0
_ONE_OVER_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _float_digamma(x):
    """digamma for a Python float (a float back), for the rules of math.gamma and math.lgamma."""
    return float(special.digamma(x))


_float_digamma.__name__ = "digamma"


def polygamma(x, n=0):
    """special.polygamma(n, x) with the order as a keyword (the inputs come first in a primitive's
    call). x's float32 is kept, as SciPy's ufuncs (digamma, gammaln) keep it -- special.polygamma,
    a Python function, returns float64 there -- so that digamma's gradient stays float32."""
    r = special.polygamma(n, x)
    return r.astype(np.float32) if getattr(x, "dtype", None) == np.float32 else r


def _float_polygamma(x, n=0):
    """polygamma for a Python float (a float back), for the rules of math.gamma and math.lgamma."""
    return float(special.polygamma(n, x))


_float_polygamma.__name__ = "polygamma"


def _bind_polygamma(args, kwargs, ctx):
    """special.polygamma(n, x), or polygamma(x, n=n) as the rules call it: x the input, n static."""
    kwargs = dict(kwargs)
    if "n" in kwargs:
        n = kwargs.pop("n")
        x, rest = (kwargs.pop("x"), args) if "x" in kwargs else (args[0] if args else None, args[1:])
    else:
        n = args[0] if args else None
        x, rest = (kwargs.pop("x"), args[1:]) if "x" in kwargs else (
            args[1] if len(args) > 1 else None, args[2:])
    if n is None or x is None:
        raise TypeError("needs its order n and its argument x")
    if rest or kwargs:
        raise TypeError("takes the order n and one argument x")
    return [x], {"n": ctx.const(n, "order n")}


@helper(tangent=(LINEAR, UNKNOWN))
def polygamma_grad(g, x, n=0):
    """d polygamma(n, x) = polygamma(n + 1, x) dx."""
    return g * polygamma(x, n=n + 1)


def _expand(v, shape, axis, keepdims):
    """A reduction's result (or adjoint) with the reduced axes put back, to broadcast over `shape`."""
    if keepdims or axis is None:
        return v
    axes = axis if isinstance(axis, tuple) else (axis,)
    return np.expand_dims(v, tuple(a % len(shape) for a in axes))


@helper(tangent=(LINEAR, "logsumexp_grad(g, a, out, axis=axis, keepdims=keepdims) * a_dot", "-logsumexp_grad(g, a, out, axis=axis, keepdims=keepdims) * sum_grad(out_dot, a, axis=axis, keepdims=keepdims)"))
def logsumexp_grad(g, a, out, axis=None, keepdims=False):
    """d logsumexp(a) = softmax(a) da, softmax(a) = exp(a - out): the result, not a, is subtracted."""
    shape = np.shape(a)
    return _expand(g, shape, axis, keepdims) * np.exp(a - _expand(out, shape, axis, keepdims))


@helper(tangent=(LINEAR, "out_dot * (g - sum(g * out, axis=axis, keepdims=True)) - out * sum(g * out_dot, axis=axis, keepdims=True)"))
def softmax_grad(g, out, axis=None):
    """y = softmax(x): dx = y (g - sum(g y)) over the axis (all axes for None)."""
    gy = g * out
    return gy - out * np.sum(gy, axis=axis, keepdims=True)


@helper(tangent=(LINEAR, "-exp(out) * out_dot * sum(g, axis=axis, keepdims=True)"))
def log_softmax_grad(g, out, axis=None):
    """y = log_softmax(x): dx = g - exp(y) sum(g) over the axis (all axes for None)."""
    return g - np.exp(out) * np.sum(g, axis=axis, keepdims=True)


# NumPy/SciPy only: the equation names its library, as an elementwise one does (without it, a graph
# with no array maker emits the call with lib='math', which these functions do not have)
_ARRAY_ONLY = {"keeps_lib": True}

ENTRIES = [] if special is None else [
    # 2/sqrt(pi) exp(-x^2)
    Fn("erf", "x", f"g * {_TWO_OVER_SQRT_PI!r} * exp(-(x * x))", family="unary",
       math=math.erf, np=special.erf),
    Fn("erfc", "x", f"-g * {_TWO_OVER_SQRT_PI!r} * exp(-(x * x))", family="unary",
       math=math.erfc, np=special.erfc),
    # x = erfinv(y): dy = 2/sqrt(pi) exp(-x^2) dx
    Fn("erfinv", "x", f"g * {_SQRT_PI_OVER_TWO!r} * exp(out * out)", family="unary",
       np=special.erfinv),
    Fn("gamma", "x", "g * out * digamma(x)", family="unary", math=math.gamma, np=special.gamma),
    # log|gamma(x)|: digamma(x) on both sides of the poles
    Fn("lgamma", "x", "g * digamma(x)", family="unary", math=math.lgamma, np=special.gammaln),
    # math= only so that the rules of math.gamma/math.lgamma keep Python floats
    Fn("digamma", "x", "g * polygamma(x, n=1)", family="unary", math=_float_digamma,
       np=special.digamma, tape="digamma"),
    # the order n is static; an elementwise function of x, but not declared so: the tape's and the
    # tests' elementwise machinery expects no parameters
    Fn("polygamma", "x", "polygamma_grad(g, x, n=n)", family="unary", math=_float_polygamma,
       np=polygamma, also=(special.polygamma,), params="n", bind=_bind_polygamma,
       facts={"elementwise": False}, tangent=(REVERSE,)),
    Fn("expit", "x", "g * out * (1.0 - out)", family="unary", np=special.expit),
    Fn("logit", "x", "g / (x * (1.0 - x))", family="unary", np=special.logit),
    Fn("ndtr", "x", f"g * {_ONE_OVER_SQRT_2PI!r} * exp(-0.5 * (x * x))", family="unary",
       np=special.ndtr),
    # pdf(x) / ndtr(x), in logs: exp(-x^2/2 - log_ndtr(x)) / sqrt(2 pi)
    Fn("log_ndtr", "x", f"g * {_ONE_OVER_SQRT_2PI!r} * exp(-0.5 * (x * x) - out)",
       family="unary", np=special.log_ndtr),
    # x log y: where x == 0, x gets 0 (not log y) and y gets 0 (PyTorch, JAX)
    Fn("xlogy", "x y", "g * select(x == 0.0, 0.0, log(select(x == 0.0, 1.0, y)))",
       "g * (x / select(x == 0.0, 1.0, y))", family="elementwise", np=special.xlogy),
    Fn("xlog1py", "x y", "g * select(x == 0.0, 0.0, log1p(select(x == 0.0, 0.0, y)))",
       "g * (x / select(x == 0.0, 1.0, 1.0 + y))", family="elementwise", np=special.xlog1py),
    # log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b)
    Fn("betaln", "x y", "g * (digamma(x) - digamma(x + y))", "g * (digamma(y) - digamma(x + y))",
       family="elementwise", np=special.betaln),
    Fn("logsumexp", "a", "logsumexp_grad(g, a, out, axis=axis, keepdims=keepdims)",
       family="reduction", np=special.logsumexp, params="axis keepdims", facts=_ARRAY_ONLY, tangent=("sum(logsumexp_grad(ones_like(out), a, out, axis=axis, keepdims=keepdims) * a_dot, axis=axis, keepdims=keepdims)",)),
    Fn("softmax", "x", "softmax_grad(g, out, axis=axis)", family="reduction", np=special.softmax,
       params="axis", facts=_ARRAY_ONLY, tangent=("softmax_grad(x_dot, out, axis=axis)",)),
    Fn("log_softmax", "x", "log_softmax_grad(g, out, axis=axis)", family="reduction",
       np=special.log_softmax, params="axis", facts=_ARRAY_ONLY, tangent=("x_dot - sum(exp(out) * x_dot, axis=axis, keepdims=True)",)),
]
