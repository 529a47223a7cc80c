"""The functions the pictures in this folder draw. Made from the repository's root with:

    python -m compiler graph docs/pictures/examples.py:f --args -2 5 -4 --backward -o docs/pictures/seed.svg
    python -m compiler graph docs/pictures/examples.py:f --args -2 5 -4 --backward -o docs/pictures/seed.png
    python -m compiler graph docs/pictures/examples.py:f --args -2 5 -4 --backward --tape -o docs/pictures/seed_tape.svg
    python -m compiler graph docs/pictures/examples.py:rnn --args 0.5 0.1 1 --backward -o docs/pictures/loop.svg
    python -m compiler graph docs/pictures/examples.py:rnn --args 0.5 0.1 1 --backward --tape -o docs/pictures/loop_tape.svg
    python -m compiler graph docs/pictures/examples.py:relu_or_square --args 1.5 -2 --backward -o docs/pictures/branch.svg
"""
import math


def f(x, y, z):
    """The seed lecture's circuit: at (-2, 5, -4), q = 3 and f = -12; back come -4, -4 and 3."""
    q = x + y
    return q * z


def rnn(w, b, h):
    """A loop: the compiler draws its body once, with the number of iterations; the tape unrolls it."""
    for i in range(3):
        h = math.tanh(w * h + b)
    return h


def relu_or_square(x, y):
    """A branch: both sides drawn, the one taken at these arguments highlighted."""
    if x > 0:
        z = x * y
    else:
        z = x + y
    return z * z
