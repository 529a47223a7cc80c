"""Containers as data (issue 12): arguments in dicts, lists, tuples, namedtuples and dataclasses,
gradients with the same structure, checked against central differences leaf by leaf."""
import numpy as np
import pytest

import container_funcs as C
from compiler import GradError, grad, value_and_grad
from runtime.gradcheck import compare, numerical_grad

rng = np.random.default_rng(12)


def _leaf_check(f, args, k, get, put):
    """d f / d (one leaf of argument k), where get/put read and replace that leaf."""
    def with_leaf(v):
        a = list(args)
        a[k] = put(v)
        return f(*a)
    want = numerical_grad(with_leaf, [get(args[k])], 0)
    return want


def _close(got, want):
    err, rel, ok = compare(got, want, atol=1e-7, rtol=1e-5)
    assert ok, f"{err} {rel}\n{got}\n{want}"


def test_dict_of_layers():
    params = {"layers": [(rng.normal(size=(3, 4)), rng.normal(size=4)),
                         (rng.normal(size=(4, 2)), rng.normal(size=2))], "scale": 2.0}
    x = rng.normal(size=(5, 3))
    g = grad(C.mlp)(params, x)
    assert set(g) == {"layers", "scale"} and isinstance(g["layers"], list)
    assert isinstance(g["layers"][0], tuple) and g["layers"][0][0].shape == (3, 4)
    for li in range(2):
        for j in range(2):
            def put(v, li=li, j=j):
                layers = [list(p) for p in params["layers"]]
                layers[li][j] = v
                return {"layers": [tuple(p) for p in layers], "scale": params["scale"]}
            want = _leaf_check(C.mlp, [params, x], 0, lambda p: p["layers"][li][j], put)
            _close(g["layers"][li][j], want)
    want = _leaf_check(C.mlp, [params, x], 0, lambda p: p["scale"],
                       lambda v: {"layers": params["layers"], "scale": v})
    _close(g["scale"], want)


def test_range_len_loop_over_a_list_is_unrolled():
    layers = [(rng.normal(size=(3, 3)), rng.normal(size=3)) for _ in range(3)]
    x = rng.normal(size=(2, 3))
    g = grad(C.mlp_indexed)(layers, x)
    def put(v):
        new = list(layers)
        new[1] = (v, layers[1][1])
        return new
    _close(g[1][0], _leaf_check(C.mlp_indexed, [layers, x], 0, lambda ls: ls[1][0], put))


def test_items_keys_and_the_gradients_keys():
    params = {"a": rng.normal(size=3), "b": 1.5}
    g = grad(C.with_items)(params)
    assert list(g) == ["a", "b"]
    _close(g["a"], 2 * params["a"])
    assert g["b"] == pytest.approx(3.0)


def test_namedtuple_and_dataclass_keep_their_types():
    layer = C.Layer(rng.normal(size=(3, 2)), rng.normal(size=2))
    x = rng.normal(size=(4, 3))
    g = grad(C.namedtuple_layer)(layer, x)
    assert isinstance(g, C.Layer)
    _close(g.W, _leaf_check(C.namedtuple_layer, [layer, x], 0, lambda p: p.W,
                            lambda v: C.Layer(v, layer.b)))
    model = C.Linear(np.array([1.0, 2.0]), 0.5)
    gm = grad(C.dataclass_model)(model, 0.3)
    assert isinstance(gm, C.Linear)
    _close(gm.w, _leaf_check(C.dataclass_model, [model, 0.3], 0, lambda m: m.w,
                             lambda v: C.Linear(v, model.b)))
    assert gm.b == pytest.approx(2 * np.sum(model.w * 0.3 + 0.5))


def test_configuration_dict_is_not_differentiated():
    params = {"w": np.array([1.0, 2.0])}
    g = grad(C.config_and_params)(params, {"scale": 3.0})
    _close(g["w"], 3.0 * 2 * params["w"])
    g3 = grad(C.config_and_params)(params, {"scale": 3.0, "power": 3.0})
    _close(g3["w"], 3.0 * 3 * params["w"] ** 2)


def test_dict_literals_and_dict_calls():
    gx, gy = grad(C.builds_a_dict, wrt=(0, 1))(1.5, 2.0)
    assert gx == pytest.approx(2 * 2.0) and gy == pytest.approx(2 * 1.5 + 2 * 2.0)


def test_list_of_arrays_and_enumerate_zip():
    ws = [rng.normal(size=3), rng.normal(size=3)]
    g = grad(C.sum_list)(ws, 2.0)
    assert isinstance(g, list) and len(g) == 2
    _close(g[0], np.full(3, 2.0))
    bs = [rng.normal(size=3), rng.normal(size=3)]
    gw, gb = grad(C.enumerate_zip, wrt=(0, 1))(ws, bs)
    _close(gw[1], 2.0 * bs[1])
    _close(gb[0], ws[0])


