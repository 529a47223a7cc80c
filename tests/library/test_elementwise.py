"""Elementwise math/NumPy functions: each gradient, both designs, against central differences."""
import math

import numpy as np
import pytest

import runtime as rt
from compiler import grad
from compiler.primitives import RESOLVE
from harness import Case, check_compiler, check_tape

rng = np.random.default_rng(11)
X = rng.normal(size=(2, 3))
Y = rng.normal(size=(3,)) + 0.1
POS = rng.uniform(0.5, 2.0, size=(2, 3))
BIG = rng.uniform(1.5, 3.0, size=(2, 3))
UNIT = rng.uniform(-0.8, 0.8, size=(2, 3))
X32 = X.astype(np.float32)
POS32 = POS.astype(np.float32)
UNIT32 = np.abs(UNIT).astype(np.float32) + np.float32(0.05)
INTS = np.array([-2, 0, 3])


def cbrt_float(x):
    return math.cbrt(x) * x


def cbrt_array(x):
    return np.sum(np.cbrt(x) * x)


def exp2_float(x):
    return math.exp2(x) + x


def exp2_array(x):
    return np.sum(np.exp2(x))


def asinh_float(x):
    return math.asinh(x * 2.0)


def asinh_array(x):
    return np.sum(np.arcsinh(x) ** 2)


def acosh_float(x):
    return math.acosh(x) * x


def acosh_array(x):
    return np.sum(np.arccosh(x))


def atanh_float(x):
    return math.atanh(x)


def atanh_array(x):
    return np.sum(np.arctanh(x) * x)


def degrees_float(x):
    return math.degrees(x) * x


def degrees_array(x):
    return np.sum(np.degrees(x) * x + np.rad2deg(x))


def radians_float(x):
    return math.radians(x) ** 2


def radians_array(x):
    return np.sum(np.radians(x) * x + np.deg2rad(x))


def reciprocal_float(x):
    return np.reciprocal(x) * 2.0


def reciprocal_array(x):
    return np.sum(np.reciprocal(x) * x * x)


def sinc_float(x):
    return np.sinc(x) * x


def sinc_array(x):
    return np.sum(np.sinc(x) ** 2)


def sinc_at_zero(x):
    return np.sum(np.sinc(x * 0.0) + np.sinc(x))


def rint_array(x):
    return np.sum(np.rint(x * 3.0) * x)


def rint_float(x):
    return float(np.rint(x * 3.0)) * x + x


def copysign_float(x, y):
    return math.copysign(x, y) * x


def copysign_array(x, y):
    return np.sum(np.copysign(x, y) * y)


def fmod_float(x, y):
    return math.fmod(x, y)


def fmod_array(x, y):
    return np.sum(np.fmod(x, y) ** 2)


def ldexp_float(x):
    return math.ldexp(x, 3) * x


def ldexp_array(x, i):
    return np.sum(np.ldexp(x, i) * x)


def logaddexp2_float(x, y):
    return np.logaddexp2(x, y) * x


def logaddexp2_array(x, y):
    return np.sum(np.logaddexp2(x, y))


def heaviside_array(x, y):
    return np.sum(np.heaviside(x, 0.5) * x + y)


def heaviside_float(x):
    return np.heaviside(x, 0.5) * x + x


def remainder_float(x, y):
    return np.remainder(x, y) * x


def remainder_array(x, y):
    return np.sum(np.mod(x, y) ** 2)


def floor_divide_array(x, y):
    return np.sum(np.floor_divide(x, y) * x + y)


def floor_divide_float(x):
    return np.floor_divide(x, 0.3) * x


def float_power_float(x, y):
    return np.float_power(x, y)


def float_power_array(x, y):
    return np.sum(np.float_power(x, y) * x)


def float_power_f32(x):
    return np.sum(np.float_power(x, 1.5))


def positive_array(x):
    return np.sum(np.positive(x) * x)


def positive_float(x):
    return np.positive(x) * x


def conjugate_array(x):
    return np.sum(np.conjugate(x) * np.conj(x))


def conjugate_float(x):
    return np.conj(x) * x


def fsum_floats(x, y):
    return math.fsum((x, x * y, 0.5, math.sin(y)))


def fsum_list(x, y):
    return math.fsum([x * x, y, x * y]) * x


def prod_floats(x, y):
    return math.prod((x, y, x + y))


def prod_start(x, y):
    return math.prod([x, 2.0], start=y) + math.prod((x, 0.0, y))


def dist_2d(x, y):
    return math.dist((x, y), (0.5, -1.0))


def dist_3d(x, y):
    return math.dist([x, y * x, 1.0], [y, 2.0, x]) * x


