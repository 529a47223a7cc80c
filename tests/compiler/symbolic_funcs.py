"""Functions for tests/compiler/test_symbolic.py (the SymPy pass)."""
import math


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
