"""Shared helpers for the reliability suite: loading generated modules, checking gradients and
checking that a GradError points at the user's code."""
import importlib.util
import itertools
import re

import numpy as np

from compiler import GradError
from runtime.gradcheck import compare, numerical_grad

_counter = itertools.count()


def load_source(tmp_path, text, stem="generated"):
    """Write `text` to a real .py file under tmp_path and import it (the compiler reads source, so
    a generated function must live in a file). The module gets a unique name and is not put in
    sys.modules."""
    name = f"reliability_{stem}_{next(_counter)}"
    path = tmp_path / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def assert_matches_central_differences(fn, args, grads, wrt, atol=1e-6, rtol=1e-5):
    """Each gradient in `grads` (one per index in `wrt`) agrees with central differences of fn."""
    for i, g in zip(wrt, as_tuple(grads)):
        numeric = numerical_grad(fn, args, i)
        abs_err, rel_err, ok = compare(g, numeric, atol=atol, rtol=rtol)
        assert ok, f"argument {i}: compiled {g!r} vs numeric {numeric!r} (abs {abs_err:.2e}, rel {rel_err:.2e})"
        assert np.shape(g) == np.shape(args[i]), (np.shape(g), np.shape(args[i]))


def assert_located(exc, path, lineno, anchor, words=()):
    """A GradError whose message names the file and line, shows the line, puts a caret under
    `anchor`, and contains each of `words` (case-insensitive)."""
    assert type(exc) is GradError, f"{type(exc).__name__}: {exc}"
    message = str(exc)
    assert f'File "{path}", line {lineno}' in message, message
    lines = message.splitlines()
    carets = [i for i, line in enumerate(lines) if re.fullmatch(r"\s*\^+\s*", line)]
    assert carets, f"no caret line:\n{message}"
    i = carets[0]
    shown = lines[i - 1]
    col = lines[i].index("^")
    assert shown[col:].startswith(anchor), f"caret under {shown[col:]!r}, expected {anchor!r}:\n{message}"
    assert "internal compiler error" not in message, message
    for word in words:
        assert word.lower() in message.lower(), f"{word!r} not in:\n{message}"
    return message


def line_of(path, needle):
    """The 1-based number of the only line of `path` that contains `needle`."""
    with open(path, encoding="utf-8") as fh:
        hits = [n for n, line in enumerate(fh, 1) if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]
