"""The one exception the compiler raises for anything the user wrote, and how it points at the user's code.

Every message has the same shape, like a Python traceback line the user already knows how to read:

    File "/home/me/model.py", line 12, in loss
        y = lambda t: t * t
            ^^^^^^^^^^^^^^^
    lambda expressions are not supported: define the function with `def` instead.
"""
from __future__ import annotations


class GradError(Exception):
    """Something in the user's function (or its arguments) the compiler cannot differentiate."""


class Location:
    """Where a piece of the user's source sits: file, function, line, columns, and the line's text."""

    __slots__ = ("filename", "funcname", "lineno", "col", "end_col", "text")

    def __init__(self, filename, funcname, lineno, col=0, end_col=None, text=""):
        self.filename = filename
        self.funcname = funcname
        self.lineno = lineno
        self.col = col
        self.end_col = end_col
        self.text = text

    def render(self):
        head = f'File "{self.filename}", line {self.lineno}, in {self.funcname}'
        if not self.text:
            return head
        stripped = self.text.lstrip()
        indent = len(self.text) - len(stripped)
        col = max(self.col - indent, 0)
        end = self.end_col if self.end_col is not None and self.end_col > self.col else self.col + 1
        width = max(min(end - indent, len(stripped)) - col, 1)
        return f"{head}\n    {stripped.rstrip()}\n    {' ' * col}{'^' * width}"


def error_at(location, message):
    """A GradError whose text starts with the user's file, line and a caret under the offending code."""
    if location is None:
        return GradError(message)
    return GradError(f"{location.render()}\n{message}")
