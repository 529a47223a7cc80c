"""Functions calling things that have no derivative rule, on values that need no gradient."""
import math

import numpy as np

import inactive_lib

try:  # a SciPy function with no rule (gammaln has one now; Bessel's K0 has none)
    from scipy.special import k0
except ImportError:  # SciPy is optional
    k0 = None


def poisson_nll(lam, y):
    # k0(y + 1) reads only the data y
    return np.sum(lam - y * np.log(lam) + k0(y + 1.0))


def constants_from_library(x):
    return x * math.lgamma(4.5) + math.factorial(5)


def grids_and_masks(x):
    n = len(x)
    grid = np.linspace(0.0, 1.0, n)
    lower = np.tril(np.ones((n, n)))
    return np.sum(lower @ (grid * x))


def pick_by_argmax_of_data(x, labels):
    k = np.argmax(labels)
    return x[k] * 3.0


def pick_by_argmax_of_x(x):
    # argmax is piecewise constant: x[argmax(x)] has gradient 1 at the max
    return x[np.argmax(x)] ** 2


def sorted_order_of_x(x):
    order = np.argsort(x)
    return np.sum(x[order] * np.arange(1.0, len(x) + 1.0))


def nonzero_where(x):
    idx = np.where(x > 0.0)
    return np.sum(x[idx] ** 2)


def random_noise(x):
    a = np.random.rand(3)
    b = np.random.rand(3)
    return np.sum(x * a) + np.sum(x * b * b)


def hanning_window(x):
    return np.sum(x * inactive_lib.window(len(x)))


def library_on_x(x):
    return np.sum(inactive_lib.scaled(x))


def active_gammaln(x):
    return np.sum(k0(x))


def inactive_in_loop(x, n):
    total = 0.0
    for i in range(n):
        total = total + x * math.comb(n, i)
    return total


def string_times_x(x):
    s = "abc"
    return x * s


def random_features(x, seed):
    rng = np.random.default_rng(seed)
    omega = rng.normal(size=(3, 4))
    return np.sum(np.cos(x @ omega))


def methods_on_data(x, X):
    k = X.argmax(axis=1)
    np.random.seed(0)
    print("picked", k)
    return np.sum(x[k]) * x.sum().item() + float((X > 10).any())


def cholesky_as_a_check(K):
    L = np.linalg.cholesky(K)  # raises for an indefinite K, though L is not used
    return np.sum(K * K)


def empty_like_buffer(x):
    out = np.empty_like(x)
    out[0] = x[0]
    out[1:] = x[1:] * 2.0
    return np.sum(out ** 2)
