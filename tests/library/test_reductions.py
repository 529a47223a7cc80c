"""Statistics and scans (compiler/library/reductions.py): each function's gradient, both designs,
against central differences; every axis form (None, int, negative int, tuple, keepdims=True); a
float32 input keeps a float32 gradient."""
import numpy as np
import pytest

import runtime as rt
from compiler import grad
from harness import Case, check_compiler, check_tape

rng = np.random.default_rng(11)
X = rng.normal(size=(3, 4))
X3 = rng.normal(size=(2, 3, 4))
V = rng.normal(size=7)
W = rng.uniform(0.5, 2.0, size=(3, 4))
W4 = rng.uniform(0.5, 2.0, size=4)
POS = rng.uniform(0.5, 1.5, size=(3, 4))
ZEROS = np.array([[1.5, 0.0, 2.0, 0.7], [0.0, 0.0, 1.3, -0.8], [0.9, -1.1, 0.6, 1.2]])
# nan entries come from a constant mask added inside the function (x + NAN_ROW...), so central
# differences are defined everywhere: 0 at the entries the mask makes nan
NAN_ROW = np.array([[0.0, np.nan, 0.0, 0.0], [np.nan, np.nan, np.nan, np.nan],
                    [0.0, 0.0, np.nan, 0.0]])   # the second row all nan
NAN_SOME = np.array([[0.0, np.nan, 0.0, 0.0], [np.nan, 0.0, 0.0, np.nan],
                     [0.0, 0.0, np.nan, 0.0]])
ROW = np.array([[0.5, 0.5, 0.5, 0.5], [0.2, -1.0, 0.7, 1.4]])
WEIGHT = np.arange(1.0, 13.0).reshape(3, 4)
WEIGHT3 = np.arange(1.0, 25.0).reshape(2, 3, 4)


def weigh(y):
    """A reduction's result, weighted so each entry's gradient differs."""
    return np.sum(np.sin(y) * np.arange(1.0, np.size(y) + 1.0).reshape(np.shape(y)))


# --- var / std ---------------------------------------------------------------------------------

def var_all(x):
    return np.var(x) * 3.0


def var_axis0(x):
    return weigh(np.var(x, axis=0))


def var_neg_ddof(x):
    return weigh(np.var(x, axis=-1, ddof=1))


def var_tuple_keep(x):
    return weigh(np.var(x, axis=(0, 2), keepdims=True))


def var_method(x):
    return weigh(x.var(axis=1, ddof=1))


def var_method_tape(x):
    return weigh(np.var(x, axis=1, ddof=1))


def std_all(x):
    return np.std(x) * 2.0


def std_axis1_ddof(x):
    return weigh(np.std(x, axis=1, ddof=1))


def std_tuple(x):
    return weigh(np.std(x, axis=(-1, 0)))


def std_keep(x):
    return weigh(np.std(x, axis=-1, keepdims=True))


def std_method(x):
    return weigh(x.std(axis=0))


def std_method_tape(x):
    return weigh(np.std(x, axis=0))


# --- average -----------------------------------------------------------------------------------

def average_plain(x):
    return np.average(x) * 2.0


def average_axis(x):
    return weigh(np.average(x, axis=-1))


def average_weighted(x, w):
    return np.average(x, weights=w) * 2.0


def average_weighted_axis(x, w):
    return weigh(np.average(x, axis=0, weights=w))


def average_weighted_tuple_keep(x, w):
    return weigh(np.average(x, axis=(0, 2), weights=w, keepdims=True))


def average_weights_1d(x, w):
    return weigh(np.average(x, axis=1, weights=w))


# --- median ------------------------------------------------------------------------------------

def median_all(x):
    return np.median(x) * 2.0


def median_axis(x):
    return weigh(np.median(x, axis=0))


def median_neg_keep(x):
    return weigh(np.median(x, axis=-1, keepdims=True))


def median_tuple(x):
    return weigh(np.median(x, axis=(0, 2)))


def median_odd(x):
    return np.median(x) * 3.0


# --- ptp ---------------------------------------------------------------------------------------

def ptp_all(x):
    return np.ptp(x) * 2.0


def ptp_axis(x):
    return weigh(np.ptp(x, axis=1))


def ptp_tuple_keep(x):
    return weigh(np.ptp(x, axis=(0, -1), keepdims=True))


# --- nansum / nanmean --------------------------------------------------------------------------

def nansum_all(x):
    return np.nansum(x + NAN_ROW) * 2.0


def nansum_axis(x):
    return weigh(np.nansum(x + NAN_ROW, axis=-1))


def nansum_keep(x):
    return weigh(np.nansum(x + NAN_SOME, axis=0, keepdims=True))


