"""A hostile module for the namer: globals that shadow the names generated code likes to use.

`np` is not NumPy, `cos` is not math.cos, `sin` is the user's own function, and `dx`, `t1`,
`respecialize`, `make_f_grad`, `type` are the user's. Generated code must still read each of these
exactly as the user's code does, and call the right math for the derivatives.
"""
import math

import numpy as onp

np = 3.0
cos = 0.25
dx = 0.5
t1 = 2.0
respecialize = 1.5


def sin(u):
    return u * u


def make_f_grad(u):
    return u + 1.0


def f(x):
    return math.sin(x) * cos + sin(x) * np + dx * x * t1 + onp.tanh(x) * respecialize + make_f_grad(x)


def f_expected_grad(x):
    return (math.cos(x) * cos + 2.0 * x * np + dx * t1 + (1.0 - math.tanh(x) ** 2) * respecialize + 1.0)


def type(x):  # noqa: A001  (a user function named like the builtin the guard calls)
    return math.exp(x) * x


def float(x):  # noqa: A001
    return onp.cos(x) * x