def spacing_array(x):
    return np.sum(np.spacing(x) * 1e10 + x * x)


def spacing_float(x):
    return np.spacing(x) * 1e10 + x


def nextafter_array(x, y):
    return np.sum(np.nextafter(x, y) * x)


def nextafter_float(x, y):
    return np.nextafter(x, y) * 2.0


def f32_cbrt(x):
    return np.sum(np.cbrt(x) * np.exp2(x) + np.arcsinh(x) + np.sinc(x) + np.reciprocal(x))


def f32_binary(x):
    return np.sum(np.copysign(x, -1.0) + np.fmod(x, 0.7) + np.ldexp(x, 2) + np.logaddexp2(x, 0.5)
                  + np.degrees(x) + np.radians(x) + np.remainder(x, 0.6) + np.positive(x)
                  + np.conjugate(x) + np.nextafter(x, 1.0))


def tape_version(f, math_fn, rt_fn):
    """The same function with math's callable swapped for the runtime's (math leaves the tape)."""
    globs = dict(f.__globals__)
    globs["math"] = type("math", (), {math_fn.__name__: staticmethod(rt_fn)})
    return type(f)(f.__code__, globs)


def f32_domain(x):
    return np.sum(np.arctanh(x) + np.arccosh(x + 1.5) + np.rint(x * 4.0) * x
                  + np.floor_divide(x, 0.3) * x + np.spacing(x) * 0.0)


def hypot_three(x, y, z):
    return math.hypot(x, y, z) * x


def hypot_four_with_constant(x, y):
    return math.hypot(x, 2.0, y, x * y)


NAN_MASK = np.array([0.0, np.nan, 0.0, 0.0])


def fmax_with_nan(x, y):
    # a nan in y: fmax gives x there (np.maximum would give nan); entry 2 is a tie
    return np.sum(np.fmax(x, y + NAN_MASK) * np.array([1.0, 2.0, 3.0, 4.0]))


def fmin_with_nan(x, y):
    return np.sum(np.fmin(x + NAN_MASK, y) ** 2)