def nansum_tuple(x):
    return weigh(np.nansum(x, axis=(0, 1)))


def nanmean_all(x):
    return np.nanmean(x + NAN_ROW) * 2.0


def nanmean_axis(x):
    return weigh(np.nanmean(x + NAN_SOME, axis=1))


def nanmean_all_nan_row(x):
    """The all-nan row's mean is nan (nansum drops it): no gradient to that row."""
    return np.nansum(np.nanmean(x + NAN_ROW, axis=-1) * np.array([1.0, 2.0, 3.0]))


def nanmean_tuple_keep(x):
    return weigh(np.nanmean(x, axis=(1, 0), keepdims=True))


def nanmean_neg(x):
    return weigh(np.nanmean(x, axis=-2))


# --- scans -------------------------------------------------------------------------------------

def cumsum_flat(x):
    return weigh(np.cumsum(x))


def cumsum_axis(x):
    return weigh(np.cumsum(x, axis=0))


def cumsum_neg(x):
    return weigh(np.cumsum(x, axis=-1))


def cumsum_method(x):
    return weigh(x.cumsum(axis=1))


def cumsum_method_tape(x):
    return weigh(np.cumsum(x, axis=1))


def cumprod_flat(x):
    return weigh(np.cumprod(x))


def cumprod_axis(x):
    return weigh(np.cumprod(x, axis=1))


def cumprod_neg(x):
    return weigh(np.cumprod(x, axis=-2))


def cumprod_method(x):
    return weigh(x.cumprod(axis=0))


def cumprod_method_tape(x):
    return weigh(np.cumprod(x, axis=0))


def diff_default(x):
    return weigh(np.diff(x))


def diff_axis0(x):
    return weigh(np.diff(x, axis=0))


def diff_twice(x):
    return weigh(np.diff(x, n=2, axis=-1))


def diff_3d(x):
    return weigh(np.diff(x, 2, 1))



