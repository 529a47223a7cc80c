"""Function forms and outputs (issue 12): has_aux, functools.partial, bound methods and objects,
a function chosen by a condition known when the graph is built."""
import functools
from collections import namedtuple
from dataclasses import dataclass
from functools import partial

import numpy as np

Stats = namedtuple("Stats", "mean spread")


@dataclass
class Report:
    loss: float
    pred: np.ndarray


def loss_with_aux(w, x, y):
    pred = np.tanh(x @ w)
    err = pred - y
    loss = np.mean(err ** 2)
    return loss, {"pred": pred, "acc": np.mean(np.abs(err) < 0.5), "name": "mse",
                  "parts": [np.sum(err), 3], "stats": Stats(np.mean(pred), np.std(pred))}


def scalar_aux(a, b):
    c = a * b
    s = np.sin(c)
    return s + b, (c, "label")


def aux_plain_number(a):
    return a * a, a + 1.0


def aux_dataclass(w, x):
    pred = x @ w
    loss = np.sum(pred ** 2)
    return loss, Report(loss, pred)


def aux_from_helper(w, x):
    loss, pred = helper_pair(w, x)
    return loss, pred


def helper_pair(w, x):
    pred = np.sin(x * w)
    return np.sum(pred), pred


def aux_containers(params, x):
    h = np.tanh(x @ params["W"] + params["b"])
    return np.sum(h ** 2), {"h": h, "norm": np.sum(params["W"] ** 2)}


def tuple_without_aux(a):
    return a, a


def single_value(a):
    return a * a


# --- functools.partial ---------------------------------------------------------------------------

def scaled(x, scale, shift=0.0):
    return np.sum(np.sin(x * scale) + shift * x)


def power_sum(p, x, y):
    return np.sum(x ** p * y)


SCALED_BY_THREE = partial(scaled, scale=3.0)
WEIGHTS = np.array([1.0, -2.0, 0.5])
WEIGHTED = functools.partial(power_sum, 2.0, y=WEIGHTS)


def uses_global_partial(x):
    return SCALED_BY_THREE(x) + WEIGHTED(x)


def makes_partial(x, s):
    g = partial(scaled, scale=s, shift=1.0)
    return g(x) * 2.0


def partial_of_local(x):
    def inner(a, b):
        return a * b + np.sin(a)
    h = functools.partial(inner, b=2.5)
    return np.sum(h(x))


# --- bound methods and objects -------------------------------------------------------------------

def relu(z):
    return np.maximum(z, 0.0)


class Model:
    scale_default = 2.0

    def __init__(self, W, b, hidden=2, use_tanh=True):
        self.W = W
        self.b = b
        self.temperature = 0.7
        self.hidden = hidden
        self.use_tanh = use_tanh
        self.name = "model"
        self.labels = np.array([0, 1, 1])

    def forward(self, x):
        act = np.tanh if self.use_tanh else relu
        return act(x @ self.W + self.b) / self.temperature

    def loss(self, x):
        h = self.forward(x)
        return np.sum(h ** 2) + self.penalty()

    def penalty(self):
        return 0.1 * np.sum(self.W ** 2)

    def loss_with_stat(self, x, y):
        h = self.forward(x)
        return np.mean((h - y) ** 2) * self.scaling(1.0)

    @staticmethod
    def scaling(t):
        return t * 1.5

    @classmethod
    def class_loss(cls, x):
        return np.sum(x ** 2) * cls.scale_default

    @property
    def norm(self):
        return np.sum(self.W ** 2)

    def loss_norm(self, x):
        return np.sum(x @ self.W) + self.norm

    def __call__(self, x):
        return np.sum(np.tanh(x @ self.W)) * self.temperature


class Outer:
    def __init__(self, inner, c):
        self.inner = inner
        self.c = c

    def loss(self, x):
        return self.inner.loss(x) * self.c


# --- a function chosen by a condition known when the graph is built -------------------------------

USE_TANH = True


def chosen_by_argument(x, flag):
    act = np.tanh if flag else relu
    return np.sum(act(x) ** 2)


def chosen_by_global(x):
    act = np.tanh if USE_TANH else relu
    return np.sum(act(x * 2.0))


def chosen_by_statement(x, mode="sin"):
    if mode == "sin":
        f = np.sin
    elif mode == "cube":
        f = cube
    else:
        f = relu
    return np.sum(f(x))


def cube(z):
    return z * z * z


def chosen_by_computed_value(x):
    act = np.tanh if np.sum(x) > 0 else relu
    return np.sum(act(x))


def chosen_by_literal(x):
    act = np.tanh if True else relu
    return np.sum(act(x))


def chosen_scalar(a, flag):
    op = math_sin if flag else cube
    return op(a) * a


def math_sin(a):
    return np.sin(a)


class Stack:
    def __init__(self, layers):
        self.layers = layers
        self.depth = len(layers)

    def loss(self, x):
        h = x
        for i in range(self.depth):
            W, b = self.layers[i]
            h = np.tanh(h @ W + b)
        return np.sum(h ** 2)


GLOBAL_MODEL = Model(np.array([[0.5, -0.2], [0.1, 0.3], [-0.4, 0.2]]), np.array([0.1, -0.1]))


def uses_global_model(x):
    return GLOBAL_MODEL.loss(x) + GLOBAL_MODEL(x) + GLOBAL_MODEL.temperature * np.sum(x)


class Chooser:
    def __init__(self, w):
        self.w = w

    def loss(self, x, flag):
        act = np.tanh if flag else relu
        return np.sum(act(x * self.w))


def container_chooser(params, x, mode):
    act = np.sin if mode == "sin" else np.tanh
    return np.sum(act(x @ params["W"]))


class Net:
    def __init__(self, layers, use_tanh=True):
        self.layers = layers
        self.use_tanh = use_tanh

    def predict(self, x):
        act = np.tanh if self.use_tanh else relu
        h = x
        for W, b in self.layers:
            h = act(h @ W + b)
        return h


GLOBAL_NET = Net([(np.array([[0.5, -0.2], [0.1, 0.3]]), np.array([0.1, -0.1])),
                  (np.array([[0.3], [-0.7]]), np.array([0.2]))])


def uses_global_net(x):
    return np.sum(GLOBAL_NET.predict(x) ** 2)


def aux_from_branches(x, c):
    if c > 0:
        return np.sum(x ** 2), {"side": "right", "h": x * 2.0}
    return np.sum(np.sin(x)), {"side": "left", "h": np.cos(x)}


def pair_from_branches(a, b):
    if a > b:
        lo, hi = b, a
    else:
        lo, hi = a, b
    pair = (lo * 2.0, hi)
    if a > 0:
        pair = (pair[0] * a, pair[1])
    return pair[0] * 3.0 + pair[1]


def returns_two_structures(x, c):
    if c > 0:
        return np.sum(x), {"k": x}
    return np.sum(x), (x, x)


class HoldsASet:
    def __init__(self):
        self.w = 2.0
        self.seen = {1, 2}

    def loss(self, x):
        return x * self.w
