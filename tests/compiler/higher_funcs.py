"""Scalar functions for grad(grad(f))."""
import math


def sin_cubic(x):
    return math.sin(x) * x ** 3


def two_args(x, y):
    return x * x * y + math.exp(x * y)


def with_branch_and_loop(x, n=3):
    total = 0.0
    for i in range(n):
        if x > 0.0:
            total = total + math.tanh(x * (i + 1.0))
        else:
            total = total + x * x
    return total


def with_branch(x):
    if x > 0.0:
        y = math.tanh(3.0 * x) * x
    else:
        y = x * x * x
    return y + math.exp(0.5 * x)
