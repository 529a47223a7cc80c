"""`runtime.autograd.functional`: derivatives of a whole function at a point, as PyTorch's
torch.autograd.functional: vjp, jvp, jacobian, hessian, vhp, hvp.

Each takes `func` and `inputs` (a Tensor or a tuple of Tensors), runs func once, with grad mode on, on new
tensors that hold the inputs' values and require grad, and differentiates what it returns with the
engine's `grad`. The results follow PyTorch's conventions:

- Nesting: a result per input is a Tensor when `inputs` was a Tensor and a tuple when it was a tuple;
  likewise per output. jacobian(...)[i][j] has shape outputs[i].shape + inputs[j].shape, and
  hessian(...)[i][j] inputs[i].shape + inputs[j].shape. `v` mirrors what it multiplies.
- Independence: where an output does not depend on an input the result is zeros; with strict=True it is
  a RuntimeError saying which (strict also refuses an output that does not require grad, and, with
  create_graph=True, a result that does not depend on the inputs).
- create_graph=False returns results (and func's outputs) detached from every graph. create_graph=True
  records them, so they can be differentiated again, through to the caller's inputs if those required
  grad (each input is then passed to func as a recorded copy, not detached).

The tape is reverse mode only, so jvp and hvp use the double-backward trick, as PyTorch does: the backward
pass u -> J^T u, recorded with create_graph=True from a placeholder u, is linear in u; differentiating
<J^T u, v> with respect to u gives J v whatever u's value. jacobian's strategy="forward-mode" builds the
Jacobian column by column that way (PyTorch needs vectorize=True for it; here both work). vectorize is
accepted for PyTorch's signature and changes nothing: there is no vmap, so rows are one backward pass
each either way.
"""
from __future__ import annotations

import numpy as np

from ..engine import grad as _engine_grad
from ..functional import reshape, stack
from ..grad_mode import enable_grad
from ..tensor import Tensor, make, normalize

