"""Functions for tests/compiler/test_custom_rules.py: rules registered with compiler.register."""
import math

import numpy as np
from scipy import special

from compiler import register


def i0_vjp(g, out, x):
    return g * special.i1(x)


# a library function with no built-in rule (registration is global: no other test may use it)
register(special.i0, i0_vjp)


def uses_sinc(x, y):
    return np.sum(special.i0(x) * y)


def softplus(x):
    return np.log1p(np.exp(x))


def softplus_vjp(g, out, x):
    return g / (1.0 + np.exp(-x))


register(softplus, softplus_vjp)


def uses_softplus(x):
    return np.sum(softplus(x * 2.0))


def clipped_identity(x):
    """A straight-through estimator: the value is clipped, the gradient passes unchanged."""
    return min(max(x, -1.0), 1.0)


register(clipped_identity, lambda g, out, x: g)


def uses_straight_through(x):
    return clipped_identity(x * 3.0) * x


def log_gamma(x):
    return math.lgamma(x)


def log_gamma_vjp(g, out, x):
    eps = 1e-6  # a derivative by central differences, as a user might supply one
    return g * (math.lgamma(x + eps) - math.lgamma(x - eps)) / (2 * eps)


register(log_gamma, log_gamma_vjp)


def uses_gamma(x):
    return math.exp(log_gamma(x)) * x
