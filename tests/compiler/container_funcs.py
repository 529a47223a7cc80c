"""Functions whose parameters live in containers (issue 12): dicts, lists of (W, b), namedtuples,
dataclasses, configuration dicts."""
from collections import namedtuple
from dataclasses import dataclass

import numpy as np

Layer = namedtuple("Layer", "W b")


@dataclass
class Linear:
    w: np.ndarray
    b: float


def mlp(params, x):
    h = x
    for W, b in params["layers"]:
        h = np.tanh(h @ W + b)
    return np.mean(h ** 2) * params["scale"]


def mlp_indexed(layers, x):
    h = x
    for i in range(len(layers)):
        W, b = layers[i]
        h = np.tanh(h @ W + b)
    return np.sum(h)


def with_items(params):
    total = 0.0
    for name, value in params.items():
        total = total + np.sum(value ** 2)
    return total


def namedtuple_layer(layer, x):
    return np.sum(np.sin(x @ layer.W + layer.b))


def dataclass_model(model, x):
    return np.sum((model.w * x + model.b) ** 2)


def config_and_params(params, config):
    scale = config["scale"]
    act = config.get("power", 2.0)
    return scale * np.sum(params["w"] ** act)


def builds_a_dict(x, y):
    d = {"a": x * 2.0, "b": y}
    e = dict(c=d["a"] + d["b"])
    return e["c"] * d["b"]


def sum_of_a_list(ws, x):
    return np.sum([np.sum(w * x) for w in ws]) if False else np.sum(np.stack([w * x for w in ws])) \
        if False else sum_list(ws, x)


def sum_list(ws, x):
    total = 0.0
    for w in ws:
        total = total + np.sum(w * x)
    return total


def enumerate_zip(ws, bs):
    total = 0.0
    for k, (w, b) in enumerate(zip(ws, bs)):
        total = total + (k + 1.0) * np.sum(w * b)
    return total


def strings_and_none_leaves(params):
    if params["kind"] == "square" and params["extra"] is None:
        return np.sum(params["w"] ** 2)
    return np.sum(params["w"])


def generator_sum(ws, x):
    return sum(np.sum(w * w) for w in ws) + np.sum(np.stack([w * x for w in ws]))


def lambdas(x):
    sq = lambda t: t * t  # noqa: E731
    return sum(sq(x * i) for i in range(4) if i != 2)


def _apply(fn, v):
    return fn(v) + 1.0


def rows_comprehension(x, X):
    rows = [np.sum(r * x) for r in X]
    return sum(rows) + _apply(lambda u: u ** 3, x[0])


def dict_comprehension(params):
    squared = {k: v ** 2 for k, v in params.items()}
    return sum(np.sum(v) for v in squared.values())


def comprehension_over_a_runtime_range(x, n):
    powers = [x ** i for i in range(n)]
    return sum(powers)


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def two_powers(x):
    return power(x, 3) + power(x, 2)


def rows_enumerated(x, X, Y):
    total = 0.0
    for i, row in enumerate(X):
        total = total + (i + 1.0) * np.sum(row * x)
    for a, b in zip(X, Y):
        total = total + np.sum(a * b * x)
    return total


def writes_into_argument_dict(params, x):
    params["W"] = params["W"] * 2.0
    return np.sum(params["W"] * x)


def appends_to_argument_list(ws, x):
    ws.append(x)
    return sum(np.sum(w) for w in ws)


def local_copies_are_fine(params, ws, x):
    d = dict(params)
    d["W"] = d["W"] * 2.0
    more = list(ws) + [x]
    out = [w * 2.0 for w in more]
    out.append(x * 3.0)
    return np.sum(d["W"] * x) + sum(np.sum(w) for w in out)


def continue_in_unrolled_loops(x, ws):
    total = 0.0
    for w in ws:
        if np.sum(w) > 10.0:
            continue
        for i in range(3):
            if i == 2:
                break
            total = total + np.sum(w * x) * (i + 1.0)
    for j in range(len(ws)):
        if j == 1:
            continue
        total = total + np.sum(ws[j] * x)
    return total
