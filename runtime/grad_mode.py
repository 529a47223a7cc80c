"""Grad mode: whether operations are recorded on the tape, per thread.

`no_grad()` and `enable_grad()` work as context managers and as decorators, like PyTorch's. The flag is
thread-local so that one thread's `with no_grad():` (say, an evaluation loop) never stops another thread
from recording. The engine also sets it: a backward pass records itself only when `create_graph=True`.
"""
from __future__ import annotations

import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]


class _State(threading.local):
    # A class attribute is the default each new thread sees before it sets its own.
    enabled = True


STATE = _State()


def is_grad_enabled() -> bool:
    """True when operations on tensors that require grad are being recorded in this thread."""
    return STATE.enabled


class _GradModeContext:
    """Sets grad mode on entry and restores the previous mode on exit; also a decorator, with or
    without parentheses (`@no_grad()` and `@no_grad`, as PyTorch)."""

    _mode = True

    def __new__(cls, *args):
        self = super().__new__(cls)
        if len(args) == 1 and callable(args[0]) and cls is not set_grad_enabled:
            return self(args[0])
        return self

    def __enter__(self):
        self._prev = STATE.enabled
        STATE.enabled = self._mode
        return self

    def __exit__(self, exc_type, exc, tb):
        STATE.enabled = self._prev
        return False

    def __call__(self, func):
        mode = self._mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            prev = STATE.enabled
            STATE.enabled = mode
            try:
                return func(*args, **kwargs)
            finally:
                STATE.enabled = prev

        return wrapper


class no_grad(_GradModeContext):
    """Stop recording: results of operations inside do not require grad (e.g. parameter updates)."""

    _mode = False


class enable_grad(_GradModeContext):
    """Record again inside a `no_grad` region."""

    _mode = True


class set_grad_enabled(_GradModeContext):
    """Set grad mode to `mode` immediately (a plain call) or for a `with` block."""

    def __init__(self, mode: bool):
        self._mode = bool(mode)
        self._prev = STATE.enabled
        STATE.enabled = self._mode

    def __enter__(self):
        return self
