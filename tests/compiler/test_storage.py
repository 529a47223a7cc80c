"""The storage plan (compiler/storage.py) on its own: which values share a name, which updates are
in place, which arrays are freed, on small graphs built by hand."""
import numpy as np

from compiler.ir import Builder, Graph, Var
from compiler.storage import StoragePlan


def plan(graph, arrays, shape=(3,)):
    shapes = {v: shape for v in arrays}
    dtypes = {v: np.dtype("float64") for v in arrays}
    return StoragePlan(graph, lambda v: v in arrays, shapes, dtypes)


def test_a_dying_temporary_is_updated_in_place_and_the_chain_keeps_its_first_name():
    x, y = Var("x"), Var("y")
    b = Builder()
    z = b.emit("mul", [x, y], hint="z")
    t = b.emit("add", [z, y])            # z dies here: t can live in z's array
    u = b.emit("mul", [t, x], hint="u")  # ... and so can u
    graph = Graph("f", [x, y], b.eqns, [u])
    p = plan(graph, {x, y, z, t, u})
    assert (b.eqns[1], 0) in p.inplace and (b.eqns[2], 0) in p.inplace
    assert p.root(t) is z and p.root(u) is z  # named `z`, the first value the array held
    assert p.frees == {}                       # z's array is the result: never freed


def test_a_value_read_later_is_not_overwritten_and_is_freed_after_its_last_read():
    x = Var("x")
    b = Builder()
    z = b.emit("mul", [x, x], hint="z")
    t = b.emit("add", [z, x])   # z is read again below: no in-place update into it
    w = b.emit("mul", [z, t], hint="w")
    graph = Graph("f", [x], b.eqns, [w])
    p = plan(graph, {x, z, t, w})
    assert (b.eqns[1], 0) not in p.inplace
    assert (b.eqns[2], 0) in p.inplace and p.root(w) is z  # z dies at w = z * t: w takes it
    assert p.frees == {2: [t]}                               # t is deleted after its last read


def test_forward_values_and_adjoints_never_share_a_name():
    x = Var("x")
    b = Builder()
    b.loc = (None, "forward")
    out = b.emit("mul", [x, x], hint="out")
    b.loc = (None, "adjoint")
    dout = b.emit("mul", [out, x], hint=out)   # an adjoint (hinted by its primal value)
    graph = Graph("f", [x], b.eqns, [dout])
    p = plan(graph, {x, out, dout})
    assert (b.eqns[1], 0) in p.inplace        # the array is reused...
    assert p.root(dout) is dout               # ... under the adjoint's own name
    assert p.root(out) is out


def test_generic_code_shares_names_only():
    x = Var("x")
    b = Builder()
    z = b.emit("mul", [x, x], hint="z")
    t = b.emit("add", [z, x])
    graph = Graph("f", [x], b.eqns, [t])
    p = StoragePlan(graph, lambda v: False, {}, None)
    assert not p.inplace and not p.frees
