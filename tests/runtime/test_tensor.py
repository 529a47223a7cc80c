"""Tensor: construction, attributes, conversions, printing, comparisons, indexing, leaves and grads."""
import math
import warnings

import numpy as np
import pytest

import runtime as rt
from runtime import Tensor


def test_python_numbers_and_lists_become_float64():
    assert rt.tensor(3).dtype == np.float64 and rt.tensor(3).item() == 3.0
    assert rt.tensor([1, 2]).dtype == np.float64
    assert rt.tensor(2.5).shape == () and rt.tensor(2.5).ndim == 0


def test_arrays_keep_their_dtype_and_booleans_stay_boolean():
    assert rt.tensor(np.arange(3)).dtype == np.int64
    assert rt.tensor(np.ones(2, np.float32)).dtype == np.float32
    assert rt.tensor([True, False]).dtype == bool
    assert rt.tensor([1, 2], dtype=np.float32).dtype == np.float32


def test_a_float64_scalar_is_held_as_a_python_float():
    assert rt.tensor(np.float64(2.0))._data.__class__ is float
    assert (rt.tensor([1.0, 2.0]).sum())._data.__class__ is float


def test_tensor_copies_but_Tensor_wraps_without_copying():
    a = np.array([1.0, 2.0])
    assert not np.shares_memory(rt.tensor(a).numpy(), a)
    assert np.shares_memory(Tensor(a).numpy(), a)


def test_only_floating_tensors_can_require_grad():
    with pytest.raises(RuntimeError, match="Only Tensors of floating point"):
        rt.tensor(np.arange(3), requires_grad=True)


