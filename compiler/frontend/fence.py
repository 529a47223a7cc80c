"""The syntax fence: what the compiler refuses by reading the code alone, and what it says.

Every check here looks at syntax only (a statement's kind, an operator, a signature, a call's
starred arguments); refusals that depend on what a name holds are made where the value is known.
The lowering calls these where it meets the node, so that the first problem in the function is
the one reported. Each refusal names the user's line and says what to write instead.
"""
from __future__ import annotations

import ast

from ..errors import error_at

# What to tell the user for syntax the compiler does not handle.
UNSUPPORTED = {
    ast.Try: "try/except cannot be differentiated: check the inputs before calling instead.",
    ast.With: "`with` blocks cannot be differentiated: move the context manager outside the function.",
    ast.AsyncWith: "`async with` cannot be differentiated.",
    ast.Global: "`global` declarations are not supported: pass the value as an argument instead.",
    ast.Nonlocal: "`nonlocal` declarations are not supported: return the value instead.",
    ast.Raise: "`raise` cannot be differentiated: validate the inputs before calling instead.",
    ast.Delete: "`del` is not supported in a differentiated function: just stop using the name.",
    ast.ClassDef: "class definitions are not supported inside a differentiated function: "
                  "define the class outside it.",
    ast.AsyncFunctionDef: "async functions cannot be differentiated.",
    ast.Import: "imports inside a differentiated function are not supported: import at module level.",
    ast.ImportFrom: "imports inside a differentiated function are not supported: import at module level.",
    ast.Assert: "`assert` is not supported in a differentiated function: check the inputs before calling.",
    ast.Yield: "`yield` cannot be differentiated: return the value instead.",
    ast.YieldFrom: "`yield from` cannot be differentiated: return the value instead.",
    ast.Await: "`await` cannot be differentiated.",
    ast.JoinedStr: "f-strings are not supported in a differentiated function, which computes numbers "
                   "only: remove it, or build the text outside the function.",
    ast.Starred: "starred arguments (*args) are not supported: pass the arguments one by one.",
    ast.NamedExpr: "the walrus operator := is not supported: assign on a line of its own.",
    ast.ListComp: "list comprehensions are not supported yet: write a for loop.",
    ast.SetComp: "set comprehensions are not supported: use a list comprehension [...] instead.",
    ast.DictComp: "dict comprehensions are not supported.",
    ast.GeneratorExp: "generator expressions are not supported: write a for loop.",
    ast.Set: "sets are not supported in a differentiated function.",
}

BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow",
          ast.Mod: "mod", ast.FloorDiv: "floordiv", ast.MatMult: "matmul"}
CMPOPS = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq", ast.NotEq: "ne"}


def unsupported(src, node, kind):
    """The refusal of a statement or expression the compiler does not handle (`kind` names which,
    for the ones the table does not know)."""
    message = UNSUPPORTED.get(type(node), f"`{type(node).__name__}` {kind} are not supported.")
    return error_at(src.location(node), message)


# --- definitions ---------------------------------------------------------------------------------

def check_signature(src, args):
    if args.vararg is not None or args.kwarg is not None:
        bad = args.vararg or args.kwarg
        raise error_at(src.location(bad), "*args and **kwargs cannot be differentiated: "
                                          "name each argument.")
    if args.posonlyargs:
        raise error_at(src.location(args.posonlyargs[0]),
                       "positional-only parameters (/) are not supported: remove the `/`.")


def check_nested_def(src, node):
    if node.decorator_list:
        raise error_at(src.location(node.decorator_list[0]),
                       "decorators on nested functions are not supported: remove the decorator.")
    check_signature(src, node.args)


# --- statements ----------------------------------------------------------------------------------

def check_update_target(src, target):
    """`x += ...` and `y[i] += ...` only."""
    if not isinstance(target, ast.Name):
        raise error_at(src.location(target),
                       "only a name or an array element can be updated in place here "
                       "(x += ..., y[i] += ...).")


def assignment_target(src, target):
    """The refusal of an assignment to anything but names, tuples of names and array elements."""
    return error_at(src.location(target),
                    f"assignment to {ast.unparse(target)} is not supported: assign to a "
                    "plain name or to an element of an array (y[i] = v).")


def check_return(src, node):
    if node.value is None:
        raise error_at(src.location(node), "`return` needs a value to differentiate.")


def discarded_value(src, node):
    """The refusal of an expression statement (other than `name.append(...)` and a docstring)."""
    return error_at(src.location(node),
                    "an expression whose value is thrown away (such as a print call) has no "
                    "effect on the result and is not supported: remove it, or assign it.")


def check_append(src, call):
    if len(call.args) != 1 or call.keywords:
        raise error_at(src.location(call), "append() takes one value.")


def check_loop(src, node):
    """No `else` clause on a loop."""
    if node.orelse:
        kind = "for" if isinstance(node, ast.For) else "while"
        raise error_at(src.location(node.orelse[0]),
                       f"`{kind} ... else` is not supported: set a flag before `break` instead.")


def check_loop_target(src, target):
    if not isinstance(target, ast.Name):
        raise error_at(src.location(target),
                       "loop over range(...) with a single name, e.g. `for i in range(n):`.")


# --- expressions ---------------------------------------------------------------------------------

def check_unary(src, node):
    if not isinstance(node.op, (ast.UAdd, ast.USub, ast.Not)):
        raise error_at(src.location(node), "the ~ operator is not supported.")


def binop_prim(op, src, node):
    """The primitive of a binary operator (`op` is its ast class)."""
    prim = BINOPS.get(op)
    if prim is None:
        symbol = {ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
                  ast.LShift: "<<", ast.RShift: ">>"}.get(op, op.__name__)
        raise error_at(src.location(node), f"the {symbol} operator is not supported on numbers here.")
    return prim


def compare_prim(op, src, node):
    """The primitive of a comparison operator (`op` is the ast node)."""
    prim = CMPOPS.get(type(op))
    if prim is None:
        raise error_at(src.location(node), f"the comparison {type(op).__name__} is not supported.")
    return prim


def check_call(src, node):
    """No `*args` or `**kwargs` at a call."""
    for a in node.args:
        if isinstance(a, ast.Starred):
            raise error_at(src.location(a), UNSUPPORTED[ast.Starred])
    for k in node.keywords:
        if k.arg is None:
            raise error_at(src.location(k.value),
                           "**kwargs at a call are not supported: pass each keyword by name.")
