"""Functions with control flow, differentiated by tests/compiler/test_control_flow.py.

Each is plain Python; the tests compare the compiled gradient with central differences at points
away from branch switches."""
import math

import numpy as np


def if_else(x, y):
    if x > y:
        z = x * y
    else:
        z = x + math.sin(y)
    return z * z


def elif_chain(x):
    if x < -1.0:
        r = -x * x
    elif x < 0.5:
        r = math.exp(x)
    elif x < 2.0:
        r = math.log(x) * x
    else:
        r = math.sqrt(x)
    return r + x


def assigned_in_one_branch(x, y):
    a = y
    if x > 0.0:
        a = x * y
        b = x
    else:
        b = y * y
    return a * b


def condition_on_differentiated_value(x):
    y = x * x - 1.0
    if y > 0.0:
        return y * x
    return -y


def conditional_expression(x, y):
    z = x * y if x > y else x / y
    return z + (math.log(x) if x > 0 else 0.0)


def short_circuit(x):
    ok = x > 0 and math.log(x) > -1.0
    return x * 2.0 if ok else x * 3.0


def for_constant_bounds(x):
    s = 0.0
    for i in range(5):
        s = s + x ** i / (i + 1)
    return s


def for_argument_bounds(x, n):
    acc = 1.0
    for i in range(1, n, 2):
        acc = acc * math.cos(x / i)
    return acc


def recurrence(w, b, n=20):
    h = 0.0
    total = 0.0
    for i in range(n):
        h = math.tanh(w * h + b)
        total += h * h
    return total


def nested_loops(x, y):
    total = 0.0
    for i in range(3):
        for j in range(4):
            total += math.sin(x * i + y * j) * x
    return total


def swap_in_loop(a, b):
    for i in range(3):
        a, b = b, a * b + 1.0
    return a + 2.0 * b


def loop_with_break(x, n=10):
    s = 0.0
    for i in range(n):
        s = s + x * i
        if s > 3.0:
            break
        s = s * 1.1
    return s * x


def loop_with_continue(x, n=6):
    s = 0.0
    for i in range(n):
        if i % 2 == 0:
            continue
        s += math.sin(x * i)
    return s


def early_return(x, y):
    if x > 1.0:
        return x * y
    t = x * x
    if t > 0.5:
        return t + y
    return t * y * y


def return_inside_loop(x):
    acc = 1.0
    for i in range(20):
        acc = acc * x
        if acc > 10.0:
            return acc + i
    return -acc


def newton_sqrt(a):
    x = a
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


def while_data_dependent(x):
    n = 0
    while x < 100.0:
        x = x * 1.5 + 1.0
        n += 1
    return x + n


def while_with_break(x):
    y = x
    while True:
        y = y * 1.3
        if y > 5.0:
            break
    return y


def enumerate_and_zip(x, n=4):
    s = 0.0
    for k, i in enumerate(range(2, 2 + 2 * n, 2)):
        s += math.sin(x * i) * k
    for i, j in zip(range(n), range(3, 10)):
        s += x ** i * j
    return s


def list_accumulation(x, n=5):
    terms = []
    for i in range(n):
        if i % 2 == 0:
            terms.append(math.sin(x * i))
        else:
            terms.append(x ** i)
    return sum(terms) / len(terms)


def zero_trip_loop(x, n=0):
    s = x
    for i in range(n):
        s = s * 2.0
    return s * s


def helper_with_branches(t):
    if t > 0.0:
        return t * t
    return -t


def calls_helper_in_loop(x):
    s = 0.0
    for i in range(4):
        s += helper_with_branches(x - i * 0.5)
    return s


def loop_variable_in_numpy(x, n=4):
    s = 0.0
    for i in range(n):
        s += np.sin(x * (i + 1))
    return s


def rows_of_array(X, w):
    total = 0.0
    for row in X:
        total = total + np.tanh(row @ w) ** 2
    return total


def rows_with_break(X, w):
    total = 0.0
    for row in X:
        total = total + np.sum(row * w)
        if total > 1.0:
            break
    return total * total


def stacked_list(x, n=4):
    terms = []
    for i in range(n):
        if i % 2 == 0:
            terms.append(np.sin(x * i))
        else:
            terms.append(x ** 2 * i)
    Y = np.stack(terms)
    return np.sum(Y * Y) + sum(terms).sum() / len(terms)


def stacked_scalars_axis1(x, y):
    rows = []
    for k in range(3):
        rows.append(np.array([x * k, y + k, x * y]))
    M = np.stack(rows, axis=1)
    return np.sum(M ** 2 * np.arange(3.0))
