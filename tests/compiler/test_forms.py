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


# --- functools.partial --------------------------------------------------------------------------

def test_partial_keyword_bound():
    x = rng.normal(size=4)
    g = grad(functools.partial(F.scaled, scale=2.0))(x)
    _close(g, _numeric(lambda x: F.scaled(x, 2.0), [x], 0))
    # wrt names the partial's remaining parameters
    g_shift = grad(functools.partial(F.scaled, scale=2.0), wrt="shift")(x, shift=0.5)
    assert g_shift == pytest.approx(np.sum(x))


def test_partial_positional_bound_and_wrt_index():
    x, y = rng.normal(size=3) ** 2 + 0.5, rng.normal(size=3)
    f = functools.partial(F.power_sum, 3.0)
    gx, gy = grad(f, wrt=(0, 1))(x, y)
    _close(gx, _numeric(lambda x: F.power_sum(3.0, x, y), [x], 0))
    _close(gy, _numeric(lambda y: F.power_sum(3.0, x, y), [y], 0))
    v, g = value_and_grad(functools.partial(F.power_sum, 2.0), wrt="y")(x, y)
    assert v == pytest.approx(F.power_sum(2.0, x, y))
    _close(g, x ** 2)


def test_partial_inside_a_differentiated_function():
    x = rng.normal(size=3)
    _close(grad(F.uses_global_partial)(x), _numeric(F.uses_global_partial, [x], 0))
    gx, gs = grad(F.makes_partial, wrt=(0, 1))(x, 0.8)
    _close(gx, _numeric(F.makes_partial, [x, 0.8], 0))
    assert gs == pytest.approx(_numeric(F.makes_partial, [x, 0.8], 1), rel=1e-6)
    _close(grad(F.partial_of_local)(x), _numeric(F.partial_of_local, [x], 0))


# --- bound methods and objects ------------------------------------------------------------------

def _model():
    return F.Model(rng.normal(size=(3, 2)), rng.normal(size=2))


def test_bound_method_differentiates_its_first_argument():
    m, x = _model(), rng.normal(size=(4, 3))
    g = grad(m.loss)(x)
    _close(g, _numeric(m.loss, [x], 0))
    # an attribute changed between calls is seen
    m.W = m.W * 2.0
    m.temperature = 1.3
    _close(grad(m.loss)(x), _numeric(m.loss, [x], 0))
    f = grad(m.loss)
    m.b = m.b + 1.0
    _close(f(x), _numeric(m.loss, [x], 0))


def test_wrt_self_gives_attribute_gradients_by_name():
    m, x = _model(), rng.normal(size=(4, 3))
    g = grad(m.loss, wrt="self")(x)
    assert set(g) == {"W", "b", "temperature"}

    def with_attr(name):
        def f(v):
            saved = getattr(m, name)
            setattr(m, name, v)
            try:
                return m.loss(x)
            finally:
                setattr(m, name, saved)
        return f
    for name in ("W", "b"):
        _close(g[name], _numeric(with_attr(name), [getattr(m, name)], 0))
    assert g["temperature"] == pytest.approx(
        _numeric(with_attr("temperature"), [m.temperature], 0), rel=1e-6)
    (v, gs), = [value_and_grad(m.loss, wrt=("self",))(x)]
    assert v == pytest.approx(m.loss(x)) and set(gs[0]) == set(g)
    gself, gx = grad(m.loss, wrt=("self", 0))(x)
    _close(gx, _numeric(m.loss, [x], 0))
    _close(gself["W"], g["W"])


def test_flag_attribute_chooses_the_activation():
    m, x = _model(), rng.normal(size=(4, 3))
    m.use_tanh = False
    _close(grad(m.loss)(x), _numeric(m.loss, [x], 0))
    m.use_tanh = True  # a new structure: a new version
    _close(grad(m.loss)(x), _numeric(m.loss, [x], 0))


