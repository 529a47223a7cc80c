"""The only part of the compiler that reads Python syntax: a user's function -> a `Graph` of primitives.

What it guarantees about the graph it returns:
- one primitive per equation, in the order Python would evaluate them (left to right, inner first);
- every name the user reassigns becomes a fresh variable (SSA), hinted with the user's name;
- calls are resolved by the object a name refers to when the graph is built (math.sin, np.sin, a
  user's own function): primitives become equations, the user's functions are inlined (their
  bodies lowered in place, with their own globals and closures), nested `def`s likewise;
- numeric values of globals and closure cells are read when the gradient runs (`global` and `cell`
  equations), as plain Python would read them; module constants such as math.pi are folded in.
Anything else raises a `GradError` naming the user's file, line and code, and what to do instead.

Modules, each the owner of one thing:
    source.py    reading a function's source: parsing, locations, questions about the syntax tree
    values.py    the values a name can hold (numbers, tuples, functions, lists) and the scopes
    fence.py     what is refused by syntax alone, and what the refusal says
    calls.py     calls and their arguments, inlining, which functions are a library's
    lowering.py  `Lowering`: statements, expressions, branches and loops -> equations
"""
from .calls import ARRAY_CALLS, Calls, is_library
from .lowering import Lowering, TrackingBuilder, lower
from .source import FuncSource, identifiers, parse_function
from .values import (BoundMethod, ListVal, LocalFunc, PyObj, Scope, TupleVal)

__all__ = ["lower", "parse_function", "identifiers", "is_library", "ARRAY_CALLS", "Lowering",
           "Calls", "TrackingBuilder", "FuncSource", "Scope", "PyObj", "TupleVal", "BoundMethod",
           "LocalFunc", "ListVal"]