def test_repr_matches_pytorch_style():
    assert repr(rt.tensor(3.0, requires_grad=True)) == "tensor(3., requires_grad=True)"
    assert repr(rt.tensor([1.0, 2.5])) == "tensor([1.0000, 2.5000])"
    assert repr(rt.tensor(2 / 3)) == "tensor(0.6667)"
    assert repr(rt.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    a = rt.tensor(2.0, requires_grad=True)
    assert repr(a * 3) == "tensor(6., grad_fn=<MulBackward>)"
    assert repr(rt.tensor(np.ones(2, np.float32))) == "tensor([1., 1.], dtype=float32)"
    assert str(rt.tensor([[1.0, 2.0], [3.0, 4.0]])) == "tensor([[1., 2.],\n        [3., 4.]])"


def test_numpy_style_attributes():
    x = rt.tensor(np.arange(6.0).reshape(2, 3))
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and x.numel() == 6 and x.dim() == 2
    assert x.T.shape == (3, 2) and x.T.tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    assert len(x) == 2 and [r.tolist() for r in x] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert np.asarray(x).shape == (2, 3)


def test_item_and_conversions():
    assert rt.tensor([[4.0]]).item() == 4.0
    with pytest.raises(RuntimeError, match="2 elements cannot be converted to Scalar"):
        rt.tensor([1.0, 2.0]).item()
    assert int(rt.tensor(3.7)) == 3 and bool(rt.tensor(0.0)) is False
    assert f"{rt.tensor(2 / 3):.3f}" == "0.667"
    assert [10, 20, 30][rt.tensor(np.array(1))] == 20
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(rt.tensor([1.0, 2.0]))
    with pytest.raises(TypeError):
        len(rt.tensor(1.0))


def test_numpy_and_array_refuse_a_tensor_that_requires_grad():
    x = rt.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Use tensor.detach\(\).numpy\(\) instead"):
        x.numpy()
    with pytest.raises(RuntimeError, match="detach"):
        np.asarray(x)
    assert x.detach().numpy().tolist() == [1.0]


def test_math_functions_convert_through_float_and_warn_that_the_gradient_is_dropped():
    t = rt.tensor(0.5, requires_grad=True)
    with pytest.warns(UserWarning, match="requires_grad=True to a scalar"):
        v = math.sin(t)
    assert v == math.sin(0.5) and isinstance(v, float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.sin(rt.tensor(0.5)) == math.sin(0.5)       # no gradient to lose: no warning
        assert math.sin(t.detach()) == math.sin(0.5)
        assert t.item() == 0.5


def test_comparisons_return_plain_bools_and_arrays():
    x = rt.tensor(2.0, requires_grad=True)
    assert (x > 1) is True and (x == 2.0) is True
    m = rt.tensor([1.0, 3.0]) > rt.tensor([2.0, 2.0])
    assert isinstance(m, np.ndarray) and m.tolist() == [False, True]


def test_tensors_are_hashable_by_identity():
    a, b = rt.tensor(1.0), rt.tensor(1.0)
    assert len({a, b}) == 2 and {a: 1}[a] == 1


def test_leaf_and_non_leaf_requires_grad_rules():
    a = rt.tensor(2.0, requires_grad=True)
    c = a * 2
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        c.requires_grad = True
    with pytest.raises(RuntimeError, match="var_no_grad = var.detach"):
        c.requires_grad = False
    d = c.detach()
    d.requires_grad = True          # a detached result is a leaf
    assert d.is_leaf and d.requires_grad and d.grad_fn is None


def test_grad_of_a_non_leaf_is_none_with_a_warning_unless_retained():
    a = rt.tensor(2.0, requires_grad=True)
    h = a * 3
    k = a * 4
    k.retain_grad()
    (h * k).backward()
    with pytest.warns(UserWarning, match="not a leaf"):
        assert h.grad is None
    assert k.retains_grad and k.grad.item() == 6.0
    assert a.grad.item() == 24.0 * 2


def test_grad_can_be_set_and_cleared():
    a = rt.tensor([1.0, 2.0], requires_grad=True)
    a.grad = np.array([0.5, 0.5])
    (a * 2).sum().backward()
    assert a.grad.tolist() == [2.5, 2.5]
    a.grad = None
    assert a.grad is None
    with pytest.raises(RuntimeError, match="different size"):
        a.grad = rt.tensor([1.0])


def test_detach_shares_data_and_version_counter():
    a = rt.tensor([1.0, 2.0], requires_grad=True)
    y = a.exp()
    d = y.detach()
    d[0] = 0.0                      # writes through to y's data ...
    assert y.detach().tolist()[0] == 0.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()          # ... which ExpBackward had saved


def test_data_property_is_a_detached_alias_and_can_be_assigned():
    w = rt.tensor([1.0, 2.0], requires_grad=True)
    w.data -= 0.5                   # PyTorch's old-style update
    assert w.detach().tolist() == [0.5, 1.5] and w.requires_grad and w.is_leaf
    w.data = np.array([3.0, 4.0])
    assert w.detach().tolist() == [3.0, 4.0]


def test_indexing_basic_negative_array_and_mask():
    x = rt.tensor(np.arange(12.0).reshape(3, 4))
    assert x[1].tolist() == [4.0, 5.0, 6.0, 7.0]
    assert x[-1, -1].item() == 11.0
    assert x[:, 1:3].shape == (3, 2)
    assert x[[0, 0, 2]].shape == (3, 4)
    assert x[x > 9].tolist() == [10.0, 11.0]
    assert x[rt.tensor(np.array([2, 0]))][:, 0].tolist() == [8.0, 0.0]


def test_methods_accept_pytorch_argument_names():
    x = rt.tensor(np.arange(6.0).reshape(2, 3))
    assert x.sum(dim=1, keepdim=True).shape == (2, 1)
    assert x.view(3, 2).shape == (3, 2) and x.reshape((6,)).shape == (6,)
    assert x.permute(1, 0).shape == (3, 2) and x.unsqueeze(0).shape == (1, 2, 3)
    assert x.clamp(min=1.0, max=4.0).tolist() == [[1.0, 1.0, 2.0], [3.0, 4.0, 4.0]]
