"""Rules supplied by the user for functions the compiler cannot read or should not differentiate.

    from compiler import register

    def sinc_vjp(g, out, x):
        return g * (np.cos(np.pi * x) - out) / x

    register(np.sinc, sinc_vjp)

A registered function becomes a primitive: the forward pass calls it as it is, and the reverse pass
calls `vjp(g, out, *args)`, which returns the contribution for each argument (a tuple, or the value
itself for a one-argument function), each shaped like its argument. Python functions of the user's
can be registered too (as with a custom VJP in JAX): then their body is not differentiated.
"""
from __future__ import annotations

from .primitives import user_primitive
from .rules import RULES, TABLE, Rule

USER_RESOLVE = {}   # the registered callable -> primitive name


def register(fn, vjp):
    """Register `fn` as a primitive whose gradient is given by `vjp(g, out, *args)`."""
    if not callable(fn) or not callable(vjp):
        raise TypeError("register(fn, vjp): both must be callable")
    name = USER_RESOLVE.get(fn)
    if name is None:
        base = getattr(fn, "__name__", "user_function")
        name = f"user_{base}_{len(USER_RESOLVE)}"
        USER_RESOLVE[fn] = name
        user_primitive(name, fn)
        RULES[name] = ("*args",)
    TABLE[name] = Rule(name, "*args", (), user_vjp=vjp)
    return fn
