"""Where a build's time goes: the "sourcead" logger, the stages it times, the slow-build warning.

A build is everything one decoration (or one new call signature of array code) does before the
generated function runs: parse and lower, optimise, differentiate, specialise, emit, compile.
`stage(name)` times one of them (as a context manager or a decorator); the time of a stage nested
in another is its own, not its parent's, so the stages of one build add up to the build's time.
Each stage is logged at DEBUG on the "sourcead" logger, which prints nothing unless the user
configures logging (`logging.basicConfig(level=logging.DEBUG)`).

`building(fn)` brackets one build of `fn`. When the outermost one ends after more than
`SLOW_BUILD_SECONDS`, a `SlowBuildWarning` is issued at fn's `def` line, once per function, naming
the stages that took the time and what to do about it. The cyclic garbage collector is paused
for the bracket: a build allocates hundreds of thousands of small objects (IR, syntax trees) and
no cycles worth collecting, and each full collection during it walked them all again (a third of
a large version's build time).
"""
from __future__ import annotations

import contextlib
import functools
import gc
import logging
import threading
import time
import warnings

logger = logging.getLogger("sourcead")
logger.addHandler(logging.NullHandler())

SLOW_BUILD_SECONDS = 1.0


class SlowBuildWarning(UserWarning):
    """A function took more than SLOW_BUILD_SECONDS to compile (issued once per function)."""


class _Build:
    """One build in progress: its function, start time, and the seconds each stage took."""

    __slots__ = ("fn", "start", "stages", "stack")

    def __init__(self, fn):
        self.fn = fn
        self.start = time.perf_counter()
        self.stages = {}  # stage name -> seconds of its own (nested stages not counted in it)
        self.stack = []   # [seconds spent in nested stages] per open stage


_local = threading.local()
_warned = set()  # (file, line, name) of the functions already warned about
_lock = threading.Lock()


def _current():
    return getattr(_local, "build", None)


class stage:  # noqa: N801  (used as a function: `with stage("emit"):`, `@stage("emit")`)
    """Time one stage of the build in progress (its own time, nested stages excluded) and log it
    at DEBUG; outside a build it is only logged. As a decorator, each call is one stage (the
    wrapper lives in this module, so warnings that look for the user's frame skip it)."""

    __slots__ = ("name", "build", "start")

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.build = build = _current()
        if build is not None:
            build.stack.append(0.0)
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        spent = time.perf_counter() - self.start
        build = self.build
        own = spent
        if build is not None:
            own -= build.stack.pop()
            if build.stack:
                build.stack[-1] += spent
            build.stages[self.name] = build.stages.get(self.name, 0.0) + own
        if logger.isEnabledFor(logging.DEBUG):
            who = getattr(build.fn, "__qualname__", "?") if build is not None else "-"
            logger.debug("%s: %s %s", who, self.name, _seconds(own))
        return False

    def __call__(self, fn):
        name = self.name

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            with stage(name):
                return fn(*args, **kwargs)
        return timed


@contextlib.contextmanager
def building(fn):
    """Bracket one build of `fn`. Builds nested in it (the gradient a gradient differentiates, a
    version for containers) count as its stages; when the outermost ends, it is logged and, if
    slow, warned about once."""
    outer = _current()
    if outer is not None:
        yield
        return
    build = _local.build = _Build(fn)
    _pause_collector()
    try:
        yield
    finally:
        _resume_collector()
        _local.build = None
        _finish(build)


_collector = {"builds": 0, "resume": False}  # builds running (any thread); was gc on before them
_collector_lock = threading.Lock()


def _pause_collector():
    with _collector_lock:
        if _collector["builds"] == 0:
            _collector["resume"] = gc.isenabled()
            gc.disable()
        _collector["builds"] += 1


def _resume_collector():
    with _collector_lock:
        _collector["builds"] -= 1
        if _collector["builds"] == 0 and _collector["resume"]:
            gc.enable()


def _finish(build):
    total = time.perf_counter() - build.start
    name = getattr(build.fn, "__qualname__", repr(build.fn))
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s: built in %s (%s)", name, _seconds(total), _summary(build.stages, 10))
    if total > SLOW_BUILD_SECONDS and _first_warning(build.fn):
        filename, lineno = _def_line(build.fn)
        message = (f"building the gradient of {name} took {total:.1f} s "
                   f"({_summary(build.stages, 3)}). A build costs about a millisecond for each "
                   "statement it goes through, helpers' statements included (they are inlined "
                   "at each call): write repeated statements as a loop (its body is built "
                   "once, not once per pass), and decorate once per process, at import, not "
                   "in code that runs often. The generated code is kept on disk, so the next "
                   "process loads it instead of building it again (unless the cache is off: "
                   "SOURCEAD_CACHE=off or cache=False). logging.getLogger('sourcead') at DEBUG "
                   "shows every stage.")
        module = getattr(build.fn, "__module__", None) or "<unknown>"
        warnings.warn_explicit(message, SlowBuildWarning, filename, lineno, module=module,
                               module_globals=getattr(build.fn, "__globals__", None))


def _summary(stages, top):
    ranked = sorted(stages.items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{name} {_seconds(seconds)}" for name, seconds in ranked) or "no stages timed"


def _seconds(seconds):
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    return f"{seconds * 1e3:.0f} ms" if seconds >= 0.01 else f"{seconds * 1e3:.1f} ms"


def _first_warning(fn):
    """True the first time a function is warned about. A function is known by where it is defined
    (code objects compare equal across files when their text is the same, so they cannot say)."""
    code = getattr(fn, "__code__", None)
    key = (code.co_filename, code.co_firstlineno, code.co_name) if code is not None else id(fn)
    with _lock:
        if key in _warned:
            return False
        _warned.add(key)
    return True


def _def_line(fn):
    """The file and line of fn's `def` (not of its first decorator, which co_firstlineno gives)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return "<unknown>", 0
    from .frontend.source import _source_cache  # noqa: PLC0415  (parsed already, if it was built)
    src = _source_cache.get(code)
    if src is not None and getattr(src.node, "lineno", None) is not None:
        return src.filename, src.node.lineno + src.line_offset
    return code.co_filename, code.co_firstlineno