def test_staticmethod_classmethod_property_and_call():
    m, x, y = _model(), rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    _close(grad(m.loss_with_stat)(x, y), _numeric(m.loss_with_stat, [x, y], 0))
    _close(grad(m.loss_with_stat, wrt=1)(x, y), _numeric(m.loss_with_stat, [x, y], 1))
    assert grad(F.Model.scaling)(2.0) == 1.5
    _close(grad(F.Model.class_loss)(x), _numeric(F.Model.class_loss, [x], 0))
    _close(grad(m.loss_norm)(x), _numeric(m.loss_norm, [x], 0))
    g = grad(m.loss_norm, wrt="self")(x)
    _close(g["W"], np.sum(x, axis=0)[:, None] * np.ones((1, 2)) + 2 * m.W)
    _close(grad(m)(x), _numeric(m, [x], 0))
    g = grad(m, wrt="self")(x)
    assert set(g) == {"W", "b", "temperature"}
    _close(g["b"], np.zeros(2))


def test_nested_objects_and_partial_of_a_method():
    m, x = _model(), rng.normal(size=(4, 3))
    outer = F.Outer(m, 1.5)
    _close(grad(outer.loss)(x), _numeric(outer.loss, [x], 0))
    g = grad(outer.loss, wrt="self")(x)
    assert set(g) == {"inner", "c"} and set(g["inner"]) == {"W", "b", "temperature"}
    assert g["c"] == pytest.approx(m.loss(x))
    y = rng.normal(size=(4, 2))
    f = functools.partial(m.loss_with_stat, y=y)
    _close(grad(f)(x), _numeric(lambda x: m.loss_with_stat(x, y), [x], 0))


# --- a function chosen by a condition known when the graph is built ------------------------------

def test_function_chosen_by_an_argument():
    x = rng.normal(size=5)
    g = grad(F.chosen_by_argument)
    for flag in (True, False, 1, 0):
        _close(g(x, flag), _numeric(lambda x: F.chosen_by_argument(x, flag), [x], 0))
    gs = grad(F.chosen_scalar)
    for flag in (True, False):
        assert gs(0.7, flag) == pytest.approx(
            _numeric(lambda a: F.chosen_scalar(a, flag), [0.7], 0), rel=1e-6)


def test_function_chosen_by_a_global_read_at_each_call():
    x = rng.normal(size=5)
    g = grad(F.chosen_by_global)
    try:
        for flag in (True, False, True):
            F.USE_TANH = flag
            _close(g(x), _numeric(F.chosen_by_global, [x], 0))
    finally:
        F.USE_TANH = True


def test_function_chosen_by_a_statement_and_a_literal():
    x = rng.normal(size=5)
    g = grad(F.chosen_by_statement)
    for mode in ("sin", "cube", "relu"):
        _close(g(x, mode), _numeric(lambda x: F.chosen_by_statement(x, mode), [x], 0))
    _close(g(x), _numeric(F.chosen_by_statement, [x], 0))
    _close(grad(F.chosen_by_literal)(x), 1 - np.tanh(x) ** 2)


def test_function_chosen_by_a_computed_value_is_refused():
    with pytest.raises(GradError, match="must\\s+be known when the gradient is built"):
        grad(F.chosen_by_computed_value)(np.ones(3))
    with pytest.raises(GradError, match="differentiated"):
        grad(F.chosen_scalar, wrt=(0, 1))(0.5, 1.0)


def test_check_grad_and_dot_check_with_has_aux():
    from compiler import check_grad
    x, y = rng.normal(size=(5, 3)), rng.normal(size=5)
    w = rng.normal(size=3)
    report = check_grad(F.loss_with_aux, w, x, y, wrt="w", has_aux=True)
    assert report.passed, report
    assert grad(F.scalar_aux, has_aux=True).check(0.3, 1.7).passed


def test_self_layers_indexed_by_a_constant_count():
    m = F.Stack([(rng.normal(size=(3, 3)), rng.normal(size=3)) for _ in range(2)])
    x = rng.normal(size=(2, 3))
    _close(grad(m.loss)(x), _numeric(m.loss, [x], 0))
    g = grad(m.loss, wrt="self")(x)
    assert set(g) == {"layers"} and len(g["layers"]) == 2

    def put(v):
        saved = m.layers
        m.layers = [(v, saved[0][1]), saved[1]]
        try:
            return m.loss(x)
        finally:
            m.layers = saved
    _close(g["layers"][0][0], _numeric(put, [m.layers[0][0]], 0))


