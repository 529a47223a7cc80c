"""Small programs that once miscompiled (found by the differential fuzzer); see test_regressions.py."""
import math

import numpy as np


def closure_reads_value_reassigned_in_loop(x):
    def scaled(t):
        return t * x  # x as it is when scaled is called (late binding)

    total = 0.0
    for i in range(3):
        x = x * 1.5
        total = total + scaled(1.0)
    return total


def double_negation_read_in_branch(x, y):
    a = -(-(x * y))
    if x > 0.0:
        b = a * 2.0
    else:
        b = a * 3.0
    return b * y


def abs_of_numpy_scalar(x):
    return abs(np.sin(x)) * x
