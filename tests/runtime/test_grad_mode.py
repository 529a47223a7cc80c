"""no_grad / enable_grad / set_grad_enabled: context managers, decorators, per thread."""
import threading

import runtime as rt


def test_no_grad_results_do_not_require_grad():
    x = rt.tensor(1.0, requires_grad=True)
    with rt.no_grad():
        y = x * 2
        assert not rt.is_grad_enabled()
    assert not y.requires_grad and rt.is_grad_enabled()
    assert (x * 2).requires_grad


def test_no_grad_as_a_decorator():
    @rt.no_grad()
    def step(w):
        return w * 2

    w = rt.tensor(1.0, requires_grad=True)
    assert not step(w).requires_grad and rt.is_grad_enabled()
    assert step.__name__ == "step"


def test_decorators_without_parentheses():
    @rt.no_grad
    def step(w):
        return w * 2

    @rt.enable_grad
    def tracked(w):
        return w * 2

    w = rt.tensor(1.0, requires_grad=True)
    assert not step(w).requires_grad
    with rt.no_grad():
        assert tracked(w).requires_grad


def test_enable_grad_inside_no_grad():
    x = rt.tensor(1.0, requires_grad=True)
    with rt.no_grad():
        with rt.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad


def test_set_grad_enabled_as_call_and_context():
    with rt.set_grad_enabled(False):
        assert not rt.is_grad_enabled()
    assert rt.is_grad_enabled()
    rt.set_grad_enabled(False)
    assert not rt.is_grad_enabled()
    rt.set_grad_enabled(True)


def test_mode_is_restored_after_an_exception():
    try:
        with rt.no_grad():
            raise KeyError
    except KeyError:
        pass
    assert rt.is_grad_enabled()


def test_grad_mode_is_per_thread():
    x = rt.tensor(1.0, requires_grad=True)
    inside, seen = threading.Event(), {}

    def other():
        with rt.no_grad():
            inside.set()
            release.wait(5)
            seen["other"] = (x * 2).requires_grad

    release = threading.Event()
    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    seen["main"] = (x * 2).requires_grad        # the other thread's no_grad does not reach us
    release.set()
    t.join()
    assert seen == {"main": True, "other": False}