def test_a_global_object_s_methods_inside_a_differentiated_function():
    x = rng.normal(size=(4, 3))
    g = grad(F.uses_global_model)
    _close(g(x), _numeric(F.uses_global_model, [x], 0))
    saved = F.GLOBAL_MODEL.W
    try:  # its arrays and floats are read when the gradient runs
        F.GLOBAL_MODEL.W = saved * 3.0
        F.GLOBAL_MODEL.temperature = 0.9
        _close(g(x), _numeric(F.uses_global_model, [x], 0))
    finally:
        F.GLOBAL_MODEL.W = saved
        F.GLOBAL_MODEL.temperature = 0.7


def test_function_chosen_by_an_argument_of_a_method_or_with_containers():
    c, x = F.Chooser(rng.normal(size=3)), rng.normal(size=3)
    g = grad(c.loss)
    gs = grad(c.loss, wrt="self")
    for flag in (True, False):
        _close(g(x, flag), _numeric(lambda x: c.loss(x, flag), [x], 0))
        _close(gs(x, flag)["w"], _numeric(lambda w: F.Chooser(w).loss(x, flag), [c.w], 0))
    params, x2 = {"W": rng.normal(size=(3, 2))}, rng.normal(size=(4, 3))
    gc = grad(F.container_chooser)
    for mode in ("sin", "tanh"):
        _close(gc(params, x2, mode)["W"],
               _numeric(lambda W: F.container_chooser({"W": W}, x2, mode), [params["W"]], 0))


def test_a_global_object_s_layers_and_flag_are_read_at_each_call():
    x = rng.normal(size=(4, 2))
    g = grad(F.uses_global_net)
    _close(g(x), _numeric(F.uses_global_net, [x], 0))
    net = F.GLOBAL_NET
    saved = net.layers
    try:
        net.layers = [(W * 2.0, b) for W, b in saved]
        _close(g(x), _numeric(F.uses_global_net, [x], 0))
        net.use_tanh = False
        _close(g(x), _numeric(F.uses_global_net, [x], 0))
    finally:
        net.layers, net.use_tanh = saved, True


def test_aux_and_tuples_returned_from_branches():
    x = rng.normal(size=3)
    for c in (1.0, -1.0):
        g, aux = grad(F.aux_from_branches, has_aux=True)(x, c)
        want = F.aux_from_branches(x, c)[1]
        assert aux["side"] == want["side"]
        _close(aux["h"], want["h"])
        _close(g, _numeric(lambda x: F.aux_from_branches(x, c)[0], [x], 0))
    for a, b in ((0.5, 1.5), (2.0, -1.0), (-0.5, -2.0)):
        ga, gb = grad(F.pair_from_branches, wrt=(0, 1))(a, b)
        assert ga == pytest.approx(_numeric(F.pair_from_branches, [a, b], 0), rel=1e-6)
        assert gb == pytest.approx(_numeric(F.pair_from_branches, [a, b], 1), rel=1e-6)


def test_returns_of_two_structures_are_refused_plainly():
    with pytest.raises(GradError, match="one structure on every path") as info:
        grad(F.returns_two_structures, has_aux=True)(np.ones(2), 1.0)
    assert "<return value>" not in str(info.value)


def test_an_attribute_that_cannot_be_taken_apart_is_named():
    with pytest.raises(GradError, match="`self` cannot be taken apart"):
        grad(F.HoldsASet().loss)(1.0)


def test_a_float_attribute_s_gradient_is_a_float():
    m, x = _model(), rng.normal(size=(4, 3))
    g = grad(m.loss, wrt="self")(x)
    assert type(g["temperature"]) is float


def test_higher_derivatives_of_forms_and_aux_are_refused_plainly():
    with pytest.raises(GradError, match="has_aux=True is for the function"):
        grad(grad(F.aux_plain_number, has_aux=True), has_aux=True)
    with pytest.raises(GradError, match="higher derivative"):
        grad(grad(F.aux_plain_number, has_aux=True))
    with pytest.raises(GradError, match="higher derivative"):
        grad(grad(functools.partial(F.scaled, scale=2.0)))
