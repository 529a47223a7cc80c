"""A source-to-source reverse-mode differentiation compiler for Python.

    from compiler import grad

    @grad(wrt=("x", "y", "z"))
    def f(x, y, z):
        q = x + y
        return q * z

    f(-2.0, 5.0, -4.0)   # (-4.0, -4.0, 3.0)
    print(f.source)      # the generated gradient code
"""
from .api import check_grad, grad, value_and_grad, GradCheckReport
from .custom import register
from .errors import GradError

__all__ = ["grad", "value_and_grad", "check_grad", "register", "GradCheckReport", "GradError"]
