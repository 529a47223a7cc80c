"""A dynamic tape: PyTorch-style autograd on NumPy, recorded at every call.

    import runtime as rt
    x = rt.tensor(3.0, requires_grad=True)
    y = rt.log(x ** 2) + 1          # or np.log(x ** 2) + 1: NumPy's functions record too
    y.backward()
    x.grad                          # tensor(0.6667)

Modules: tensor.py (the Tensor), ops.py (the primitives: their backward code generated from the derivative
table the compiler uses too, compiler/rules.py), kernels.py (the primitives' forward computations),
functional.py (the differentiable functions and the recorder), graph.py (nodes, saved values and their
checks), engine.py (backward), views.py (which tensors are views), inplace.py (in-place operations),
function.py (custom Functions), numpy_api.py (NumPy's own functions on Tensors), grad_mode.py (no_grad),
hooks.py (register_hook, register_post_accumulate_grad_hook), gradcheck.py (central differences, NumPy only),
drawing.py (runtime.draw(out): a picture of the recorded graph, values and gradients on its wires),
and the package autograd/ (grad, backward, Function, gradcheck and gradgradcheck, and `functional`:
jacobian, hessian, vjp, jvp, vhp, hvp).
"""
# Importing these modules gives Tensor its operations (tensor.py says which module gives which).
from .tensor import Tensor, tensor, as_tensor  # noqa: I001
from .grad_mode import no_grad, enable_grad, set_grad_enabled, is_grad_enabled
from . import autograd, functional, inplace, numpy_api  # noqa: F401
from .functional import (  # noqa: F401  (the public differentiable functions)
    abs, absolute, acos, add, amax, amin, arccos, arcsin, arctan, arctan2, asin, atan, atan2, broadcast_to,
    clamp, clip, clone,
    concatenate, cos, cosh, div, divide, dot, exp, expand_dims, expm1, flatten, hypot, log, log10, log1p,
    log2, logaddexp, matmul, max, maximum, mean, min, minimum, mul, multiply, neg, negative, outer, pow,
    power, prod, reshape, sign, sin, sinh, sqrt, square, squeeze, stack, sub, subtract, sum, swapaxes, tan,
    tanh, transpose, true_divide, unsqueeze, where,
)

from .drawing import draw  # noqa: F401  (pictures of the tape: runtime.draw(out))
from .functional import LIBRARY as _LIBRARY

globals().update(_LIBRARY)      # the library's functions (compiler/library/): runtime.det, runtime.erf...

__all__ = ["Tensor", "tensor", "as_tensor", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "autograd", "draw"]
