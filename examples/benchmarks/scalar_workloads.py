"""The scalar workloads S1 and S2, each in two spellings (`math.*` and `np.*` called on floats, as
users write scalar code both ways), with a careful hand-written value-and-gradient pass in each
spelling: the floor the compiled gradient is measured against.

S1  f57: 57 primitive operations on 3 inputs, gradient w.r.t. all three.
S2  a 100-step recurrence, h = tanh(w*h + b); total += h*h, gradient w.r.t. (w, b).

The NumPy hand passes call np.* for the transcendental functions and use operators for arithmetic,
as a careful person writing NumPy-spelled scalar code would.
"""
from __future__ import annotations

import math

import numpy as np

S1_POINT = (0.3, -0.7, 0.45)
S2_POINT = (0.8, 0.1)
S2_STEPS = 100


def f57(x, y, z):
    a = x * y + z
    b = math.sin(a) * math.exp(-x * x)
    c = math.tanh(b + y) - math.log(1.0 + z * z)
    d = c * c + a / (1.0 + b * b)
    e = math.sqrt(d * d + 1.0) * math.cos(x - y)
    f = e * a - b * c + d / (2.0 + math.sin(z))
    g = math.exp(-f * f * 0.01) + math.atan(e) * x
    h = g * y - f * z + math.log1p(c * c)
    return h * h + g - a * e


def f57_np(x, y, z):
    a = x * y + z
    b = np.sin(a) * np.exp(-x * x)
    c = np.tanh(b + y) - np.log(1.0 + z * z)
    d = c * c + a / (1.0 + b * b)
    e = np.sqrt(d * d + 1.0) * np.cos(x - y)
    f = e * a - b * c + d / (2.0 + np.sin(z))
    g = np.exp(-f * f * 0.01) + np.arctan(e) * x
    h = g * y - f * z + np.log1p(c * c)
    return h * h + g - a * e


def hand_f57(x, y, z):
    """f57's value and gradient by hand, `math` spelling."""
    a = x * y + z
    sa = math.sin(a)
    ex = math.exp(-x * x)
    b = sa * ex
    tb = math.tanh(b + y)
    zz1 = 1.0 + z * z
    c = tb - math.log(zz1)
    cc = c * c
    bb1 = 1.0 + b * b
    d = cc + a / bb1
    r = math.sqrt(d * d + 1.0)
    xmy = x - y
    cxy = math.cos(xmy)
    e = r * cxy
    sz2 = 2.0 + math.sin(z)
    f = e * a - b * c + d / sz2
    eff = math.exp(-f * f * 0.01)
    at = math.atan(e)
    g = eff + at * x
    h = g * y - f * z + math.log1p(cc)
    value = h * h + g - a * e
    dh = 2.0 * h
    dg = 1.0 + dh * y
    dy = dh * g
    df = -dh * z - dg * eff * 0.02 * f
    dz = -dh * f
    dc = dh * 2.0 * c / (1.0 + cc)
    dx = dg * at
    de = dg * x / (1.0 + e * e) - a + df * a
    da = df * e - e
    db = -df * c
    dc -= df * b
    dd = df / sz2
    dz -= dd * d * math.cos(z) / sz2
    dxy = -de * r * math.sin(xmy)
    dx += dxy
    dy -= dxy
    dd += de * cxy * d / r
    dc += dd * 2.0 * c
    da += dd / bb1
    db -= dd * a * 2.0 * b / (bb1 * bb1)
    dby = dc * (1.0 - tb * tb)
    dz -= dc * 2.0 * z / zz1
    db += dby
    dy += dby
    dx -= db * b * 2.0 * x
    da += db * ex * math.cos(a)
    dx += da * y
    dy += da * x
    dz += da
    return value, (dx, dy, dz)


def hand_f57_np(x, y, z):
    """f57_np's value and gradient by hand: np.* for the transcendental calls, operators otherwise."""
    a = x * y + z
    sa = np.sin(a)
    ex = np.exp(-x * x)
    b = sa * ex
    tb = np.tanh(b + y)
    zz1 = 1.0 + z * z
    c = tb - np.log(zz1)
    cc = c * c
    bb1 = 1.0 + b * b
    d = cc + a / bb1
    r = np.sqrt(d * d + 1.0)
    xmy = x - y
    cxy = np.cos(xmy)
    e = r * cxy
    sz2 = 2.0 + np.sin(z)
    f = e * a - b * c + d / sz2
    eff = np.exp(-f * f * 0.01)
    at = np.arctan(e)
    g = eff + at * x
    h = g * y - f * z + np.log1p(cc)
    value = h * h + g - a * e
    dh = 2.0 * h
    dg = 1.0 + dh * y
    dy = dh * g
    df = -dh * z - dg * eff * 0.02 * f
    dz = -dh * f
    dc = dh * 2.0 * c / (1.0 + cc)
    dx = dg * at
    de = dg * x / (1.0 + e * e) - a + df * a
    da = df * e - e
    db = -df * c
    dc -= df * b
    dd = df / sz2
    dz -= dd * d * np.cos(z) / sz2
    dxy = -de * r * np.sin(xmy)
    dx += dxy
    dy -= dxy
    dd += de * cxy * d / r
    dc += dd * 2.0 * c
    da += dd / bb1
    db -= dd * a * 2.0 * b / (bb1 * bb1)
    dby = dc * (1.0 - tb * tb)
    dz -= dc * 2.0 * z / zz1
    db += dby
    dy += dby
    dx -= db * b * 2.0 * x
    da += db * ex * np.cos(a)
    dx += da * y
    dy += da * x
    dz += da
    return value, (dx, dy, dz)


def recurrence(w, b, n=S2_STEPS):
    h = 0.0
    total = 0.0
    for i in range(n):
        h = math.tanh(w * h + b)
        total += h * h
    return total


def recurrence_np(w, b, n=S2_STEPS):
    h = 0.0
    total = 0.0
    for i in range(n):
        h = np.tanh(w * h + b)
        total += h * h
    return total


def hand_recurrence(w, b, n=S2_STEPS):
    """The recurrence's value and gradient by hand: the forward loop keeps each h, the backward loop
    walks them in reverse."""
    hs = []
    h = 0.0
    total = 0.0
    for _ in range(n):
        hs.append(h)
        h = math.tanh(w * h + b)
        total += h * h
    dw = db = dh = 0.0
    for h_prev in reversed(hs):
        dh += 2.0 * h
        dpre = dh * (1.0 - h * h)
        dw += dpre * h_prev
        db += dpre
        dh = dpre * w
        h = h_prev
    return total, (dw, db)


def hand_recurrence_np(w, b, n=S2_STEPS):
    """As hand_recurrence, with np.tanh."""
    hs = []
    h = 0.0
    total = 0.0
    for _ in range(n):
        hs.append(h)
        h = np.tanh(w * h + b)
        total += h * h
    dw = db = dh = 0.0
    for h_prev in reversed(hs):
        dh += 2.0 * h
        dpre = dh * (1.0 - h * h)
        dw += dpre * h_prev
        db += dpre
        dh = dpre * w
        h = h_prev
    return total, (dw, db)
