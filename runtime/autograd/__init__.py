"""`runtime.autograd`: PyTorch's `torch.autograd` names — `grad`, `backward`, `Function`, the grad-mode
switches, `gradcheck` and `gradgradcheck` (checks.py), and `functional` (jacobian, hessian, vjp, jvp, vhp,
hvp: functional.py)."""
from __future__ import annotations

from ..engine import backward, grad
from ..function import Function, FunctionCtx
from ..grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from . import functional
from .checks import GradcheckError, gradcheck, gradgradcheck

__all__ = ["grad", "backward", "Function", "FunctionCtx", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "functional", "gradcheck", "gradgradcheck", "GradcheckError"]