CASES = [
    Case("cbrt", cbrt_float, 1.7, tape_f=tape_version(cbrt_float, math.cbrt, rt.cbrt)),
    Case("cbrt", cbrt_array, POS),
    Case("cbrt", cbrt_array, -POS, id="cbrt_negative"),
    Case("exp2", exp2_float, 0.3, tape_f=tape_version(exp2_float, math.exp2, rt.exp2)),
    Case("exp2", exp2_array, X),
    Case("asinh", asinh_float, -0.4, tape_f=tape_version(asinh_float, math.asinh, rt.arcsinh)),
    Case("asinh", asinh_array, X),
    Case("acosh", acosh_float, 1.8, tape_f=tape_version(acosh_float, math.acosh, rt.arccosh)),
    Case("acosh", acosh_array, BIG),
    Case("atanh", atanh_float, 0.3, tape_f=tape_version(atanh_float, math.atanh, rt.arctanh)),
    Case("atanh", atanh_array, UNIT),
    Case("degrees", degrees_float, 0.7, tape_f=tape_version(degrees_float, math.degrees, rt.degrees)),
    Case("degrees", degrees_array, X),
    Case("radians", radians_float, 30.0, tape_f=tape_version(radians_float, math.radians, rt.radians)),
    Case("radians", radians_array, X),
    Case("reciprocal", reciprocal_float, 1.3),
    Case("reciprocal", reciprocal_array, POS),
    Case("sinc", sinc_float, 0.3),
    Case("sinc", sinc_array, X),
    Case("sinc", sinc_at_zero, X),
    Case("rint", rint_float, 0.4),
    Case("rint", rint_array, X),
    Case("copysign", copysign_float, 0.8, -1.5, tape_f=tape_version(copysign_float, math.copysign, rt.copysign)),
    Case("copysign", copysign_array, X, Y),
    Case("fmod", fmod_float, 2.7, 0.8, tape_f=tape_version(fmod_float, math.fmod, rt.fmod)),
    Case("fmod", fmod_array, X * 3.0, Y + np.sign(Y)),
    Case("ldexp", ldexp_float, 0.6, tape_f=tape_version(ldexp_float, math.ldexp, rt.ldexp)),
    Case("ldexp", ldexp_array, X, INTS),
    Case("logaddexp2", logaddexp2_float, 0.3, -1.2),
    Case("logaddexp2", logaddexp2_array, X, Y),
    Case("heaviside", heaviside_float, 0.4, tape=False),
    Case("heaviside", heaviside_array, X, Y, tape=False),
    Case("remainder", remainder_float, 2.7, 0.8),
    Case("remainder", remainder_array, X * 3.0, Y + np.sign(Y)),
    Case("floor_divide", floor_divide_float, 0.7, tape=False),
    Case("floor_divide", floor_divide_array, X * 3.0, Y + np.sign(Y), tape=False),
    Case("float_power", float_power_float, 1.3, 0.7),
    Case("float_power", float_power_array, POS, Y),
    Case("float_power", float_power_f32, POS32, rtol=2e-2, atol=1e-3),
    Case("positive", positive_float, 0.7),
    Case("positive", positive_array, X),
    Case("conjugate", conjugate_float, 0.7),
    Case("conjugate", conjugate_array, X),
    Case("spacing", spacing_array, POS, tape=False),
    Case("spacing", spacing_float, 0.7, tape=False),
    Case("nextafter", nextafter_array, X, Y),
    Case("nextafter", nextafter_float, 0.7, 2.0),
    Case("fsum", fsum_floats, 0.7, -1.3, tape=False),  # math leaves the tape: floats only
    Case("fsum", fsum_list, 0.7, -1.3, tape=False),
    Case("math_prod", prod_floats, 0.7, -1.3),
    Case("math_prod", prod_start, 0.7, -1.3),
    Case("dist", dist_2d, 0.7, -1.3, tape=False),
    Case("dist", dist_3d, 0.7, -1.3, tape=False),
    Case("hypot_n", hypot_three, 0.7, -1.3, 2.1, tape=False),
    Case("fmax", fmax_with_nan, np.array([0.3, -1.0, 2.0, 0.5]), np.array([0.1, 0.4, 2.0, -0.2])),
    Case("fmin", fmin_with_nan, np.array([0.3, -1.0, 2.0, 0.5]), np.array([0.1, 0.4, 2.0, -0.2])),
    Case("hypot_n", hypot_four_with_constant, 0.7, -1.3, tape=False),
    Case("cbrt", f32_cbrt, POS32, rtol=2e-2, atol=1e-3),
    Case("acosh", f32_domain, UNIT32, rtol=2e-2, atol=1e-3, tape=False),  # rint: no tape function
    Case("copysign", f32_binary, X32 + np.float32(0.05), rtol=2e-2, atol=1e-3),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_compiler(case):
    check_compiler(case)


@pytest.mark.parametrize("case", [c for c in CASES if c.tape], ids=lambda c: c.id)
def test_tape(case):
    check_tape(case)


@pytest.mark.parametrize("case", [c for c in CASES if c.f.__name__.startswith("f32_")],
                         ids=lambda c: c.id)
def test_float32_gradients_stay_float32(case):
    x = case.args[0]
    assert x.dtype == np.float32
    assert grad(case.f)(x.copy()).dtype == np.float32
    if case.tape:
        t = rt.tensor(x.copy(), requires_grad=True)
        case.tape_f(t).backward()
        assert t.grad.numpy().dtype == np.float32


# NumPy's float ufuncs that have no gradient to give: no float result, or piecewise constant
# results that NumPy does not already give the core's name for, or several outputs.
NOT_DIFFERENTIABLE = {
    # comparisons and predicates: boolean results
    "equal": "boolean result", "not_equal": "boolean result", "less": "boolean result",
    "less_equal": "boolean result", "greater": "boolean result", "greater_equal": "boolean result",
    "logical_and": "boolean result", "logical_or": "boolean result", "logical_xor": "boolean result",
    "logical_not": "boolean result", "isnan": "boolean result", "isinf": "boolean result",
    "isfinite": "boolean result", "signbit": "boolean result", "isnat": "datetimes only",
    # two outputs
    "frexp": "two outputs (mantissa, exponent)", "modf": "two outputs (fraction, integer part)",
    "divmod": "two outputs (quotient, remainder)",
}


def _float_ufuncs():
    """NumPy's elementwise ufuncs with a float64 loop (gufuncs such as np.vecdot, np.matvec --
    signature '(n),(n)->()' -- are linear algebra, not elementwise: not checked here)."""
    out = []
    for name in sorted(dir(np)):
        u = getattr(np, name)
        if isinstance(u, np.ufunc) and u.signature is None and ("d->d" in u.types
                                                              or "dd->d" in u.types):
            out.append((name, u))
    return out


@pytest.mark.parametrize("name,ufunc", _float_ufuncs(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_float_ufunc_resolves_or_is_listed(name, ufunc):
    if name in NOT_DIFFERENTIABLE:
        assert ufunc not in RESOLVE, f"np.{name} resolves: remove it from NOT_DIFFERENTIABLE"
        return
    assert ufunc in RESOLVE, f"np.{name} has a float64 loop but no primitive"