CASES = [
    Case("var", var_all, X),
    Case("var", var_axis0, X),
    Case("var", var_neg_ddof, X),
    Case("var", var_tuple_keep, X3),
    Case("var", var_method, X, tape_f=var_method_tape),
    Case("std", std_all, X),
    Case("std", std_axis1_ddof, X),
    Case("std", std_tuple, X3),
    Case("std", std_keep, X3),
    Case("std", std_method, X, tape_f=std_method_tape),
    Case("average", average_plain, X),
    Case("average", average_axis, X3),
    Case("average", average_weighted, X, W),
    Case("average", average_weighted_axis, X, W),
    Case("average", average_weighted_tuple_keep, X3, rng.uniform(0.5, 2.0, size=(2, 3, 4))),
    Case("average", average_weights_1d, X, W4),
    Case("median", median_all, X),          # even count: the two middle values share g
    Case("median", median_odd, V),
    Case("median", median_axis, X),
    Case("median", median_neg_keep, X3),
    Case("median", median_tuple, X3),
    Case("ptp", ptp_all, X),
    Case("ptp", ptp_axis, X),
    Case("ptp", ptp_tuple_keep, X3),
    Case("nansum", nansum_all, X),
    Case("nansum", nansum_axis, X),
    Case("nansum", nansum_keep, X),
    Case("nansum", nansum_tuple, X3),
    Case("nanmean", nanmean_all, X),
    Case("nanmean", nanmean_axis, X),
    Case("nanmean", nanmean_all_nan_row, X),
    Case("nanmean", nanmean_tuple_keep, X3),
    Case("nanmean", nanmean_neg, X),
    Case("cumsum", cumsum_flat, X),
    Case("cumsum", cumsum_axis, X3),
    Case("cumsum", cumsum_neg, X),
    Case("cumsum", cumsum_method, X, tape_f=cumsum_method_tape),
    Case("cumprod", cumprod_flat, POS),
    Case("cumprod", cumprod_axis, ZEROS, id="cumprod_zeros"),
    Case("cumprod", cumprod_neg, X3),
    Case("cumprod", cumprod_method, ZEROS, tape_f=cumprod_method_tape),
    Case("diff", diff_default, X),
    Case("diff", diff_axis0, X),
    Case("diff", diff_twice, X),
    Case("diff", diff_3d, X3),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_compiler(case):
    check_compiler(case)


@pytest.mark.parametrize("case", [c for c in CASES if c.tape], ids=lambda c: c.id)
def test_tape(case):
    check_tape(case)


# --- ties and kinks: the project's convention, checked against the values it promises ------------

def median_of(x):
    return np.median(x)


def median_rows(x):
    return np.sum(np.median(x, axis=1) * np.array([1.0, 2.0]))


def ptp_of(x):
    return np.ptp(x)


def std_rows(x):
    return np.sum(np.std(x, axis=1))


def _both(f, x):
    """The gradient from the compiler and from the tape."""
    got = [grad(f)(x.copy())]
    t = rt.tensor(x.copy(), requires_grad=True)
    out = f(t)
    out.backward()
    got.append(t.grad.numpy())
    return got


TIE_CASES = [
    # an odd count: g to the middle value, shared by its ties
    (median_of, np.array([2.0, 1.0, 2.0, 5.0, 2.0, -3.0, 7.0]),
     np.array([1 / 3, 0.0, 1 / 3, 0.0, 1 / 3, 0.0, 0.0])),
    # an even count with different middle values: g/2 to each
    (median_of, np.array([4.0, 1.0, 3.0, 0.5]), np.array([0.0, 0.5, 0.5, 0.0])),
    # an even count whose middle values tie: g shared by every entry equal to the median
    (median_of, np.array([1.0, 2.0, 2.0, 2.0, 5.0, 6.0]), np.array([0, 1 / 3, 1 / 3, 1 / 3, 0, 0])),
    # an even count, the lower middle value tied: half to it (split), half to the upper one
    (median_of, np.array([3.0, 2.0, 4.0, 2.0]), np.array([0.5, 0.25, 0.0, 0.25])),
    (median_rows, np.array([[1.0, 1.0, 0.0], [3.0, 2.0, 9.0]]),
     np.array([[0.5, 0.5, 0.0], [2.0, 0.0, 0.0]])),
    # ptp: max's ties share g, min's ties share -g
    (ptp_of, np.array([3.0, 1.0, 3.0, 1.0, 2.0]), np.array([0.5, -0.5, 0.5, -0.5, 0.0])),
    # std at zero spread: 0 (PyTorch gives nan there), the other row as usual
    (std_rows, np.array([[0.5, 0.5, 0.5], [1.0, 2.0, 4.0]]),
     np.array([[0.0, 0.0, 0.0], (np.array([1.0, 2.0, 4.0]) - 7 / 3) / 3 / np.std([1, 2, 4.0])])),
]


@pytest.mark.parametrize("f, x, want", TIE_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_ties(f, x, want):
    for got in _both(f, x):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


# --- float32 stays float32 ----------------------------------------------------------------------

X32 = X.astype(np.float32)
W32 = W.astype(np.float32)
ZEROS32 = ZEROS.astype(np.float32)

F32_CASES = [
    (var_axis0, X32), (var_tuple_keep, X3.astype(np.float32)), (std_axis1_ddof, X32),
    (std_all, X32), (std_method_tape, X32),
    (average_plain, X32), (average_weighted_axis, X32, W32), (median_all, X32), (median_axis, X32),
    (ptp_axis, X32), (nansum_axis, X32), (nanmean_axis, X32), (nanmean_all, X32),
    (cumsum_flat, X32), (cumsum_axis, X32), (cumprod_axis, ZEROS32), (cumprod_flat, X32),
    (diff_twice, X32), (diff_axis0, X32),
]


@pytest.mark.parametrize("case", F32_CASES, ids=lambda c: c[0].__name__)
def test_float32_gradient_stays_float32(case):
    f, *args = case
    wrt = tuple(range(len(args)))
    compiled = grad(f, wrt=wrt)(*[a.copy() for a in args])
    tensors = [rt.tensor(a.copy(), requires_grad=True) for a in args]
    f(*tensors).backward()
    for k, a in enumerate(args):
        assert compiled[k].dtype == np.float32, f"compiler: d/d arg {k} is {compiled[k].dtype}"
        assert tensors[k].grad.numpy().dtype == np.float32, \
            f"tape: d/d arg {k} is {tensors[k].grad.numpy().dtype}"


# --- refused: said plainly, in both designs ------------------------------------------------------

def diff_n0(x):
    y = np.diff(x, n=0)     # NumPy returns x itself: a write into y would write into x
    y *= 2.0
    return np.sum(y)


def diff_prepend(x):
    return np.sum(np.diff(x, prepend=0.0))


def average_returned(x):
    avg, total = np.average(x, returned=True)
    return avg


@pytest.mark.parametrize("f, message", [(diff_n0, "n must be a positive int"),
                                        (diff_prepend, "prepend= is not supported"),
                                        (average_returned, "returned=True is not supported")],
                         ids=lambda v: getattr(v, "__name__", ""))
def test_refused(f, message):
    from compiler.errors import GradError
    with pytest.raises(GradError, match=message):
        grad(f)(X.copy())
    with pytest.raises(ValueError, match=message):
        f(rt.tensor(X.copy(), requires_grad=True))
