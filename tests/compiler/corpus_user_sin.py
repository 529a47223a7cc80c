"""A module whose own `sin` is a user function, not math.sin (for the corpus: name resolution is by object)."""
import math


def sin(u):
    """Not the sine: a cubic. The compiler must inline this, not map it onto math.sin."""
    return u * u * u - 2.0 * u


def uses_user_sin(x):
    return sin(x) + math.sin(x)
