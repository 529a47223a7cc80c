"""The generated gradient on Dask arrays (compiler/lazy.py), on a real dask.distributed cluster:
the same gradients as NumPy's on the same data, returned lazily, with no compute while building
or calling the gradient."""
import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from compiler import GradError, grad, value_and_grad  # noqa: E402


@pytest.fixture(scope="module")
def client():
    """Two worker processes with one thread each: the data really moves between processes."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


class Computes:
    """Counts every compute, whatever the scheduler: wraps the scheduler Dask would use (the
    distributed client's) and, for local schedulers, a dask.callbacks.Callback."""

    def __init__(self, client):
        self.client, self.count = client, 0

    def __enter__(self):
        from dask.callbacks import Callback

        def counting(*args, **kwargs):
            self.count += 1
            return self.client.get(*args, **kwargs)

        outer = self

        class Count(Callback):
            def _start(self, dsk):
                outer.count += 1

        self._config = dask.config.set(scheduler=counting)
        self._callback = Count()
        self._config.__enter__()
        self._callback.__enter__()
        return self

    def __exit__(self, *exc):
        self._callback.__exit__(*exc)
        self._config.__exit__(*exc)


def logistic(w, X, y):
    z = X @ w
    p = 1 / (1 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)) + 0.01 * np.sum(w * w)


def elementwise(x):
    return np.sum(np.sin(x) * x ** 2 + np.exp(-x))


def reductions(x, w):
    m = np.max(x * w, axis=1, keepdims=True)
    s = np.sum(x - m, axis=0)
    return np.sum(np.mean(x * x, axis=1, keepdims=True) * m) + np.sum(s * w)


def mlp(W1, b1, W2, b2, X, Y, batch):
    total = 0.0
    for k in range(X.shape[0] // batch):
        Xb = X[k * batch:(k + 1) * batch]
        Yb = Y[k * batch:(k + 1) * batch]
        h = np.tanh(Xb @ W1 + b1)
        logits = h @ W2 + b2
        top = np.max(logits, axis=1, keepdims=True)
        shifted = logits - top
        log_norm = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        total = total - np.sum((shifted - log_norm) * Yb)
    return total / X.shape[0]


def branchy(w, X):
    s = np.sum(X @ w)
    if s > 0:
        return s * s
    return -s


def indexed(w, X, y):
    return np.sum(X[:, 0] * w[0]) + np.sum(X[2:5] * w) + w[1] * 3.0


def gathered(X, idx):
    return np.sum(X[idx] ** 2)


def with_aux(w, X):
    z = X @ w
    return np.sum(z * z), z


def halving(w, X):
    t = np.sum(X @ w)
    while t > 1.0:
        t = t / 2
    return t


def data(rows=400, cols=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, cols))
    y = (rng.random(rows) > 0.5).astype(float)
    return rng.normal(size=cols), X, y


def same(lazy_out, numpy_out):
    """Each leaf of a lazy result is a Dask array with NumPy's value."""
    if isinstance(numpy_out, tuple):
        assert isinstance(lazy_out, tuple) and len(lazy_out) == len(numpy_out)
        for a, b in zip(lazy_out, numpy_out):
            same(a, b)
        return
    assert isinstance(lazy_out, da.Array), type(lazy_out)
    np.testing.assert_allclose(lazy_out.compute(), numpy_out, rtol=1e-10, atol=1e-12)


def test_logistic_regression_mixed_numpy_params_dask_data(client):
    w, X, y = data()
    f = value_and_grad(logistic, cache=False)
    Xd, yd = da.from_array(X, chunks=(100, 5)), da.from_array(y, chunks=100)
    value, dw = f(w, Xd, yd)
    assert isinstance(value, da.Array) and value.ndim == 0
    assert isinstance(dw, da.Array) and dw.shape == w.shape  # a NumPy parameter's, lazily
    v, g = dask.compute(value, dw)  # one compute: the forward pass shared
    v0, g0 = f(w, X, y)
    np.testing.assert_allclose(v, v0, rtol=1e-12)
    np.testing.assert_allclose(g, g0, rtol=1e-10)
    # the gradient of the data too, chunked like the data
    f_all = value_and_grad(logistic, wrt=(0, 1, 2), cache=False)
    value, grads = f_all(w, Xd, yd)
    assert grads[1].chunks == Xd.chunks and grads[2].chunks == yd.chunks
    same((value, grads), f_all(w, X, y))


def test_elementwise_loss_gradient_chunked_like_its_argument(client):
    x = np.linspace(-2, 2, 1000)
    xd = da.from_array(x, chunks=250)
    f = grad(elementwise, cache=False)
    g = f(xd)
    assert isinstance(g, da.Array) and g.chunks == xd.chunks
    np.testing.assert_allclose(g.compute(), f(x), rtol=1e-12)
    np.testing.assert_allclose(g.compute(), np.sin(x) * 2 * x + np.cos(x) * x ** 2 - np.exp(-x),
                               rtol=1e-12)


def test_reduction_with_axis_and_keepdims(client):
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(60, 4)), rng.normal(size=4)
    f = value_and_grad(reductions, wrt=(0, 1), cache=False)
    same(f(da.from_array(x, chunks=(15, 4)), w), f(x, w))
    same(f(da.from_array(x, chunks=(15, 2)), da.from_array(w, chunks=2)), f(x, w))


