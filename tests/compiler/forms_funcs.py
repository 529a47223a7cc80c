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