OUTPUTS = "outputs of the user-provided function"

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), v^T J): the outputs and the vector-Jacobian product, by one backward pass.

    v holds one Tensor per output, shaped like it; it may be None when func returns a single one-element
    Tensor. The product has one Tensor per input.
    """
    with enable_grad():
        inputs_tuple, inputs = _tensors(inputs, "inputs", "vjp")
        inputs = _fresh(inputs, create_graph, True)
        outputs_tuple, outputs = _tensors(func(*inputs), OUTPUTS, "vjp")
        _strict_outputs(outputs, strict)
        if v is None:
            _one_element(outputs, "the user-provided function returns")
        else:
            v = _fresh(_tensors(v, "v", "vjp")[1], create_graph, False)
            _check_v(v, outputs, outputs_tuple)
    product = _grad(outputs, inputs, v, create_graph)
    product = _zeros_for_none(product, inputs, strict, create_graph, _INDEPENDENT, "jacobian")
    return _finish(outputs, outputs_tuple, create_graph), _finish(product, inputs_tuple, create_graph)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), J v): the outputs and the Jacobian-vector product, by the double-backward trick.

    v holds one Tensor per input, shaped like it; it may be None when the input is a single one-element
    Tensor. The product has one Tensor per output.
    """
    with enable_grad():
        inputs_tuple, inputs = _tensors(inputs, "inputs", "jvp")
        inputs = _fresh(inputs, create_graph, True)
        if v is None:
            _one_element(inputs, "the input to the user-provided function is")
        else:
            v = _fresh(_tensors(v, "v", "jvp")[1], create_graph, False)
            _check_v(v, inputs, inputs_tuple)
        outputs_tuple, outputs = _tensors(func(*inputs), OUTPUTS, "jvp")
        _strict_outputs(outputs, strict)
        placeholders, pulled = _pullback(outputs, inputs, strict)
    product = _grad(pulled, placeholders, v, create_graph)
    product = _zeros_for_none(product, outputs, strict, create_graph, _TRICK_INDEPENDENT, "jacobian")
    return _finish(outputs, outputs_tuple, create_graph), _finish(product, outputs_tuple, create_graph)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of func at inputs: d outputs[i] / d inputs[j] of shape outputs[i].shape +
    inputs[j].shape, nested as PyTorch's (a Tensor for one input and one output, a tuple over inputs or
    over outputs, a tuple of tuples for several of each).

    strategy="reverse-mode" (the default): one backward pass per output entry. "forward-mode": one
    Jacobian-vector product per input entry (cheaper when there are fewer input entries than output ones).
    """
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f'strategy must be "reverse-mode" or "forward-mode", not {strategy!r}')
    with enable_grad():
        inputs_tuple, inputs = _tensors(inputs, "inputs", "jacobian")
        inputs = _fresh(inputs, create_graph, True)
        outputs_tuple, outputs = _tensors(func(*inputs), OUTPUTS, "jacobian")
        _strict_outputs(outputs, strict)
        if strategy == "reverse-mode":
            blocks = _jacobian_by_rows(outputs, inputs, create_graph, strict)
        else:
            blocks = _jacobian_by_columns(outputs, inputs, create_graph, strict)
    return _finish(blocks, (outputs_tuple, inputs_tuple), create_graph)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a function with a single one-element output: the Jacobian of its gradient, with
    blocks [i][j] of shape inputs[i].shape + inputs[j].shape (a Tensor for a single input)."""
    inputs_tuple, inputs = _tensors(inputs, "inputs", "hessian")

    def scalar(*xs):
        out = func(*xs)
        out_tuple, outs = _tensors(out, OUTPUTS, "hessian")
        _strict_outputs(outs, strict)
        if out_tuple:
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should contain a "
                               "single element")
        return out.reshape(())

    def gradient(*xs):
        g = jacobian(scalar, xs, create_graph=True)
        _strict_jacobian(g, strict)
        return g

    blocks = jacobian(gradient, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                      strategy=outer_jacobian_strategy)
    return _unpack(blocks, (inputs_tuple, inputs_tuple))


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), v^T H): the output and the vector-Hessian product of a function with a single
    one-element output, by two backward passes."""
    with enable_grad():
        inputs_tuple, inputs, v, outputs_tuple, outputs = _second_order_setup(func, inputs, v, create_graph,
                                                                              strict, "vhp")
        gradient = _grad(outputs, inputs, None, True)
        _strict_jacobian(gradient, strict)
    product = _grad(gradient, inputs, v, create_graph)
    product = _zeros_for_none(product, inputs, strict, create_graph, _JACOBIAN_INDEPENDENT, "hessian")
    return _finish(outputs, outputs_tuple, create_graph), _finish(product, inputs_tuple, create_graph)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), H v): the output and the Hessian-vector product of a function with a single
    one-element output, by the double-backward trick on its gradient. For a function with continuous
    second derivatives H is symmetric and vhp gives the same product more cheaply."""
    with enable_grad():
        inputs_tuple, inputs, v, outputs_tuple, outputs = _second_order_setup(func, inputs, v, create_graph,
                                                                              strict, "hvp")
        gradient = _grad(outputs, inputs, None, True)
        _strict_jacobian(gradient, strict)
        placeholders, pulled = _pullback(gradient, inputs, strict, like=inputs)
    product = _grad(pulled, placeholders, v, create_graph)
    product = _zeros_for_none(product, inputs, strict, create_graph, _HESSIAN_TRICK_INDEPENDENT, "hessian")
    return _finish(outputs, outputs_tuple, create_graph), _finish(product, inputs_tuple, create_graph)


# ---- the pieces ---------------------------------------------------------------------------------------

def _tensors(value, what, fn):
    """(whether value was a tuple, value as a tuple of Tensors); anything else is refused, naming it."""
    is_tuple = isinstance(value, tuple)
    items = value if is_tuple else (value,)
    for k, item in enumerate(items):
        if not isinstance(item, Tensor):
            which = f"the value at index {k}" if is_tuple else f"the given {what}"
            raise TypeError(f"The {what} given to {fn} must be either a Tensor or a tuple of Tensors but "
                            f"{which} has type {type(item).__name__}.")
    return is_tuple, items


def _fresh(tensors, create_graph, requires_grad):
    """New tensors for the inputs (or v) that func sees: with create_graph, one that requires grad is a
    recorded copy, so results stay differentiable with respect to the caller's tensor; otherwise a
    detached leaf (sharing the data), that requires grad when asked."""
    out = []
    for t in tensors:
        if create_graph and t.requires_grad:
            out.append(t.clone())
        else:
            out.append(t.detach().requires_grad_(requires_grad))
    return tuple(out)


def _one_element(tensors, what):
    if len(tensors) != 1 or tensors[0].numel() != 1:
        raise RuntimeError(f"The vector v can only be None if {what} a single Tensor with a single element.")


