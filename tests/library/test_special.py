"""scipy.special (and math's erf, erfc, gamma, lgamma): each gradient, both designs, against
central differences. Skipped without SciPy."""
import math

import numpy as np
import pytest

special = pytest.importorskip("scipy.special")

import runtime as rt  # noqa: E402
from compiler import grad  # noqa: E402
from harness import Case, check_compiler, check_tape  # noqa: E402

rng = np.random.default_rng(5)
X = rng.normal(size=(2, 3))
Y = rng.uniform(0.5, 2.0, size=(3,))
POS = rng.uniform(0.5, 3.0, size=(2, 3))
PROB = rng.uniform(0.1, 0.9, size=(2, 3))
UNIT = rng.uniform(-0.8, 0.8, size=(2, 3))
X32 = X.astype(np.float32)
POS32 = POS.astype(np.float32)
PROB32 = PROB.astype(np.float32)
WITH_ZEROS = np.array([[0.0, 1.5, -0.7], [2.0, 0.0, 0.3]])


def tape_version(f, math_fn, rt_fn):
    """The same function with math's callable swapped for the runtime's (math leaves the tape)."""
    globs = dict(f.__globals__)
    globs["math"] = type("math", (), {math_fn.__name__: staticmethod(rt_fn)})
    return type(f)(f.__code__, globs)


def erf_float(x):
    return math.erf(x) * x


def erf_array(x):
    return np.sum(special.erf(x) ** 2)


def erfc_float(x):
    return math.erfc(x * 0.5)


def erfc_array(x):
    return np.sum(special.erfc(x) * x)


def erfinv_float(x):
    return special.erfinv(x) * x


def erfinv_array(x):
    return np.sum(special.erfinv(x))


def gamma_float(x):
    return math.gamma(x) + x


def gamma_array(x):
    return np.sum(special.gamma(x))


def lgamma_float(x):
    return math.lgamma(x) * x


def lgamma_array(x):
    return np.sum(special.gammaln(x) * x)


def lgamma_negative(x):
    return np.sum(special.gammaln(x - 3.0))  # log|gamma| between the poles


def digamma_float(x):
    return special.digamma(x) * x


def digamma_array(x):
    return np.sum(special.digamma(x) ** 2)


def expit_float(x):
    return special.expit(x) * x


def expit_array(x):
    return np.sum(special.expit(x) ** 2)


def logit_float(x):
    return special.logit(x)


def logit_array(x):
    return np.sum(special.logit(x) * x)


def ndtr_float(x):
    return special.ndtr(x) * x


def ndtr_array(x):
    return np.sum(special.ndtr(x))


def log_ndtr_float(x):
    return special.log_ndtr(x)


def log_ndtr_array(x):
    return np.sum(special.log_ndtr(x * 4.0))


def xlogy_float(x, y):
    return special.xlogy(x, y) * x


def xlogy_array(x, y):
    return np.sum(special.xlogy(x, y))


def xlogy_at_zero(x, y):
    return np.sum(special.xlogy(x * 0.0, y) + x * y)


def xlog1py_float(x, y):
    return special.xlog1py(x, y)


def xlog1py_array(x, y):
    return np.sum(special.xlog1py(x, y) * x)


def betaln_float(a, b):
    return special.betaln(a, b)


def betaln_array(a, b):
    return np.sum(special.betaln(a, b))


def logsumexp_all(x):
    return special.logsumexp(x) * 2.0


def logsumexp_axis(x):
    return np.sum(special.logsumexp(x, axis=1) ** 2)


def logsumexp_keepdims(x):
    return np.sum(np.sin(special.logsumexp(x, axis=-1, keepdims=True) * x))


def logsumexp_large(x):
    return special.logsumexp(x * 1000.0) / 1000.0  # no overflow: exp(a - out)


def logsumexp_axes(x):
    return np.sum(special.logsumexp(x, axis=(0, 2)) * np.arange(4.0))


def softmax_axis(x):
    return np.sum(special.softmax(x, axis=1) * np.arange(6.0).reshape(2, 3))


def softmax_all(x):
    return np.sum(special.softmax(x) ** 2)


def log_softmax_axis(x):
    return np.sum(special.log_softmax(x, axis=0) * np.arange(6.0).reshape(2, 3))


def log_softmax_all(x):
    return np.sum(np.sin(special.log_softmax(x)))


def f32_unary(x):
    return np.sum(special.erf(x) + special.erfc(x) + special.expit(x) + special.ndtr(x)
                  + special.log_ndtr(x))


def f32_positive(x):
    return np.sum(special.gamma(x) + special.gammaln(x) + special.digamma(x)
                  + special.betaln(x, x * 2.0) + special.xlogy(x, x) + special.xlog1py(x, x))


def f32_prob(x):
    return np.sum(special.erfinv(x) + special.logit(x))


def f32_softmax(x):
    return np.sum(special.softmax(x, axis=1) * x + special.log_softmax(x, axis=0)
                  + special.logsumexp(x, axis=1, keepdims=True))


def polygamma_float(x):
    return special.polygamma(1, x) * x


def polygamma_array(x):
    return np.sum(special.polygamma(2, x))


def polygamma_digamma(x):
    return np.sum(special.polygamma(1, x) * special.digamma(x))