def test_mlp_over_batches(client):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(96, 8))
    Y = np.eye(3)[rng.integers(0, 3, 96)]
    params = [rng.normal(0, 0.3, (8, 6)), np.zeros(6), rng.normal(0, 0.3, (6, 3)), np.zeros(3)]
    f = value_and_grad(mlp, wrt=(0, 1, 2, 3), cache=False)
    lazy = f(*params, da.from_array(X, chunks=(32, 8)), da.from_array(Y, chunks=(32, 3)), 32)
    same(lazy, f(*params, X, Y, 32))


def test_no_compute_while_building_or_calling(client):
    w, X, y = data(seed=3)
    Xd, yd = da.from_array(X, chunks=(100, 5)), da.from_array(y, chunks=100)
    with Computes(client) as counted:
        f = value_and_grad(logistic, wrt=(0, 1), cache=False)
        value, grads = f(w, Xd, yd)   # builds the lazy version, then calls it
        value, grads = f(w, Xd, yd)   # the version built
    assert counted.count == 0
    with Computes(client) as counted:  # the counter counts: the user's one compute
        dask.compute(value, grads)
    assert counted.count == 1


def test_data_dependent_branch_is_refused_at_the_users_line(client):
    w, X, _ = data(seed=4)
    f = grad(branchy, cache=False)
    assert np.isfinite(f(w, X)).all()  # NumPy data: the branch is taken as usual
    with Computes(client) as counted:
        with pytest.raises(GradError) as info:
            f(w, da.from_array(X, chunks=(100, 5)))
    assert counted.count == 0
    message = str(info.value)
    assert "test_dask.py" in message and "if s > 0:" in message
    assert "np.where" in message


def test_a_lazy_non_scalar_result_is_refused(client):
    def vector(x):
        return np.sin(x)
    with pytest.raises(GradError, match="one number"):
        grad(vector, cache=False)(da.from_array(np.ones(8), chunks=4))


def test_integer_dask_arrays_are_refused_as_differentiated_arguments(client):
    with pytest.raises(GradError, match="float Dask array"):
        grad(elementwise, cache=False)(da.from_array(np.arange(8), chunks=4))


def test_integer_and_slice_indexing_and_an_argument_nothing_reaches(client):
    w, X, y = data(rows=40, seed=5)
    f = value_and_grad(indexed, wrt=(0, 1, 2), cache=False)
    Xd, yd = da.from_array(X, chunks=(10, 5)), da.from_array(y, chunks=10)
    value, grads = f(w, Xd, yd)
    assert grads[2].shape == y.shape and grads[2].chunks == yd.chunks  # zeros, lazily
    same((value, grads), f(w, X, y))


def test_a_scatter_dask_cannot_do_in_place_is_refused_by_name(client):
    X = np.arange(12.0).reshape(6, 2)
    f = grad(gathered, cache=False)
    idx = np.array([0, 2, 2])
    with pytest.raises(GradError, match="index array"):
        f(da.from_array(X, chunks=(3, 2)), idx)


def test_has_aux_keeps_the_aux_lazy(client):
    w, X, _ = data(rows=40, seed=6)
    f = value_and_grad(with_aux, has_aux=True, cache=False)
    lazy = f(w, da.from_array(X, chunks=(10, 5)))
    same(lazy, f(w, X))


def test_a_data_dependent_while_is_refused_too(client):
    w, X, _ = data(rows=40, seed=7)
    with pytest.raises(GradError, match="while t > 1.0"):
        grad(halving, cache=False)(w, da.from_array(X, chunks=(10, 5)))


def column_by_column(X, w):
    total = 0.0
    for k in range(3):
        total = total + np.sum(X[:, k] * w[k])
    return total


def masked_square(x):
    return np.sum(x[x > 0] ** 2)


def least_squares(w, X, y):
    r = X @ w - y
    return np.mean(r * r)


def test_a_numpy_parameter_indexed_in_a_loop_against_dask_data(client):
    # dw[k] gets a lazy value each iteration: the gradient is built lazily, not written into w's
    # NumPy buffer (and an integer index is not refused as an index array)
    w, X, _ = data(rows=40, cols=3, seed=7)
    f = value_and_grad(column_by_column, wrt=(0, 1), cache=False)
    same(f(da.from_array(X, chunks=(10, 3)), w), f(X, w))


def test_a_length_that_depends_on_the_data_is_refused_at_the_users_line(client):
    x = np.linspace(-1.0, 1.0, 40)
    with pytest.raises(GradError, match=r"line \d+, in masked_square[\s\S]*np.where"):
        grad(masked_square, cache=False)(da.from_array(x, chunks=10))


def test_an_argument_of_unknown_chunk_sizes_is_refused_by_name(client):
    w, X, y = data(rows=40, cols=3, seed=8)
    Xd = da.from_array(X, chunks=(10, 3))
    keep = Xd[:, 0] > 0
    with pytest.raises(GradError, match=r"`X`[\s\S]*compute_chunk_sizes"):
        value_and_grad(least_squares, cache=False)(w, Xd[keep], da.from_array(y, chunks=10)[keep])
