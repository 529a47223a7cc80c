"""NumPy-array functions differentiated by tests/compiler/test_arrays.py.

Plain NumPy code: the tests compare the compiled gradient with central differences (or with a
hand-derived formula) at random float64 points away from kinks and ties."""
import math

import numpy as np


# --- elementwise arithmetic and broadcasting -------------------------------------------------------

def scalar_array(x, s):
    return np.sum(s * x + x / s - s + x * x * s)


def col_plus_row(a, b):
    # a (n, 1), b (m,): broadcast to (n, m)
    return np.sum(np.sin(a + b) * b - a * b * b)


def three_d_times(a, b):
    # a (3, 1, 4), b (2, 4): broadcast to (3, 2, 4)
    return np.sum(np.tanh(a * b) + a / (2.0 + b * b))


def pow_computed_exponent(x):
    p = 1.5 + 0.5 * np.mean(x)
    return np.sum(x ** p)


def pow_constant_exponent(x):
    n = x.shape[0]
    p = n * 0.5
    return np.sum(x ** p)


def scalar_pow_array(x):
    return np.sum(2.0 ** x)


def row_normalise(X):
    P = X / X.sum(1, keepdims=True)
    return np.sum(np.sin(3.0 * P) * X)


def ufunc_operators(x, y):
    return np.sum(np.add(x, y) * np.subtract(x, y) / np.divide(y, 2.0) + np.negative(np.multiply(x, x)))


def array_minus_scalar_sub(x, c):
    return np.sum((c - x) ** 2) - np.sum(x - c)


# --- unary math functions as ufuncs ----------------------------------------------------------------

def u_sin(x):
    return np.sum(np.sin(x) * x)


def u_cos(x):
    return np.sum(np.cos(x) * x)


def u_tan(x):
    return np.sum(np.tan(x) * x)


def u_arcsin(x):
    return np.sum(np.arcsin(x) * x)


def u_arccos(x):
    return np.sum(np.arccos(x) * x)


def u_arctan(x):
    return np.sum(np.arctan(x) * x)


def u_sinh(x):
    return np.sum(np.sinh(x) * x)


def u_cosh(x):
    return np.sum(np.cosh(x) * x)


def u_tanh(x):
    return np.sum(np.tanh(x) * x)


def u_exp(x):
    return np.sum(np.exp(x) * x)


def u_expm1(x):
    return np.sum(np.expm1(x) * x)


def u_log(x):
    return np.sum(np.log(x) * x)


def u_log1p(x):
    return np.sum(np.log1p(x) * x)


def u_log2(x):
    return np.sum(np.log2(x) * x)


def u_log10(x):
    return np.sum(np.log10(x) * x)


def u_sqrt(x):
    return np.sum(np.sqrt(x) * x)


def u_abs(x):
    return np.sum(np.abs(x) * x)


def u_absolute(x):
    return np.sum(np.absolute(x) * x)


def u_fabs(x):
    return np.sum(np.fabs(x) * x)


def u_builtin_abs(x):
    return np.sum(abs(x) * x)


def u_arctan2(y, x):
    return np.sum(np.arctan2(y, x) * y)


def u_hypot(x, y):
    return np.sum(np.hypot(x, y) * x)


# --- piecewise functions ---------------------------------------------------------------------------

def maximum_minimum(x, y):
    return np.sum(np.maximum(x, y) * x + np.minimum(x, y) * y * y)


def maximum_scalar(x):
    return np.sum(np.maximum(x, 0.0) ** 2 + np.minimum(x, 0.5))


def where_branches(x, y):
    return np.sum(np.where(x > y, x * x, np.sin(y)))


def where_select(c, x, y):
    return np.sum(np.where(c, x, y))


def clip_square(x):
    return np.sum(np.clip(x, -0.5, 0.5) ** 2 + x)


def clip_method(x):
    return np.sum(x.clip(-0.5, 0.5) * x)


def logaddexp_fn(x, y):
    return np.sum(np.logaddexp(x, y) * x)


def mask_multiply(x):
    m = x > 0.0
    return np.sum(x * x * m)


def mask_from_other(x, y):
    return np.sum(np.sin(x) * (y < 0.5))


# --- reductions ------------------------------------------------------------------------------------

def sum_axis0(x):
    return np.sum(np.sum(x, axis=0) ** 2)


def sum_axis_tuple(x):
    return np.sum(np.sum(x, axis=(0, 2)) ** 3)


def sum_axis_negative(x):
    return np.sum(np.sum(x, -1) ** 2)


def sum_keepdims(x):
    s = np.sum(x, axis=1, keepdims=True)
    return np.sum(np.sin(x * s))


def mean_axis(x):
    return np.sum(np.mean(x, axis=1) ** 2) + np.mean(x) ** 2


def mean_tuple_keepdims(x):
    m = np.mean(x, axis=(0, 1), keepdims=True)
    return np.sum((x - m) ** 2)


