"""The SymPy pass's time budget: SymPy runs in a worker process that is killed when it overruns,
so no decoration waits much past the budget, whatever the function; past it, the unsimplified
gradient and one warning naming the function. (What it computes: test_symbolic.py.)"""
import math
import threading
import warnings

import pytest

import symbolic_funcs as S
import compiler.symbolic as symbolic
from compiler import grad
from runtime.gradcheck import compare, numerical_grad

CHAINS = [(S.chain9, (0.4, 0.9)), (S.chain8, (0.4, -0.3)), (S.chain30, (0.7, 0.2)),
          (S.chain50, (0.3, -0.5, 0.8))]


@pytest.fixture(autouse=True)
def sympy_worker_ready():
    assert symbolic.start_worker(wait=30), "the SymPy worker did not start"


def decorate(fn, n, **settings):
    """grad(fn, simplify="sympy") under `settings` (module settings of compiler.symbolic), and the
    SimplifyWarnings it gave."""
    saved = {k: getattr(symbolic, k) for k in settings}
    try:
        for k, v in settings.items():
            setattr(symbolic, k, v)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            g = grad(fn, wrt=tuple(range(n)), simplify="sympy")
    finally:
        for k, v in saved.items():
            setattr(symbolic, k, v)
    return g, [w for w in caught if issubclass(w.category, symbolic.SimplifyWarning)]


def assert_exact(fn, g, args):
    plain = grad(fn, wrt=tuple(range(len(args))))(*args)
    for i, (a, b) in enumerate(zip(plain, g(*args))):
        assert b == pytest.approx(a, rel=1e-12, abs=1e-12)
        assert compare(b, numerical_grad(fn, args, i))[2]


@pytest.mark.parametrize("fn, args", CHAINS[1:], ids=[c[0].__name__ for c in CHAINS[1:]])
def test_past_the_budget_the_unsimplified_gradient_and_one_warning(fn, args):
    # SymPy as it ran before the budget held: sympy.simplify on each whole gradient, no piece
    # bounded (25 s to minutes on these chains; chain9 can take under a second); 0.3 s is far
    # too little
    g, caught = decorate(fn, len(args), BUDGET_SECONDS=0.3, PIECE_OPS=10**6, SIMPLIFY_OPS=10**6,
                         BOUND_STEPS=False)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert fn.__name__ in message and "0.3 s" in message and "unsimplified" in message
    assert g.source == grad(fn, wrt=tuple(range(len(args)))).source
    assert_exact(fn, g, args)


@pytest.mark.parametrize("fn, args", CHAINS, ids=[c[0].__name__ for c in CHAINS])
def test_with_the_pieces_bounded_a_small_budget_is_enough_or_warned(fn, args):
    g, caught = decorate(fn, len(args), BUDGET_SECONDS=0.3)
    assert len(caught) <= 1
    if caught:
        assert g.source == grad(fn, wrt=tuple(range(len(args)))).source
    assert_exact(fn, g, args)


def test_a_worker_that_overruns_is_killed_and_replaced():
    # the parent stops waiting before the worker's own alarm would answer: the worker is killed
    worker = symbolic._WORKER
    before = worker.proc.pid
    g, caught = decorate(S.chain50, 3, BUDGET_SECONDS=0.3, _GRACE=-0.2, PIECE_OPS=10**6,
                         SIMPLIFY_OPS=10**6, BOUND_STEPS=False)
    assert len(caught) == 1
    assert worker.proc.pid != before  # a new worker started at once
    assert_exact(S.chain50, g, (0.3, -0.5, 0.8))
    # the new one is still starting (Python alone takes longer than 0.05 s): waited for within
    # the budget only, and left to start
    g, caught = decorate(S.chain9, 2, BUDGET_SECONDS=0.05)
    assert len(caught) == 1 and "still starting" in str(caught[0].message)
    assert_exact(S.chain9, g, (0.4, 0.9))
    assert symbolic.start_worker(wait=30)
    g, caught = decorate(S.sqrt_squared, 1)  # and it works
    assert not caught and g(2.0) == (1.0,)


def test_a_crashed_worker_is_restarted():
    symbolic._WORKER.proc.kill()
    symbolic._WORKER.proc.wait()
    g, caught = decorate(S.sqrt_squared, 1)  # the dead worker is noticed, and the next starts
    assert len(caught) <= 1
    assert symbolic.start_worker(wait=30)
    g, caught = decorate(S.sqrt_squared, 1)
    assert not caught and g(2.0) == (1.0,)


def test_decorating_from_many_threads_at_once():
    functions = [(S.chain9, (0.4, 0.9)), (S.sqrt_squared, (2.0,)), (S.trig_identity, (0.3, 0.7)),
                 (S.rational, (1.3, 0.4)), (S.log_of_exp, (3.0,)), (S.cancelled_quotient, (1.3, -0.6))]
    jobs = functions * 2
    results = [None] * len(jobs)
    errors = []
    barrier = threading.Barrier(len(jobs))

    def work(k, fn, args):
        try:
            barrier.wait()
            results[k] = grad(fn, wrt=tuple(range(len(args))), simplify="sympy")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", symbolic.SimplifyWarning)  # the budget holds per thread
        threads = [threading.Thread(target=work, args=(k, fn, args))
                   for k, (fn, args) in enumerate(jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    for g, (fn, args) in zip(results, jobs):
        assert_exact(fn, g, args)


def test_the_worker_answers_callers_from_many_threads_in_turn(monkeypatch):
    """The pass itself, called from threads at once (the decorator serialises builds; the worker's
    own lock must too): each caller gets the answer to its own problem."""
    monkeypatch.setattr(symbolic, "PIECE_SECONDS", 20.0)  # no rewrite cut short: one answer each
    from compiler.passes import optimize, prune_saves
    from compiler.specialize import specialize

    graphs = []
    for fn in (S.sqrt_squared, S.log_of_exp, S.exp_of_log):
        compiled = grad(fn)._sourcead
        graphs.append(prune_saves(optimize(specialize(compiled.grad_graph, {}, {}, default="scalar"))))
    alone = [str(symbolic.simplify_gradients(g, [0], budget=20.0)) for g in graphs]
    assert str(graphs[0]) != alone[0]  # d/dx sqrt(x)**2 is 1 (with the checks of sqrt(x))
    out = {}

    def work(k):
        out[k] = str(symbolic.simplify_gradients(graphs[k % 3], [0], budget=20.0))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [out[k] for k in range(9)] == alone * 3


def test_budget_bounds_the_wait_for_another_callers_turn():
    worker = symbolic._WORKER
    with worker.lock:  # another caller holds the worker
        answer = worker.ask({"nodes": [], "roots": [], "deadline": 0.0}, deadline=0.0)
    assert answer == {"status": "timeout"}


def test_graph_name_in_warning_is_the_users_function():
    g, caught = decorate(S.chain30, 2, BUDGET_SECONDS=0.0)
    assert len(caught) == 1 and "chain30" in str(caught[0].message)
    assert caught[0].filename == __file__  # pointing at the decoration, not at the compiler
    assert math.isfinite(g(0.7, 0.2)[0])
