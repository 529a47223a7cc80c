"""Function forms and outputs (issue 12): has_aux, functools.partial, bound methods and objects,
a function chosen by a condition known when the graph is built. Every gradient is checked
against central differences."""
import functools

import numpy as np
import pytest

import forms_funcs as F
from compiler import GradError, grad, value_and_grad
from runtime.gradcheck import compare, numerical_grad

rng = np.random.default_rng(7)


def _close(got, want, atol=1e-7, rtol=1e-5):
    err, rel, ok = compare(got, want, atol=atol, rtol=rtol)
    assert ok, f"{err} {rel}\n{got}\n{want}"


def _numeric(f, args, k):
    return numerical_grad(f, list(args), k)


# --- has_aux ------------------------------------------------------------------------------------

def test_has_aux_grad_returns_gradient_and_aux():
    w, x, y = rng.normal(size=3), rng.normal(size=(5, 3)), rng.normal(size=5)
    g, aux = grad(F.loss_with_aux, has_aux=True)(w, x, y)
    _close(g, _numeric(lambda w: F.loss_with_aux(w, x, y)[0], [w], 0))
    want = F.loss_with_aux(w, x, y)[1]
    assert set(aux) == set(want)
    _close(aux["pred"], want["pred"])
    assert aux["acc"] == want["acc"] and aux["name"] == "mse"
    assert isinstance(aux["parts"], list) and aux["parts"][1] == 3
    _close(aux["parts"][0], want["parts"][0])
    assert isinstance(aux["stats"], F.Stats)
    _close(aux["stats"].spread, want["stats"].spread)


def test_has_aux_value_and_grad():
    w, x, y = rng.normal(size=3), rng.normal(size=(5, 3)), rng.normal(size=5)
    (value, aux), g = value_and_grad(F.loss_with_aux, has_aux=True)(w, x, y)
    want_value, want_aux = F.loss_with_aux(w, x, y)
    assert value == pytest.approx(want_value)
    _close(aux["pred"], want_aux["pred"])
    _close(g, _numeric(lambda w: F.loss_with_aux(w, x, y)[0], [w], 0))


def test_has_aux_scalar_code_and_tuple_wrt():
    (ga, gb), (c, label) = grad(F.scalar_aux, wrt=(0, 1), has_aux=True)(0.3, 1.7)
    f = lambda a, b: F.scalar_aux(a, b)[0]  # noqa: E731
    assert ga == pytest.approx(_numeric(f, [0.3, 1.7], 0), rel=1e-6)
    assert gb == pytest.approx(_numeric(f, [0.3, 1.7], 1), rel=1e-6)
    assert c == 0.3 * 1.7 and label == "label"
    g, aux = grad(F.aux_plain_number, has_aux=True)(2.0)
    assert g == 4.0 and aux == 3.0
    (v, aux), g = value_and_grad(F.aux_plain_number, has_aux=True)(2.0)
    assert (v, aux, g) == (4.0, 3.0, 4.0)


def test_has_aux_dataclass_and_helper():
    w, x = rng.normal(size=2), rng.normal(size=(4, 2))
    g, rep = grad(F.aux_dataclass, has_aux=True)(w, x)
    assert isinstance(rep, F.Report)
    _close(rep.pred, x @ w)
    assert rep.loss == pytest.approx(np.sum((x @ w) ** 2))
    _close(g, _numeric(lambda w: F.aux_dataclass(w, x)[0], [w], 0))
    w, x = rng.normal(size=4), rng.normal(size=4)
    g, pred = grad(F.aux_from_helper, has_aux=True)(w, x)
    _close(pred, np.sin(x * w))
    _close(g, _numeric(lambda w: F.aux_from_helper(w, x)[0], [w], 0))


def test_has_aux_with_container_arguments():
    params = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}
    x = rng.normal(size=(4, 3))
    g, aux = grad(F.aux_containers, has_aux=True)(params, x)
    assert set(g) == {"W", "b"}
    _close(aux["h"], np.tanh(x @ params["W"] + params["b"]))
    _close(g["b"], _numeric(lambda b: F.aux_containers({"W": params["W"], "b": b}, x)[0],
                            [params["b"]], 0))
    (v, aux), g2 = value_and_grad(F.aux_containers, has_aux=True)(params, x)
    assert v == pytest.approx(F.aux_containers(params, x)[0])
    _close(g2["W"], g["W"])


def test_has_aux_refusals():
    with pytest.raises(GradError, match="returns a tuple"):
        grad(F.tuple_without_aux)
    with pytest.raises(GradError, match="pass True or False"):
        grad(F.loss_with_aux, has_aux=1.5)
    with pytest.raises(GradError, match="must return a pair"):
        grad(F.single_value, has_aux=True)