def _check_v(v, like, like_tuple):
    if len(v) != len(like):
        raise RuntimeError(f"v is a tuple of invalid length: should be {len(like)} but got {len(v)}.")
    for k, (vk, ref) in enumerate(zip(v, like)):
        if vk.shape != ref.shape:
            where = f"Entry {k} in v" if like_tuple else "v"
            raise RuntimeError(f"{where} has invalid size: should be {ref.shape} but got {vk.shape}.")


def _strict_outputs(outputs, strict):
    if strict:
        for k, out in enumerate(outputs):
            if not out.requires_grad:
                raise RuntimeError(f"Output {k} of the user-provided function does not require gradients. "
                                   f"The outputs must be computed in a differentiable manner from the input "
                                   f"when running in strict mode.")


def _strict_jacobian(gradient, strict):
    """strict: a gradient that does not depend on the inputs (a linear function) has a zero Hessian."""
    if strict:
        for k, g in enumerate(gradient):
            if g is None:
                raise RuntimeError(f"The output of the user-provided function is independent of input {k}. "
                                   f"This is not allowed in strict mode.")
            if not g.requires_grad:
                raise RuntimeError(f"While computing the hessian, found that the jacobian of the "
                                   f"user-provided function with respect to input {k} is independent of the "
                                   f"input. This is not allowed in strict mode. You should ensure that your "
                                   f"function is twice differentiable and that the jacobian depends on the "
                                   f"inputs (this would be violated by a linear function for example).")


def _second_order_setup(func, inputs, v, create_graph, strict, fn):
    inputs_tuple, inputs = _tensors(inputs, "inputs", fn)
    inputs = _fresh(inputs, create_graph, True)
    if v is None:
        _one_element(inputs, "the input to the user-provided function is")
    else:
        v = _fresh(_tensors(v, "v", fn)[1], create_graph, False)
        _check_v(v, inputs, inputs_tuple)
    outputs_tuple, outputs = _tensors(func(*inputs), OUTPUTS, fn)
    _strict_outputs(outputs, strict)
    if outputs_tuple:
        raise RuntimeError(f"The function given to {fn} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn} should contain a single "
                           f"element")
    return inputs_tuple, inputs, v, outputs_tuple, outputs