def test_strings_and_none_are_carried_and_get_none():
    params = {"w": np.array([1.0, -2.0]), "kind": "square", "extra": None}
    g = grad(C.strings_and_none_leaves)(params)
    assert g["kind"] is None and g["extra"] is None
    _close(g["w"], 2 * params["w"])
    g2 = grad(C.strings_and_none_leaves)({"w": np.array([1.0, -2.0]), "kind": "sum", "extra": None})
    _close(g2["w"], np.ones(2))


def test_int_leaf_in_a_differentiated_container_is_refused():
    with pytest.raises(GradError, match="integer"):
        grad(C.with_items)({"a": np.ones(2), "b": 1})


def test_value_and_grad_with_containers_and_arguments_untouched():
    params = {"layers": [(rng.normal(size=(3, 4)), rng.normal(size=4))], "scale": 1.0}
    before = params["layers"][0][0].copy()
    x = rng.normal(size=(2, 3))
    value, g = value_and_grad(C.mlp)(params, x)
    assert value == pytest.approx(C.mlp(params, x))
    np.testing.assert_array_equal(params["layers"][0][0], before)
    assert g["layers"][0][0].shape == (3, 4)


def test_a_function_written_for_containers_refuses_plain_values_clearly():
    g = grad(C.mlp)
    with pytest.raises(GradError):
        g(np.ones(3), np.ones((2, 3)))


def _check_wrt(f, args, k):
    want = numerical_grad(f, list(args), k)
    got = grad(f, wrt=k)(*args)
    _close(got, want)


def test_generator_expressions_and_list_comprehensions():
    ws = [rng.normal(size=2), rng.normal(size=2)]
    x = rng.normal(size=2)
    gws, gx = grad(C.generator_sum, wrt=(0, 1))(ws, x)
    _close(gws[0], 2 * ws[0] + x)
    _close(gx, ws[0] + ws[1])


def test_lambdas_inline_assigned_and_passed():
    _check_wrt(C.lambdas, [0.7], 0)
    _check_wrt(C.rows_comprehension, [rng.normal(size=2), rng.normal(size=(3, 2))], 0)


def test_dict_comprehension_and_a_runtime_range():
    g = grad(C.dict_comprehension)({"a": np.array([1.0, 2.0]), "b": 3.0})
    _close(g["a"], [2.0, 4.0])
    assert g["b"] == pytest.approx(6.0)
    _check_wrt(C.comprehension_over_a_runtime_range, [0.7, 4], 0)
    _check_wrt(C.comprehension_over_a_runtime_range, [0.7, 6], 0)  # another n, the same code


def test_source_of_a_function_built_for_containers():
    g = grad(C.mlp)
    assert "first called" in g.source
    params = {"layers": [(rng.normal(size=(3, 4)), rng.normal(size=4))], "scale": 1.0}
    g(params, rng.normal(size=(2, 3)))
    assert "params_layers_0_0" in g.source


def test_recursion_decided_by_ints():
    assert grad(C.two_powers)(2.0) == pytest.approx(3 * 4.0 + 2 * 2.0)
    g = grad(C.power)
    assert g(2.0, 5) == pytest.approx(5 * 16.0)   # a version per value of n
    assert g(2.0, 3) == pytest.approx(3 * 4.0)


def test_enumerate_and_zip_over_array_rows():
    X = rng.normal(size=(3, 2))
    _check_wrt(C.rows_enumerated, [rng.normal(size=2), X, rng.normal(size=(3, 2))], 0)


def test_writing_into_an_argument_container_is_refused_and_local_copies_work():
    with pytest.raises(GradError, match="caller passed as `params`"):
        grad(C.writes_into_argument_dict)({"W": np.ones(2)}, np.ones(2))
    with pytest.raises(GradError, match="caller passed as `ws`"):
        grad(C.appends_to_argument_list)([np.ones(2)], np.ones(2))
    params, ws, x = {"W": np.array([1.0, 2.0])}, [np.array([0.5, 0.5])], np.array([3.0, -1.0])
    gp, gw, gx = grad(C.local_copies_are_fine, wrt=(0, 1, 2))(params, ws, x)
    _close(gp["W"], 2.0 * x)
    _close(gw[0], np.full(2, 2.0))
    _close(gx, 2.0 * params["W"] + 2.0 + 3.0)
    assert params["W"][0] == 1.0 and len(ws) == 1


def test_continue_in_a_loop_over_a_list_and_break_of_a_loop_inside_it():
    ws = [np.array([1.0, 2.0]), np.array([20.0, 0.0]), np.array([0.5, -1.0])]
    _check_wrt(C.continue_in_unrolled_loops, [np.array([0.3, 0.7]), ws], 0)
