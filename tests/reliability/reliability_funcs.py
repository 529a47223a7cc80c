"""Functions for the reliability suite (the compiler reads source, so they live in a real file).

Marker comments (`# at:<name>`) let tests find a line without hard-coding its number.
"""
import math

import numpy as np

# --- Unicode identifiers -------------------------------------------------------------------------

def énergie(α, β, *, γ=2.0):
    δ = α * β + math.sin(α)
    return δ * δ * γ


def énergie_grad_analytic(α, β, γ=2.0):
    δ = α * β + math.sin(α)
    dδ = 2.0 * δ * γ
    return dδ * (β + math.cos(α)), dδ * α, δ * δ


def 数组(张量, 权重):
    """Array code with CJK names."""
    积 = np.tanh(张量 * 权重)
    return np.sum(积 * 积)


# --- what cannot be differentiated ---------------------------------------------------------------

async def coroutine(x):  # at:async
    return x * x


def generator(x):
    yield x * x  # at:yield


square_lambda = lambda x: x * x  # noqa: E731  at:lambda


# --- argument kinds ------------------------------------------------------------------------------

def scalar_with_factor(x, n):  # at:scalar_with_factor
    return x * x * n


def scalar_with_flag(x, flag):
    y = x * 3.0
    if flag:
        y = y * y
    return y


def array_with_factor(x, n):  # at:array_with_factor
    return np.sum(x * x) * n


def array_linear(x, c):
    return np.sum(x * c)


def array_with_flag(x, flag):
    y = x * 3.0
    if flag:
        y = y * y
    return np.sum(y)


def kwonly(x, *, scale):  # at:kwonly
    return x * scale


INT_SCALE = 2


def array_times_int_global(x):
    return np.sum(x * INT_SCALE)


# --- NaN and infinity ----------------------------------------------------------------------------

def square(x):
    return x * x


def math_sqrt(x):
    return math.sqrt(x)


def np_sqrt(x):
    return np.sqrt(x)


def np_log(x):
    return np.log(x)


def np_log1p(x):
    return np.log1p(x)


def np_log2(x):
    return np.log2(x)


def np_log10(x):
    return np.log10(x)


def np_divide(x):
    return np.divide(1.0, x)


def np_power_half(x):
    return np.power(x, 0.5)


def np_arctan2(x, y):
    return np.arctan2(x, y)


def np_exp(x):
    return np.exp(x)


def np_tanh(x):
    return np.tanh(x)


def branch(x):
    if x > 0.0:
        return x * x
    return -x


def py_abs(x):
    return abs(x)


def py_max(x, y):
    return max(x, y)


def loop_product(x):
    y = x
    for i in range(3):
        y = y * x
    return y


def power(x, y):
    return x ** y


def array_power(x, y):
    return np.sum(x ** y)


def array_log(x):
    return np.sum(np.log(x))


def array_sqrt(x):
    return np.sum(np.sqrt(x))


def array_square(x):
    return np.sum(x * x)


# --- purity and live globals ---------------------------------------------------------------------

SCALE = 2.0
WEIGHTS = np.array([1.0, 2.0, 3.0])


def helper(u, k=3.0):
    return u * k


def reads_globals(x, y=0.5):
    return helper(x) * SCALE + math.sin(y) * x


def array_reads_globals(x, w, *, bias=0.1):
    h = np.tanh(x @ w + bias) * SCALE
    return np.sum(h * WEIGHTS[: h.shape[1]]) + np.mean(x * x)


def array_broadcast_global(x):
    return np.sum(x * WEIGHTS)


def array_in_place_candidates(x, y):
    """Temporaries the emitter may update in place (`t *= x`): the inputs must survive."""
    a = x * y
    b = a * x + y
    c = np.exp(b) * a
    d = c[1:] * 2.0
    return np.sum(d) + np.sum(c * b)


def make_scaled(scale):
    def scaled(x):
        return x * x * scale
    return scaled


def make_array_scaled(weights):
    def array_scaled(x):
        return np.sum(x * weights)
    return array_scaled


def make_counter():
    """A closure over a cell the caller can rebind (through `set_to`)."""
    factor = 1.0

    def scaled(x):
        return x * factor

    def set_to(v):
        nonlocal factor
        factor = v

    return scaled, set_to


# --- concurrency ---------------------------------------------------------------------------------

def mlp_loss(x, w):
    h = np.tanh(x @ w)
    return np.sum(h * h) + np.mean(x)


def scalar_mix(x, y):
    return math.sin(x) * y + x * x / (1.0 + y * y)


def array_loop(x, n):
    h = x
    for i in range(n):
        h = np.tanh(h * 1.1 + 0.1)
    return np.sum(h * h)


# --- the `used before assigned` cache (see test_purity) ------------------------------------------

LIMIT = 3.0


def make_assigns_limit():
    def assigns_limit(x):
        y = x * math.pi
        LIMIT = y * 2.0  # noqa: N806  a local spelled like the global below
        return LIMIT
    return assigns_limit


def make_reads_limit():
    def reads_limit(x):
        return x * LIMIT
    return reads_limit


# --- determinism ---------------------------------------------------------------------------------

def list_accumulation(x, n):
    terms = []
    for i in range(n):
        terms.append(x * i)
    return sum(terms) / len(terms)


def mixed_control(x, y, n):
    total = 0.0
    h = x
    for i in range(n):
        if h > 0.0:
            h = math.tanh(h * y) + 0.1
        else:
            h = h * h - y
        total += h * h
    while total > 10.0:
        total = total * 0.5
    return total + (x if x > y else y)


def huge_elementwise(x):
    y = np.tanh(x) * x + np.sin(x) ** 2
    return np.sum(y * y) + np.mean(np.exp(-x * x))
