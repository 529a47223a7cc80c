"""Functions for tests/compiler/test_symbolic.py (the SymPy pass)."""
import math

import numpy as np


def trig_identity(x, y):
    t = math.tanh(x * y)
    return t * t + math.sin(x) ** 2 + math.cos(x) ** 2 + math.exp(math.log(y) * 2)


def rational(x, y):
    return (x * x - y * y) / (x - y) + math.sqrt(x * x) * y


def with_loop(x, n=4):
    s = 0.0
    for i in range(n):
        s = s + math.sin(x * i)
    return s * s + math.cos(x) ** 2 + math.sin(x) ** 2


def with_max(x, y):
    return max(x, y) * x + (x + y) ** 2 - x * x - 2 * x * y


# --- domains: the function raises, so the simplified gradient must raise too --------------------

def sqrt_squared(x):
    return math.sqrt(x) ** 2


def log_of_exp(x):
    return math.log(math.exp(x))


def exp_of_log(x):
    return math.exp(math.log(x) * 3.0)


def cancelled_quotient(x, y):
    return (x * y) / y + x * 0.5 / (x - y) * (x - y)


def asin_chain(x):
    return math.asin(x) + math.sqrt(1.0 - x * x) * math.cos(math.asin(x))


def numpy_scalar(x):
    t = np.sqrt(x)  # nan (with a warning) for x < 0, where math.sqrt raises
    return t * t + x


# --- chains like the ones in issue 9 (SymPy took 21-45 s, 57 s, > 15 min, 115 s on them) ---------

def chain9(x, y):
    a = math.sin(x * y)
    b = math.exp(a) + x
    c = math.tanh(b * y)
    return math.log(1.0 + c * c) * a


def chain8(x, y):
    a = math.sin(x) * math.cos(y) + x * y / (1.0 + x * x)
    b = math.exp(-a * a) + math.tanh(a * y - x)
    c = math.sqrt(1.0 + b * b) * a - math.atan(b * x)
    d = math.log(1.0 + c * c) / (1.0 + a * a) + b
    e = math.cos(d * x) * math.sin(c + y)
    f = e * e + math.tanh(d - e) * a
    g = math.exp(math.sin(f)) / (2.0 + math.cos(e))
    return g * f + d


def chain30(x, y):
    v = x
    w = y
    v = math.sin(v * w) + x
    w = math.tanh(w - v * 0.5)
    v = math.exp(-v * v) * w + v
    w = math.log(1.0 + w * w) + math.cos(v)
    v = v * w / (1.0 + v * v)
    w = math.atan(w + v) * math.sqrt(1.0 + w * w)
    v = math.sin(v) * math.cos(w) + v * w
    return v + w


def chain50(x, y, z):
    a = math.sin(x * y + z) * math.exp(-z * z)
    b = math.tanh(a + x) * math.cos(y - a)
    c = math.log(1.0 + a * a + b * b) / (1.0 + z * z)
    d = math.sqrt(1.0 + c * c) * math.atan(b - c) + a * b
    e = math.exp(math.sin(d) * c) - math.cos(a * d)
    f = (d * e - c) / (2.0 + math.tanh(e) * math.tanh(e))
    g = math.sin(f + a) * math.cos(f - b) + math.log(1.0 + f * f)
    h = g * g + e * f - math.atan(g * x)
    return h * a + math.exp(-h * h) * y


# --- random chains (the benchmark and the differential test) -------------------------------------

_UNARY = ("math.sin({})", "math.cos({})", "math.tanh({})", "math.exp(-{0} * {0})",
          "math.log(1.0 + {0} * {0})", "math.sqrt(1.0 + {0} * {0})", "math.atan({})",
          "math.log({})", "math.sqrt({})", "math.asin({})", "math.exp({})")
_BINARY = ("{} + {}", "{} - {}", "{} * {}", "{} / {}", "{0} / (1.0 + {1} * {1})", "({} - {}) ** 2",
           "max({}, {})", "{} * {} ** 3")


def random_chain_source(name, operations, seed, per_line=3, domain_errors=True):
    """Source of `def name(x, y, z)`: a chain of about `operations` operations, a few per line,
    each line combining the last values with a random unary or binary operation. With
    `domain_errors`, log, sqrt, asin, exp and `/` appear unguarded, so it raises at some points."""
    import random

    rng = random.Random(seed)
    unary = _UNARY if domain_errors else _UNARY[:7]
    binary = _BINARY if domain_errors else tuple(b for b in _BINARY if b != "{} / {}")
    names = ["x", "y", "z"]
    lines = [f"def {name}(x, y, z):"]
    count = 0
    while count < operations:
        expr = rng.choice(names[-3:])
        for _ in range(per_line):
            if rng.random() < 0.45:
                form = rng.choice(unary)
                expr = form.format(f"({expr})")
            else:
                form = rng.choice(binary)
                other = rng.choice(names)
                expr = form.format(f"({expr})", other) if rng.random() < 0.5 else \
                    form.format(other, f"({expr})")
            count += 1 + form.count("*") + form.count("+") + form.count(" - ") + form.count("/")
        names.append(f"v{len(names) - 2}")
        lines.append(f"    {names[-1]} = {expr}")
    lines.append(f"    return {names[-1]} + {names[-2]} * x")
    return "\n".join(lines) + "\n"


def square_by_logs(y):
    return math.exp(2 * math.log(y))


def numpy_cancelled(x, y):
    # the adjoint of a is 1 + s - s: NumPy's s cancels, and what is left is divided by
    # sqrt(1 - x*x), 0 at x = 1, where NumPy's float64 divides to inf and a Python float raises
    # (s still reaches d/dx through s * x: the division itself must keep its NumPy numerator)
    a = math.asin(x)
    s = np.sqrt(1.0 + y * y)
    return a + (a - a) * s + s * x


# --- found by the differential fuzzer's programs run through simplify="sympy" --------------------

def _h0(p, q=0.5):
    return -math.atan2((3.0 if (p >= 2.0) else q), (-(-1.5)))


def _h1(p, q=0.5):
    p = p
    return p


def fuzz_branch_reads_adjoint(x):
    # an adjoint value the simplified code no longer needs is still read inside a branch of the
    # return's gradient: it must be kept (it was dropped, and the gradient raised NameError)
    x = _h1((math.sqrt(1.25) - _h1(q=x, p=x)))
    for j in range(3, 0, -1):
        if math.log10(min(x, x)) >= (-0.5):
            x = x
        else:
            x = x + x
            x = x * ((0.5 + (0.5 if ((math.hypot(x, 1.0 + x * x) / _h0(x, q=x)) <= 2.0) else x)
                      * (0.5 if ((math.hypot(x, 1.0 + x * x) / _h0(x, q=x)) <= 2.0) else x)) ** -1.5)
        if _h0(x, 2.0) >= math.hypot(x, (j * x)):
            break
        if (((1.0 + (2.0 ** 3) * (2.0 ** 3)) ** math.sin(math.asin(0.9 * math.tanh(x)))) > (x * x)) \
                or ((_h0(x, x) - math.log(1.0 + x * x)) >= x):
            x = x + x
        else:
            x = ((j * x) if ((x >= (-x)) and (x >= 0.5)) else (j * x)) - (x ** 1.5)
    x = x
    return math.atan2((_h1(x, q=1.5) if (x >= 0.5) else _h0(q=x, p=x)),
                      1.0 + ((-x) - (-x)) * ((-x) - (-x)))
