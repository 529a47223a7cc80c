"""What `.source` shows is what runs; `.versions` and `.ir_for` show the specialised versions
(issue "Architecture for growth", items 5 and 6)."""
import numpy as np

from compiler import grad


def test_source_lists_the_versions_calls_made():
    g = grad(_f, wrt=1)
    assert g.versions == {} and not g.source.startswith("#")
    x1, x2, w = np.ones((2, 3)), np.ones((4, 3)), np.ones(3)
    g(x1, w)
    g(x2, w)
    g(x2, w)  # the same signature again: no new version
    assert list(g.versions) == ["x: float64[2, 3], w: float64[3]", "x: float64[4, 3], w: float64[3]"]
    header = g.source.split("def make_")[0]
    for signature in g.versions:
        assert signature in header
    for args, signature in (((x1, w), "x: float64[2, 3], w: float64[3]"),
                            ((x2, w), "x: float64[4, 3], w: float64[3]")):
        assert g.source_for(*args) == g.versions[signature]


def test_the_source_of_a_version_is_the_code_that_runs():
    g = grad(_f, wrt=1)
    x, w = np.ones((2, 3)), np.ones(3)
    g(x, w)
    source = g.source_for(x, w)
    version = g._sourcead.cache[next(iter(g._sourcead.cache))][1]
    inner = version.__code__
    compiled = compile(source, inner.co_filename, "exec")
    factory = next(c for c in compiled.co_consts if hasattr(c, "co_code"))
    function = next(c for c in factory.co_consts if hasattr(c, "co_code"))
    assert function.co_code == inner.co_code and function.co_names == inner.co_names


def test_typed_ir_shows_shapes_and_dtypes():
    g = grad(_f, wrt=1)
    x, w = np.ones((2, 3), dtype=np.float32), np.ones(3)
    text = g.ir_for(x, w)
    assert "x:f32[2,3]" in text and "w:f64[3]" in text and "dw:f64[3]" in text, text
    assert ":f64[2]" in text  # an intermediate value of the batch's shape


def _f(x, w):
    return np.sum(np.tanh(x @ w))
