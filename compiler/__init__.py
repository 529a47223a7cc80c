"""A source-to-source reverse-mode differentiation compiler for Python.

    from compiler import grad

    @grad(wrt=("x", "y", "z"))
    def f(x, y, z):
        q = x + y
        return q * z

    f(-2.0, 5.0, -4.0)   # (-4.0, -4.0, 3.0)
    print(f.source)      # the generated gradient code
"""
from .errors import GradError
# Imported now (it is light: SymPy is imported when a formula is asked for), so that `formula` names
# the function, not the submodule of the same name, however the submodule is first imported.
from .formula import formula
from .explain import explain  # (the same: the function, not its submodule)

__all__ = ["grad", "value_and_grad", "check_grad", "register", "GradCheckReport", "GradError",
           "treat_as_library", "treat_as_your_code", "jvp", "vjp", "jacobian", "hessian", "hvp",
           "stop_gradient", "formula", "explain", "SlowBuildWarning"]

# The API is loaded when first asked for: `runtime` reads the rule table (compiler.rules) without
# loading the frontend, the passes and the emitter it does not use.
_LAZY = {"grad": "api", "value_and_grad": "api", "check_grad": "api", "GradCheckReport": "api",
         "register": "custom", "treat_as_library": "frontend.calls",
         "treat_as_your_code": "frontend.calls", "jvp": "transforms", "vjp": "transforms",
         "jacobian": "transforms", "hessian": "transforms", "hvp": "transforms",
         "stop_gradient": "support", "SlowBuildWarning": "buildlog"}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'compiler' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
