"""The functions whose generated source is kept in golden/ (test_golden.py).

They live in their own module so that editing a test file never moves their line numbers (the
generated code's comments name the user's lines). Changing this file means regenerating the goldens:
SOURCEAD_REGOLD=1 python -m pytest tests/compiler/test_golden.py
"""
import math


def seed(x, y, z):
    q = x + y
    return q * z


def log_square(x):
    return math.log(x ** 2) + 1


def fork(x, y):
    a = x * y
    b = a * a
    return b + math.sin(a)


def max_router(x, y, z, w):
    return 2 * (x * y + max(z, w))