T = dict(rtol=1e-5, atol=1e-7)
F32 = dict(rtol=2e-2, atol=1e-3)
CASES = [
    Case("erf", erf_float, 0.4, tape_f=tape_version(erf_float, math.erf, rt.erf)),
    Case("erf", erf_array, X),
    Case("erfc", erfc_float, 0.4, tape_f=tape_version(erfc_float, math.erfc, rt.erfc)),
    Case("erfc", erfc_array, X),
    Case("erfinv", erfinv_float, 0.3),
    Case("erfinv", erfinv_array, UNIT),
    Case("gamma", gamma_float, 1.7, tape_f=tape_version(gamma_float, math.gamma, rt.gamma)),
    Case("gamma", gamma_array, POS),
    Case("lgamma", lgamma_float, 2.3, tape_f=tape_version(lgamma_float, math.lgamma, rt.gammaln)),
    Case("lgamma", lgamma_array, POS),
    Case("lgamma", lgamma_negative, PROB),
    Case("digamma", digamma_float, 1.3),
    Case("digamma", digamma_array, POS),
    Case("expit", expit_float, 0.3),
    Case("expit", expit_array, X),
    Case("logit", logit_float, 0.3),
    Case("logit", logit_array, PROB),
    Case("ndtr", ndtr_float, -0.3),
    Case("ndtr", ndtr_array, X),
    Case("log_ndtr", log_ndtr_float, -2.0),
    Case("log_ndtr", log_ndtr_array, X),
    Case("xlogy", xlogy_float, 0.7, 1.3),
    Case("xlogy", xlogy_array, X, Y),
    Case("xlogy", xlogy_at_zero, X, Y),
    Case("xlog1py", xlog1py_float, 0.7, 0.4),
    Case("xlog1py", xlog1py_array, X, Y),
    Case("betaln", betaln_float, 1.5, 2.5),
    Case("betaln", betaln_array, POS, Y),
    Case("logsumexp", logsumexp_all, X, tape_f=lambda x: rt.logsumexp(x) * 2.0),
    Case("logsumexp", logsumexp_axis, X, tape_f=lambda x: rt.sum(rt.logsumexp(x, axis=1) ** 2)),
    Case("logsumexp", logsumexp_keepdims, X,
         tape_f=lambda x: rt.sum(rt.sin(rt.logsumexp(x, axis=-1, keepdims=True) * x))),
    Case("logsumexp", logsumexp_large, X, tape_f=lambda x: rt.logsumexp(x * 1000.0) / 1000.0),
    Case("logsumexp", logsumexp_axes, rng.normal(size=(2, 3, 4)).transpose(0, 2, 1).copy(),
         tape_f=lambda x: rt.sum(rt.logsumexp(x, axis=(0, 2)) * np.arange(4.0))),
    Case("softmax", softmax_axis, X,
         tape_f=lambda x: rt.sum(rt.softmax(x, axis=1) * np.arange(6.0).reshape(2, 3))),
    Case("softmax", softmax_all, X, tape_f=lambda x: rt.sum(rt.softmax(x) ** 2)),
    Case("log_softmax", log_softmax_axis, X,
         tape_f=lambda x: rt.sum(rt.log_softmax(x, axis=0) * np.arange(6.0).reshape(2, 3))),
    Case("log_softmax", log_softmax_all, X, tape_f=lambda x: rt.sum(rt.sin(rt.log_softmax(x)))),
    Case("polygamma", polygamma_float, 1.3, tape_f=lambda x: rt.polygamma(1, x) * x),
    Case("polygamma", polygamma_array, POS, tape_f=lambda x: rt.sum(rt.polygamma(2, x))),
    Case("polygamma", polygamma_digamma, POS,
         tape_f=lambda x: rt.sum(rt.polygamma(1, x) * rt.digamma(x))),
    Case("erf", f32_unary, X32, **F32),
    Case("gamma", f32_positive, POS32, **F32),
    Case("erfinv", f32_prob, PROB32, **F32),
    Case("softmax", f32_softmax, X32, **F32,
         tape_f=lambda x: rt.sum(rt.softmax(x, axis=1) * x + rt.log_softmax(x, axis=0)
                                 + rt.logsumexp(x, axis=1, keepdims=True))),
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
    t = rt.tensor(x.copy(), requires_grad=True)
    case.tape_f(t).backward()
    assert t.grad.numpy().dtype == np.float32


def test_xlogy_at_zero_gives_y_no_gradient():
    dx, dy = grad(lambda_free_xlogy, wrt=(0, 1))(np.array([0.0, 0.5]), np.array([0.0, 2.0]))
    np.testing.assert_array_equal(dx[0], 0.0)
    np.testing.assert_array_equal(dy[0], 0.0)
    assert np.all(np.isfinite(dx)) and np.all(np.isfinite(dy))


def lambda_free_xlogy(x, y):
    return np.sum(special.xlogy(x, y))


def test_digamma_second_derivative_is_polygamma_2():
    """digamma's rule calls polygamma, a primitive with a rule: the tape differentiates it twice
    (create_graph=True), the compiler differentiates polygamma(1, x) to polygamma(2, x)."""
    want = special.polygamma(2, POS)
    got = grad(lambda_free_digamma_prime_sum)(POS.copy())
    np.testing.assert_allclose(got, want, rtol=1e-10)
    t = rt.tensor(POS.copy(), requires_grad=True)
    (g,) = rt.autograd.grad(rt.sum(rt.digamma(t)), t, create_graph=True)
    rt.sum(g).backward()
    np.testing.assert_allclose(t.grad.numpy(), want, rtol=1e-10)


def lambda_free_digamma_prime_sum(x):
    return np.sum(special.polygamma(1, x))