def _grad(outputs, inputs, grad_outputs, create_graph, retain_graph=None):
    """engine.grad of the outputs that require grad (None for every input when none does), with None for
    an input they do not depend on."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    kept = [(out, g) for out, g in zip(outputs, grad_outputs) if out is not None and out.requires_grad]
    if not kept:
        return (None,) * len(inputs)
    return _engine_grad([out for out, _ in kept], inputs, [g for _, g in kept], retain_graph=retain_graph,
                        create_graph=create_graph, allow_unused=True)


def _pullback(outputs, inputs, strict, like=None):
    """(placeholders u, J^T u) with the backward pass recorded, for the double-backward trick. u is shaped
    like the outputs, or like `like` where an output may be None (hvp's gradient)."""
    placeholders = tuple(_zeros_like(t).requires_grad_(True) for t in (outputs if like is None else like))
    pulled = _grad(outputs, inputs, placeholders, True)
    if strict:
        for k, p in enumerate(pulled):
            if p is None:
                raise RuntimeError(f"The output of the user-provided function is independent of input {k}. "
                                   f"This is not allowed in strict mode.")
            if not p.requires_grad:
                raise RuntimeError(f"The gradient with respect to input {k} is independent of the inputs of "
                                   f"the user-provided function. This is not allowed in strict mode.")
    return placeholders, pulled


# What a None (no dependence) means at each step, for strict mode's errors.
_INDEPENDENT = "The output of the user-provided function is independent of input {k}."
_TRICK_INDEPENDENT = ("The gradient with respect to the input is independent of entry {k} in the "
                      "grad_outputs when using the double backward trick to compute forward mode gradients.")
_JACOBIAN_INDEPENDENT = "The jacobian of the user-provided function is independent of input {k}."
_HESSIAN_TRICK_INDEPENDENT = ("The hessian of the user-provided function is independent of entry {k} in the "
                              "grad_jacobian, which the double backward trick needs.")


def _zeros_for_none(grads, like, strict, create_graph, independent, derivative):
    """Zeros shaped like like[k] where grads[k] is None; strict mode raises there instead, and, with
    create_graph, also where a result does not depend on the inputs (then the `derivative` computed, the
    jacobian or the hessian, is constant)."""
    out = []
    for k, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(independent.format(k=k) + " This is not allowed in strict mode.")
            g = _zeros_like(like[k])
        elif strict and create_graph and not g.requires_grad:
            raise RuntimeError(f"The {derivative} of the user-provided function is independent of input {k}. "
                               f"This is not allowed in strict mode when create_graph=True.")
        out.append(g)
    return tuple(out)


def _zeros_like(t):
    return make(normalize(np.zeros(t.shape, dtype=t.dtype)), None)


def _one_hot(k, like):
    e = np.zeros(like.numel(), dtype=like.dtype)
    e[k] = 1.0
    return e.reshape(like.shape)


def _jacobian_by_rows(outputs, inputs, create_graph, strict):
    """One backward pass per entry k of each output: row k of every block d output / d input."""
    blocks = []
    for i, out in enumerate(outputs):
        rows = [[] for _ in inputs]
        for k in range(out.numel()):
            grads = _grad((out,), inputs, (_one_hot(k, out),), create_graph, retain_graph=True)
            for j, g in enumerate(grads):
                rows[j].append(_dependence(g, i, j, inputs[j], strict, create_graph))
        blocks.append(tuple(_join(rows[j], out.shape, inputs[j], create_graph, 0)
                            for j in range(len(inputs))))
    return tuple(blocks)


def _jacobian_by_columns(outputs, inputs, create_graph, strict):
    """One Jacobian-vector product (double-backward trick) per entry k of each input: column k of every
    block d output / d input."""
    placeholders, pulled = _pullback(outputs, inputs, False)
    columns = [[[] for _ in inputs] for _ in outputs]
    for j, x in enumerate(inputs):
        for k in range(x.numel()):
            if pulled[j] is None or not pulled[j].requires_grad:
                grads = (None,) * len(outputs)
            else:
                grads = _engine_grad(pulled[j], placeholders, _one_hot(k, x), retain_graph=True,
                                     create_graph=create_graph, allow_unused=True)
            for i, g in enumerate(grads):
                columns[i][j].append(_dependence(g, i, j, outputs[i], strict, create_graph))
    return tuple(tuple(_join(columns[i][j], inputs[j].shape, outputs[i], create_graph, -1)
                       for j in range(len(inputs))) for i in range(len(outputs)))


def _dependence(g, i, j, like, strict, create_graph):
    """A row or column of block (i, j), or zeros shaped like `like` where output i does not depend on
    input j (strict mode: an error)."""
    if g is None:
        if strict:
            raise RuntimeError(f"Output {i} of the user-provided function is independent of input {j}. This "
                               f"is not allowed in strict mode.")
        return _zeros_like(like)
    if strict and create_graph and not g.requires_grad:
        raise RuntimeError(f"The jacobian of output {i} of the user-provided function with respect to input "
                           f"{j} is independent of the inputs. This is not allowed in strict mode when "
                           f"create_graph=True.")
    return g


def _join(parts, shape, other, create_graph, axis):
    """Rows (axis 0) or columns (axis -1) of one block, each shaped like `other`, stacked along the axis
    they index, as one Tensor of shape shape + other.shape (rows) or other.shape + shape (columns)."""
    full = tuple(shape) + other.shape if axis == 0 else other.shape + tuple(shape)
    if not parts:
        return make(normalize(np.zeros(full, dtype=other.dtype)), None)
    if create_graph:
        return reshape(stack(parts, axis=axis), full)
    return make(normalize(np.stack([np.asarray(p._data) for p in parts], axis=axis).reshape(full)), None)


def _detached(result):
    if isinstance(result, tuple):
        return tuple(_detached(r) for r in result)
    return result.detach()


def _unpack(result, as_tuple):
    """PyTorch's nesting: an element instead of a 1-tuple where the user gave a Tensor, not a tuple.
    `as_tuple`: a bool, or (outer, inner) for the tuples of tuples of jacobian and hessian."""
    if isinstance(as_tuple, bool):
        return result if as_tuple else result[0]
    outer, inner = as_tuple
    if not inner:
        result = tuple(r[0] for r in result)
    return result if outer else result[0]


def _finish(result, as_tuple, create_graph):
    return _unpack(result if create_graph else _detached(result), as_tuple)
