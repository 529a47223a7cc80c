"""`runtime.autograd`: PyTorch's `torch.autograd` names — `grad`, `backward` and `Function`."""
from __future__ import annotations

from .engine import backward, grad
from .function import Function, FunctionCtx
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["grad", "backward", "Function", "FunctionCtx", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled"]