def mean_negative_axis(x):
    return np.sum(np.exp(np.mean(x, axis=-2)))


def max_axis(x):
    return np.sum(np.max(x, axis=0) ** 2)


def max_all(x):
    return np.max(x) ** 2 + np.min(x)


def max_tuple_keepdims(x):
    m = np.max(x, axis=(0, 2), keepdims=True)
    return np.sum(np.exp(x - m))


def min_negative_axis(x):
    return np.sum(np.sin(np.min(x, axis=-1)))


def amax_amin(x):
    return np.sum(np.amax(x, 1) * np.amin(x, 1))


def prod_all(x):
    return np.prod(x)


def prod_axis(x):
    return np.sum(np.prod(x, axis=1) ** 2)


def prod_tuple_keepdims(x):
    p = np.prod(x, axis=(0, 2), keepdims=True)
    return np.sum(p * x)


def prod_negative_axis(x):
    return np.sum(np.prod(x, axis=-1))


def method_sum_axis0(x):
    return np.sum(x.sum(axis=0) ** 2)


def method_mean(x):
    return x.mean() ** 2


def method_max1(x):
    return np.sum(x.max(1) ** 2)


def method_min_keepdims(x):
    return np.sum(x - x.min(axis=1, keepdims=True)) ** 2


def method_prod(x):
    return x.prod()


def scaled_max(x):
    return 3.0 * np.max(x)


def max_axis_plain(x):
    return np.sum(np.max(x, axis=1))


# --- linear algebra --------------------------------------------------------------------------------

def matmul_op(A, B):
    return np.sum(np.tanh(A @ B))


def matmul_fn(A, B):
    return np.sum(np.sin(np.matmul(A, B)))


def dot_fn(A, B):
    return np.sum(np.dot(A, B) ** 2)


def dot_method(A, B):
    return np.sum(A.dot(B) ** 2)


def outer_fn(a, b):
    return np.sum(np.sin(np.outer(a, b)))


def transpose_attr(A, B):
    return np.sum((A.T @ B) ** 2)


def transpose_axes(x):
    y = np.transpose(x, (1, 0, 2))
    w = np.arange(24.0)
    return np.sum(np.sin(y) * np.reshape(w, (3, 2, 4)))


def transpose_method_varargs(x):
    y = x.transpose(2, 0, 1)
    w = np.arange(24.0)
    return np.sum(np.cos(y) * w.reshape(4, 2, 3))


def transpose_default(x):
    w = np.arange(12.0).reshape(4, 3)
    return np.sum(np.transpose(x) * w * x.T)


# --- shapes ----------------------------------------------------------------------------------------

def reshape_tuple(x):
    y = x.reshape((3, 4))
    w = np.arange(12.0).reshape(3, 4)
    return np.sum(np.sin(y) * w)


def reshape_varargs(x):
    y = x.reshape(4, 3)
    w = np.arange(12.0).reshape(4, 3)
    return np.sum(np.sin(y) * w)


def reshape_minus_one(x):
    y = np.reshape(x, (-1,))
    w = np.arange(12.0)
    return np.sum(y * y * w)


def reshape_minus_one_varargs(x):
    y = x.reshape(-1, 2)
    w = np.arange(12.0).reshape(6, 2)
    return np.sum(np.exp(y) * w)


def expand_dims_fn(x):
    y = np.expand_dims(x, 1)
    return np.sum(np.sin(y * np.arange(4.0)))


def squeeze_fn(x):
    y = np.squeeze(x)
    w = np.arange(12.0).reshape(3, 4)
    return np.sum(np.sin(y) * w)


def squeeze_axis(x):
    y = np.squeeze(x, axis=1)
    w = np.arange(12.0).reshape(3, 4)
    return np.sum(np.sin(y) * w)


def concat_axis0(a, b):
    c = np.concatenate((a, b), axis=0)
    w = np.arange(15.0).reshape(5, 3)
    return np.sum(np.sin(c) * w)


def concat_axis1(a, b):
    c = np.concatenate([a, b], axis=1)
    w = np.arange(10.0).reshape(2, 5)
    return np.sum(np.sin(c) * w)


def stack_fn(a, b):
    c = np.stack([a, b])
    w = np.arange(6.0).reshape(2, 3)
    return np.sum(np.sin(c) * w)


def stack_axis1(a, b):
    c = np.stack((a, b), axis=1)
    w = np.arange(6.0).reshape(3, 2)
    return np.sum(np.sin(c) * w)


# --- indexing --------------------------------------------------------------------------------------

def index_int(x):
    return np.sum(np.sin(x[1]) * x[1])


def index_negative(x):
    return np.sum(x[-1] ** 3)


def index_slice(x):
    return np.sum(np.exp(x[1:3]))


def index_column(x):
    return np.sum(x[:, 0] ** 2)


def index_step(x):
    return np.sum(np.sin(x[::2]) * x[::2])


def index_newaxis(x):
    y = x[None, :]
    return np.sum(y * y * np.arange(3.0).reshape(3, 1))


def index_scalar_element(x):
    return x[1, 2] * x[0, 0]


def gather_list(x):
    return np.sum(x[[0, 2, 0]] ** 2)


def gather_array_arg(x, idx):
    return np.sum(x[idx] ** 2)


def boolean_mask(x):
    return np.sum(x[x > 0.0] ** 2)


def index_loop_variable(x):
    s = 0.0
    for i in range(x.shape[0]):
        xi = x[i]
        s = s + xi * xi * i
    return np.sum(s)


def loop_repeated_read(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] * x[i]
    return np.sum(s)


# --- index assignment ------------------------------------------------------------------------------

def set_constant(x):
    y = x * 2.0
    y[1] = 0.0
    return y.sum()


def set_constant_nonlinear(x):
    y = np.sin(x)
    y[1] = 0.0
    return np.sum(y * y)


def set_column(X, v):
    y = X * 1.0
    y[:, 0] = v * v
    return np.sum(np.sin(y))


def set_column_scalar(X, t):
    y = X * 1.0
    y[:, 0] = t
    return np.sum(np.sin(y))


def add_into_row(x, t):
    y = np.zeros(x.shape)
    for i in range(x.shape[0]):
        y[i] += t * x[i]
    return np.sum(y * y)


def add_into_element(x, t):
    y = x * 1.0
    y[2] += t
    return np.sum(y ** 3)


def set_in_zeros(x):
    n = x.shape[0]
    y = np.zeros((n, 2))
    y[:, 0] = x
    y[:, 1] = x * x
    return np.sum(np.sin(y))


# --- constants and shapes --------------------------------------------------------------------------

def constructors(x):
    n = x.shape[0]
    z = np.zeros(n)
    o = np.ones((n, n))
    e = np.eye(n)
    return np.sum((o + e) @ x * x) + np.sum(z * x)


def shape_arith(X):
    n, d = X.shape
    return np.sum(X * X) / (n * d) + np.sum(X) / (n + d - 1) + len(X) * np.mean(X)


def shape_from_len(x):
    n = len(x)
    return np.sum(np.sin(x)) / n


def zeros_like_fn(x):
    z = np.zeros_like(x) + 1.0
    o = np.ones_like(x)
    return np.sum(x * z * o * x)


def full_fn(x):
    f = np.full(x.shape, 2.5)
    return np.sum(f * x * x)


# --- models ----------------------------------------------------------------------------------------

def softmax_xent(W, X, Y):
    """Y is one-hot (n, k); W (d, k); X (n, d)."""
    logits = X @ W
    m = np.max(logits, axis=1, keepdims=True)
    z = logits - m
    lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    logp = z - lse
    return -np.sum(Y * logp) / X.shape[0]


def mlp_loss(W1, b1, W2, b2, X, y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    r = out - y
    return np.mean(r * r)


def logreg_l2(w, b, X, y, lam):
    z = X @ w + b
    p = 1.0 / (1.0 + np.exp(-z))
    nll = -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
    return nll + lam * np.sum(w * w)


# --- misc ------------------------------------------------------------------------------------------

def plain_sum(x):
    return np.sum(x)


def plain_mean(x):
    return np.mean(x)


def elementwise_same_shape(x, y):
    return np.sum(x * y + np.sin(x))


def broadcast_bias(x, b):
    return np.sum(np.sin(x + b))


def scalar_only(x, y):
    return math.sin(x) * y + x ** 2


def scalar_numpy_ufunc(x):
    return np.sin(x) * np.exp(x)


# functions with no rule (and none planned: complex results, Bessel functions, phase unwrapping)
def unsupported_inv(A):
    return np.sum(np.abs(np.fft.fft(A)))


def unsupported_sort(x):
    return np.sum(np.i0(x) * x)


def unsupported_cumsum(x):
    return np.sum(np.unwrap(x))


# --- functions for the targeted tests ---------------------------------------------------------------

def unused_array(x, y):
    return np.sum(x * x)


def array_only_in_mask(x, y):
    return np.sum(x * (y > 100.0))


def sum_transposed(x):
    return np.sum(x.T)


def sum_reshaped(x):
    return np.sum(x.reshape(-1))


def sum_concatenated(a, b):
    return np.sum(np.concatenate((a, b)))


def sum_expanded(x):
    return np.sum(np.expand_dims(x, 0))


def loop_fill(x):
    y = np.zeros(x.shape)
    for i in range(x.shape[0]):
        xi = x[i]
        y[i] = xi * xi
    return np.sum(y)


def assign_through_alias(x):
    y = x * 2.0
    z = y
    z[0] = 0.0
    return np.sum(y * x)


def write_after_view(x):
    y = x * 2.0
    r = y[1]
    y[1] = 5.0
    return np.sum(r * x[0])


def index_by_int_arg(x, k):
    return np.sum(x[k] * x[k + 1]) * k


def mul_sum(x, y):
    return np.sum(x * y)
