"""The only module that reads Python syntax: a user's function -> a `Graph` of primitives.

What it guarantees about the graph it returns:
- one primitive per equation, in the order Python would evaluate them (left to right, inner first);
- every name the user reassigns becomes a fresh variable (SSA), hinted with the user's name;
- calls are resolved by the object a name refers to when the graph is built (math.sin, np.sin, a
  user's own function): primitives become equations, the user's functions are inlined (their
  bodies lowered in place, with their own globals and closures), nested `def`s likewise;
- numeric values of globals and closure cells are read when the gradient runs (`global` and `cell`
  equations), as plain Python would read them; module constants such as math.pi are folded in.
Anything else raises a `GradError` naming the user's file, line and code, and what to do instead.
"""
from __future__ import annotations

import ast
import builtins
import inspect
import linecache
import sys
import textwrap
import types

import numpy as np

from .aliasing import UNKNOWN, Memory, storage_hint
from .errors import GradError, Location, error_at
from .ir import Builder, Const, Eqn, Graph, Var
from .custom import USER_RESOLVE
from .primitives import METHODS, MODULE_CONSTANTS, PRIMS, RESOLVE, VARIADIC, having

# NumPy functions whose keyword arguments (axis, keepdims, shape) are read when the graph is built
ARRAY_CALLS = having("static_args")


# --- reading a function's source -----------------------------------------------------------------

class FuncSource:
    """A user function's parsed definition, and where its text lives."""

    def __init__(self, fn, node, filename, lines, line_offset, col_offset):
        self.fn = fn
        self.node = node                  # the ast.FunctionDef, decorators removed
        self.filename = filename
        self.lines = lines                # the file's lines, for error messages and comments
        self.line_offset = line_offset    # add to an ast lineno to get the file's line number
        self.col_offset = col_offset      # add to an ast col_offset to get the file's column
        self.name = fn.__name__
        self.globals = fn.__globals__
        code = fn.__code__
        cells = fn.__closure__ or ()
        self.cells = dict(zip(code.co_freevars, cells))

    def location(self, node):
        lineno = getattr(node, "lineno", None)
        if lineno is None:
            lineno = self.node.lineno
            node = self.node
        line = lineno + self.line_offset
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        col = getattr(node, "col_offset", 0) + self.col_offset
        end_col = getattr(node, "end_col_offset", None)
        if end_col is not None:
            end_col += self.col_offset
            if getattr(node, "end_lineno", lineno) != lineno:
                end_col = len(text.rstrip())
        return Location(self.filename, self.name, line, col, end_col, text)


_source_cache = {}


def _definition_location(fn):
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    return Location(code.co_filename, fn.__name__, code.co_firstlineno, 0, None, "")


def _special_location(fn, node_types):
    """Where a lambda, a `yield` or an `async def` sits in fn's source (the definition line when the
    source cannot be read)."""
    code = fn.__code__
    try:
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return _definition_location(fn)
    start = max(start, 1)
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    shift = _indent_of(lines[0]) - _indent_of(dedented.splitlines()[0] + "\n") if lines else 0
    try:
        tree = ast.parse(dedented)
    except SyntaxError:
        # a lambda inside a larger expression: parse the line alone, as far as it goes
        tree = None
        for end in range(len(dedented), 0, -1):
            try:
                tree = ast.parse(dedented[:end].strip().rstrip(",)"))
                break
            except SyntaxError:
                continue
        if tree is None:
            return _definition_location(fn)
        shift = len(lines[0]) - len(lines[0].lstrip())
    found = [n for n in ast.walk(tree) if isinstance(n, node_types)]
    if node_types is ast.Lambda:  # the lambda whose parameters are fn's, if a line has several
        names = list(code.co_varnames[:code.co_argcount])
        found.sort(key=lambda n: [a.arg for a in n.args.args] != names)
    for node in found[:1]:
        line = start + node.lineno - 1
        all_lines = linecache.getlines(code.co_filename) or lines
        row = all_lines[line - 1] if 0 < line <= len(all_lines) else ""
        end = node.end_col_offset + shift if node.end_lineno == node.lineno else len(row.rstrip())
        if isinstance(node, ast.AsyncFunctionDef):
            end = node.col_offset + shift + len("async def")
        return Location(code.co_filename, fn.__name__, line, node.col_offset + shift, end, row)
    return _definition_location(fn)


def parse_function(fn):
    """Parse `fn` once (cached per code object); clear errors when it has no readable source."""
    if not isinstance(fn, types.FunctionType):
        raise GradError(f"{fn!r} is not a Python function defined with `def`: the compiler reads a "
                        "function's source, so pass a plain function (not a class, method or builtin).")
    code = fn.__code__
    cached = _source_cache.get(code)
    if cached is not None and cached.fn is fn:
        return cached
    if fn.__name__ == "<lambda>":
        raise error_at(_special_location(fn, ast.Lambda),
                       "lambda functions cannot be differentiated: define the function with `def`.")
    if code.co_flags & (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR):
        generator = code.co_flags & (inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR)
        kind = "a generator" if generator else "an async"
        where = _special_location(fn, (ast.Yield, ast.YieldFrom) if generator else ast.AsyncFunctionDef)
        raise error_at(where,
                       f"{fn.__name__} is {kind} function: only plain functions that return a value "
                       "can be differentiated. Return the value instead of yielding or awaiting it.")
    filename = code.co_filename
    try:
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        raise GradError(
            f'cannot read the source of {fn.__name__} (defined in "{filename}"): the compiler '
            "differentiates a function's source text, and functions typed at the interactive prompt "
            "or made by exec() have none. Put the function in a .py file and import it.") from None
    all_lines = linecache.getlines(filename) or lines
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    col_offset = _indent_of(lines[0]) - _indent_of(dedented.splitlines()[0] + "\n") if lines else 0
    try:
        module = ast.parse(dedented)
    except SyntaxError as exc:
        raise GradError(f'cannot parse the source of {fn.__name__} in "{filename}": {exc}') from None
    node = module.body[0] if module.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise error_at(_definition_location(fn), f"cannot find the `def` of {fn.__name__} in its source.")
    node.decorator_list = []
    if node.name != code.co_name or not _same_code(node, code):
        raise GradError(
            f'the source text found for {fn.__name__} in "{filename}" is not the code that runs: '
            "the file changed after it was imported, or the function was made by exec() under "
            "that file's name. Reload the module (importlib.reload) or define the function in a "
            "file of its own.")
    line_offset = (start if start > 0 else 1) - 1
    src = FuncSource(fn, node, filename, all_lines, line_offset, col_offset)
    _source_cache[code] = src
    return src


_NAME_OPS = {"LOAD_FAST", "LOAD_GLOBAL", "LOAD_DEREF", "LOAD_NAME", "LOAD_CLASSDEREF",
             "STORE_FAST", "STORE_DEREF", "STORE_NAME", "STORE_GLOBAL", "DELETE_FAST",
             "DELETE_DEREF", "LOAD_CLOSURE"}
_CONTEXT_OPS = {"MAKE_CELL", "COPY_FREE_VARS", "RESUME", "NOP", "PUSH_NULL", "PRECALL", "EXTENDED_ARG",
                "CACHE"}


def _same_code(node, code):
    """Whether the parsed `def` compiles to the instructions `code` runs (names compared by spelling,
    since a function compiled alone sees its free variables as globals)."""
    if any(isinstance(n, ast.Assert) for n in ast.walk(node)):
        return True  # pytest rewrites asserts on import; refused later anyway
    try:
        compiled = compile(ast.Module([node], []), code.co_filename, "exec")
    except (SyntaxError, ValueError, RecursionError):
        return True  # cannot tell: trust the text
    inner = next((c for c in compiled.co_consts if isinstance(c, types.CodeType)), None)
    if inner is None:
        return True
    return _shape(inner) == _shape(code)


def _shape(code):
    import dis
    out = []
    for ins in dis.get_instructions(code):
        if ins.opname in _CONTEXT_OPS:
            continue
        if ins.opname in _NAME_OPS:
            name = ins.argval if isinstance(ins.argval, str) else str(ins.argval)
            out.append(("NAME", name.replace("NULL + ", "")))
        elif ins.opname.startswith("LOAD_CONST"):
            out.append(("CONST", repr(ins.argval) if not isinstance(ins.argval, types.CodeType)
                        else "code"))
        elif ins.opname in ("LOAD_METHOD", "LOAD_ATTR"):
            out.append(("ATTR", ins.argval))
        elif ins.opname.startswith(("JUMP", "POP_JUMP", "FOR_ITER", "SEND")):
            out.append(("JUMP", None))
        else:
            out.append((ins.opname, ins.arg if ins.opname in ("BINARY_OP", "COMPARE_OP") else None))
    return out


def _indent_of(line):
    return len(line) - len(line.lstrip())


# --- values the lowering works with --------------------------------------------------------------

class PyObj:
    """A Python object resolved at build time: a module, a function, a class."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj


class TupleVal:
    """A Python tuple of values (from `a, b` or a function returning several values)."""

    __slots__ = ("items",)

    def __init__(self, items):
        self.items = list(items)


class TrackingBuilder(Builder):
    """A Builder that remembers which equation made each value. It folds constants but never
    answers with an existing variable (x * 1.0 is a new array in Python, not x): two names hold
    one variable only where Python gives them one object, which aliasing.py relies on. The
    passes fold such identities later, when aliasing is settled."""

    def __init__(self, producers, loc=None):
        super().__init__(loc=loc)
        self.producers = producers

    def emit(self, prim, ins, hint="", **params):
        ins = tuple(ins)
        found = Builder.simplify(prim, ins, params) if Builder.simplify is not None else None
        if isinstance(found, tuple):  # a cheaper equation instead: (prim, ins)
            return self.emit(found[0], found[1], hint, **params)
        if isinstance(found, Const):
            return found
        out = Var(hint)
        eqn = Eqn(prim, ins, (out,), params, self.loc)
        self.eqns.append(eqn)
        self.producers[out] = eqn
        return out


class BoundMethod:
    """`x.sum` before it is called: the array and the primitive the method stands for."""

    __slots__ = ("value", "prim")

    def __init__(self, value, prim):
        self.value = value
        self.prim = prim


class ListRef:
    """A list the function builds with `.append`: its sum and length live in the scope."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


EMPTY_LIST = object()


class LocalFunc:
    """A `def` nested in the function being lowered; called by inlining it in its defining scope."""

    __slots__ = ("node", "scope")

    def __init__(self, node, scope):
        self.node = node
        self.scope = scope


class Scope:
    """Names bound in one function activation; `parent` is the scope a nested def was defined in."""

    def __init__(self, src, parent=None):
        self.src = src
        self.parent = parent
        self.vars = {}
        self.params = {}   # parameter name -> the value the caller passed
        self.views = {}    # name -> how it sees memory other names see (aliasing.py)

    def branch(self):
        """A scope for one branch or loop body: it sees every binding, and its own assignments
        are merged back by the caller."""
        inner = Scope(self.src, self.parent)
        inner.vars = dict(self.vars)
        inner.params = self.params
        inner.views = dict(self.views)
        return inner

    def lookup(self, name):
        scope = self
        while scope is not None:
            if name in scope.vars:
                return scope.vars[name]
            scope = scope.parent
        raise KeyError(name)


# Control flags kept in a scope beside the user's names (keys that are not identifiers).
RETURNED, RETURN_VALUE, BREAK, CONTINUE = "<returned>", "<return value>", "<break>", "<continue>"
EXIT_FLAGS = (RETURNED, BREAK, CONTINUE)
_FLAG_KEYS = {RETURNED, RETURN_VALUE, BREAK, CONTINUE}
_FLAG_HINTS = {RETURNED: "returned", RETURN_VALUE: "result", BREAK: "stop", CONTINUE: "skip"}


def _hint(key):
    if key in _FLAG_HINTS:
        return _FLAG_HINTS[key]
    if key.startswith("<mem "):
        return storage_hint(key)
    return key.replace("<", "_").replace(">", "")


def is_true(atom):
    return isinstance(atom, Const) and atom.value is True


def is_false(atom):
    return isinstance(atom, Const) and atom.value is False


def _stored_names(stmts):
    """Names a block assigns, including arrays it writes into (`y[i] = v` makes a new y)."""
    names = set()
    for stmt in stmts:
        for n in ast.walk(stmt):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                names.add(n.id)
            elif isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store) \
                    and isinstance(n.value, ast.Name):
                names.add(n.value.id)
    return names


def _first_store_order(stmts):
    order = {}
    for stmt in stmts:
        for n in ast.walk(stmt):
            if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store) \
                    and isinstance(n.value, ast.Name):
                n = n.value
            elif not (isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)):
                continue
            if n.id not in order:
                order[n.id] = len(order)
    return lambda name: order.get(name, len(order))


def _is_module_name(node, scope):
    try:
        return isinstance(scope.lookup(node.id), PyObj)
    except KeyError:
        return node.id in scope.src.globals and not isinstance(
            scope.src.globals[node.id], (np.ndarray,) + _NUMBER_TYPES)


def _descends(scope, ancestor):
    """Whether `scope` is (a branch copy of) `ancestor`'s activation."""
    return scope.parent is ancestor.parent


def _is_range_call(node):
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"


def _is_append(call):
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "append" and isinstance(call.func.value, ast.Name))


def _appended_names(stmts):
    return {n.func.value.id for stmt in stmts for n in ast.walk(stmt) if _is_append(n)}


def _bound(scope, name):
    try:
        scope.lookup(name)
        return True
    except KeyError:
        return False


def _has(stmts, node_type):
    return any(isinstance(n, node_type) for stmt in stmts for n in ast.walk(stmt))


_NUMBER_TYPES = (bool, int, float, np.number)
_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow",
           ast.Mod: "mod", ast.FloorDiv: "floordiv", ast.MatMult: "matmul"}
_CMPOPS = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq", ast.NotEq: "ne"}

# What to tell the user for syntax the compiler does not handle.
_UNSUPPORTED = {
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
    ast.Lambda: "lambda expressions are not supported: define the function with `def` instead.",
    ast.Yield: "`yield` cannot be differentiated: return the value instead.",
    ast.YieldFrom: "`yield from` cannot be differentiated: return the value instead.",
    ast.Await: "`await` cannot be differentiated.",
    ast.JoinedStr: "f-strings are not supported in a differentiated function, which computes numbers "
                   "only: remove it, or build the text outside the function.",
    ast.Starred: "starred arguments (*args) are not supported: pass the arguments one by one.",
    ast.NamedExpr: "the walrus operator := is not supported: assign on a line of its own.",
    ast.ListComp: "list comprehensions are not supported yet: write a for loop.",
    ast.SetComp: "set comprehensions are not supported.",
    ast.DictComp: "dict comprehensions are not supported.",
    ast.GeneratorExp: "generator expressions are not supported: write a for loop.",
    ast.Dict: "dicts are not supported in a differentiated function: use separate variables.",
    ast.Set: "sets are not supported in a differentiated function.",
}


# --- lowering ------------------------------------------------------------------------------------

class Lowering:
    """Walks statements and expressions, emitting equations into the current builder."""

    def __init__(self, root):
        self.root = root
        self.producers = {}             # var -> the equation that made it (for aliasing checks)
        self.b = TrackingBuilder(self.producers)
        self.active_calls = []          # functions being inlined, to refuse recursion
        self.sources = [root]           # every FuncSource read, for the namer's reserved set
        self.user_locals = set()        # names the user's functions assign or take as parameters
        self.env_reads = set()          # names the generated code reads from globals or cells
        self.returned_nodes = {}        # id(value) -> the `return` statement that returned it
        self.memory = Memory(self)      # which names see the same array (aliasing.py)
        self.scope_stack = []           # the scopes of the functions being inlined into
        self.new_object = False         # the value being assigned is certainly a new object

    # -- entry --

    def lower_root(self):
        src = self.root
        scope = Scope(src)
        args = src.node.args
        self._check_signature(src, args)
        params = []
        for a in args.args + args.kwonlyargs:
            v = Var(a.arg)
            scope.vars[a.arg] = v
            self.memory.argument(a.arg, v, scope)
            params.append(v)
            self.user_locals.add(a.arg)
        self.root_params = set(params)
        scope.params = {a.arg: v for a, v in zip(args.args + args.kwonlyargs, params)}
        result = self.function_body(src, scope)
        if not isinstance(result, (Var, Const)):
            kept, node = self.returned_nodes.get(id(result), (None, src.node))
            node = node if kept is result else src.node
            what = "a list" if isinstance(node, ast.Return) and isinstance(node.value, ast.List) \
                else "a tuple" if isinstance(result, TupleVal) else "a non-number"
            raise error_at(src.location(getattr(node, "value", node)),
                           f"{src.name} returns {what}: a gradient is taken of one number. Return a "
                           "single value (a sum, a mean, one entry), or differentiate each output "
                           "with its own function.")
        value = self.as_atom(result, src, src.node)
        return Graph(src.name, params, self.b.eqns, [value])

    def _check_signature(self, src, args):
        if args.vararg is not None or args.kwarg is not None:
            bad = args.vararg or args.kwarg
            raise error_at(src.location(bad), "*args and **kwargs cannot be differentiated: "
                                              "name each argument.")
        if args.posonlyargs:
            raise error_at(src.location(args.posonlyargs[0]),
                           "positional-only parameters (/) are not supported: remove the `/`.")

    def function_body(self, src, scope):
        body = src.node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]  # docstring
        scope.vars[RETURNED] = Const(False)
        self.block(body, scope)
        return self.returned_value(scope, src, src.node)

    def returned_value(self, scope, src, fnode):
        flag = scope.vars.get(RETURNED)
        if not is_true(flag):
            what = ("does not return a value" if flag is None or is_false(flag)
                    else "does not return a value on every path")
            raise error_at(src.location(fnode),
                           f"{fnode.name} {what}: end every path with `return <expression>`.")
        return scope.vars[RETURN_VALUE]

    def block(self, stmts, scope):
        """Lower statements in order. After a statement that may have left the block (return,
        break, continue inside an `if`), the rest is lowered under a guard: `if not left: rest`."""
        for index, stmt in enumerate(stmts):
            self.statement(stmt, scope)
            state = self.exit_state(scope)
            if state is True:
                return  # the rest is unreachable
            if state is not None and index + 1 < len(stmts):
                self.b.loc = (scope.src.location(stmts[index + 1]), "forward")
                staying = self.b.emit("not", [state], hint="go_on")
                self.lower_if(staying, stmts[index + 1:], [], scope, stmts[index + 1], guard=True)
                return

    def exit_state(self, scope):
        """True if the block has certainly been left (return/break/continue ran), None if certainly
        not, else a flag (a Var) that says whether it was."""
        maybe = []
        for key in EXIT_FLAGS:
            flag = scope.vars.get(key)
            if flag is None or is_false(flag):
                continue
            if is_true(flag):
                return True
            maybe.append(flag)
        if not maybe:
            return None
        state = maybe[0]
        for flag in maybe[1:]:
            state = self.b.emit("or", [state, flag], hint="left")
        return state

    # -- statements --

    def statement(self, node, scope):
        src = scope.src
        self.b.loc = (src.location(node), "forward")
        if isinstance(node, ast.Assign):
            value = self.expr(node.value, scope)
            # arithmetic makes a new object: no need to ask which other name holds it
            self.new_object = isinstance(node.value, (ast.BinOp, ast.UnaryOp, ast.Compare,
                                                      ast.Constant))
            try:
                for target in node.targets:
                    self.assign(target, value, scope)
            finally:
                self.new_object = False
        elif isinstance(node, ast.AugAssign):
            if isinstance(node.target, ast.Subscript) and isinstance(node.target.value, ast.Name):
                load = ast.Subscript(node.target.value, node.target.slice, ast.Load())
                ast.copy_location(load, node.target)
                old = self.expr(load, scope)
                value = self.binop(type(node.op), old, self.expr(node.value, scope), src, node)
                self.assign(node.target, value, scope)
                return None
            if not isinstance(node.target, ast.Name):
                raise error_at(src.location(node.target),
                               "only a name or an array element can be updated in place here "
                               "(x += ..., y[i] += ...).")
            old = self.name(node.target.id, scope, node.target)
            value = self.binop(type(node.op), old, self.expr(node.value, scope), src, node)
            # in place for an array: every name that sees its memory sees the change
            self.memory.write(node.target.id, old, value, scope, node)
            self.user_locals.add(node.target.id)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.expr(node.value, scope), scope)
        elif isinstance(node, ast.Return):
            if node.value is None:
                raise error_at(src.location(node), "`return` needs a value to differentiate.")
            value = self.expr(node.value, scope)
            self.returned_nodes[id(value)] = (value, node)
            scope.vars[RETURN_VALUE] = value
            scope.vars[RETURNED] = Const(True)
        elif isinstance(node, (ast.Break, ast.Continue)):
            key = BREAK if isinstance(node, ast.Break) else CONTINUE
            if key not in scope.vars:
                raise error_at(src.location(node), f"`{ast.unparse(node)}` outside a loop.")
            scope.vars[key] = Const(True)
        elif isinstance(node, ast.Expr):
            if isinstance(node.value, ast.Constant):
                return None  # a bare string or number: a comment, no effect
            if _is_append(node.value):
                return self.append(node.value, scope)
            raise error_at(src.location(node),
                           "an expression whose value is thrown away (such as a print call) has no "
                           "effect on the result and is not supported: remove it, or assign it.")
        elif isinstance(node, ast.Pass):
            return None
        elif isinstance(node, ast.FunctionDef):
            if node.decorator_list:
                raise error_at(src.location(node.decorator_list[0]),
                               "decorators on nested functions are not supported: remove the decorator.")
            self._check_signature(src, node.args)
            scope.vars[node.name] = LocalFunc(node, scope)
            self.user_locals.add(node.name)
        elif isinstance(node, (ast.If, ast.For, ast.While)):
            return self.control_flow(node, scope)
        else:
            message = _UNSUPPORTED.get(type(node),
                                       f"`{type(node).__name__}` statements are not supported.")
            raise error_at(src.location(node), message)
        return None

    def check_writable(self, name, array, scope, node):
        """`y[i] = v` into an argument (or an alias or view of one) or a global would change the
        caller's array: refused here, where the write can do nothing else (on a float it raises)."""
        view = self.memory.view_of(name, scope)
        made = self.producers.get(array)
        owner = view.storage.owner if view not in (None, UNKNOWN) else None
        if owner is not None or made is not None and made.prim in ("global", "cell"):
            what = f"the array the caller passed as `{owner}`" if owner and owner != name else \
                "an array the caller passed in (or a global)"
            raise error_at(scope.src.location(node),
                           f"writing into `{name}` would change {what}: copy it first, "
                           f"`{name} = {name}.copy()`, then write into the copy.")

    def conditional(self, test, then_build, else_values, hints):
        """Values `then_build()` if `test` else `else_values`, as a `cond` equation (the else
        side computes nothing). A known test picks its side now."""
        if isinstance(test, Const):
            return then_build() if test.value else list(else_values)
        saved = self.b
        self.b = TrackingBuilder(self.producers, loc=saved.loc)
        then_values = then_build()
        then_eqns = self.b.eqns
        self.b = saved
        outs = [Var(h) for h in hints]
        self.b.eqns.append(Eqn("cond", [test], outs,
                               {"then": Graph("then", [], then_eqns, list(then_values)),
                                "else": Graph("else", [], [], list(else_values))}, self.b.loc))
        return outs

    def global_arrays(self, scope):
        """(name, value) of every global or closure array the function reads, read afresh."""
        src = scope.src
        out = []
        for ident in sorted(self.env_reads):
            if _bound(scope, ident):
                continue
            value = src.cells[ident].cell_contents if ident in src.cells else src.globals.get(ident)
            if isinstance(value, np.ndarray):
                out.append((ident, self.name(ident, scope, src.node)))
        return out

    def append(self, call, scope):
        src = scope.src
        name = call.func.value.id
        ref = scope.lookup(name) if _bound(scope, name) else None
        if not isinstance(ref, ListRef):
            raise error_at(src.location(call),
                           f"`{name}.append(...)` is supported on a list started as `{name} = []` "
                           "in this function.")
        if len(call.args) != 1 or call.keywords:
            raise error_at(src.location(call), "append() takes one value.")
        value = self.as_atom(self.expr(call.args[0], scope), src, call.args[0])
        scope.vars[name + "<sum>"] = self.b.emit("add", [scope.lookup(name + "<sum>"), value],
                                                 hint=name + "_sum")
        items = scope.lookup(name + "<items>")
        position = self.b.emit("len", [items], hint=name + "_index")
        scope.vars[name + "<items>"] = self.b.emit("list_append", [items, value, position],
                                                   hint=name)
        scope.vars[name + "<len>"] = self.b.emit("add", [scope.lookup(name + "<len>"), Const(1)],
                                                 hint=name + "_len")

    def control_flow(self, node, scope):
        if isinstance(node, ast.If):
            test = self.as_atom(self.expr(node.test, scope), scope.src, node.test)
            self.lower_if(test, node.body, node.orelse, scope, node)
        elif isinstance(node, ast.For):
            self.lower_for(node, scope)
        else:
            self.lower_while(node, scope)

    # -- branches --

    def lower_if(self, test, then_stmts, else_stmts, scope, node, guard=False):
        """`if test: then else: else` as a `cond` equation whose outputs merge what either branch
        assigned (the phi nodes of SSA). A test known when the graph is built picks its branch."""
        if isinstance(test, Const):
            self.block(then_stmts if test.value else else_stmts, scope)
            return
        branches = []
        for stmts, taken in ((then_stmts, True), (else_stmts, False)):
            inner = scope.branch()
            if guard:
                # Under the guard `not left`, every exit flag is known false; in its else-branch,
                # with one flag that may be set, that flag is known true (so that `return` on every
                # path is recognised as such).
                maybe = [k for k in EXIT_FLAGS if k in inner.vars and isinstance(inner.vars[k], Var)]
                if taken:
                    for k in maybe:
                        inner.vars[k] = Const(False)
                elif len(maybe) == 1:
                    inner.vars[maybe[0]] = Const(True)
            saved = self.b
            self.b = TrackingBuilder(self.producers, loc=saved.loc)
            self.block(stmts, inner)
            branches.append((inner, self.b.eqns))
            self.b = saved
        self.merge(test, scope, branches, node)
        self.memory.merged(scope, [inner for inner, _ in branches])

    def merge(self, test, scope, branches, node):
        (then_scope, then_eqns), (else_scope, else_eqns) = branches
        names = []
        for key in list(then_scope.vars) + list(else_scope.vars):
            if key in names:
                continue
            a = then_scope.vars.get(key, scope.vars.get(key))
            b_ = else_scope.vars.get(key, scope.vars.get(key))
            if a is b_ or (isinstance(a, Const) and isinstance(b_, Const) and a == b_):
                if a is not scope.vars.get(key):
                    scope.vars[key] = a
                continue
            names.append(key)
        then_results, else_results, outs = [], [], []
        for key in names:
            pair = []
            for branch_scope in (then_scope, else_scope):
                value = branch_scope.vars.get(key, scope.vars.get(key, Const(None)))
                if isinstance(value, LocalFunc):
                    raise error_at(scope.src.location(node),
                                   f"`{key}` is defined with `def` inside a branch: the compiler "
                                   "decides which function a call runs when it builds the gradient. "
                                   "Define one function outside the `if` and branch inside it.")
                if isinstance(value, TupleVal) or not isinstance(value, (Var, Const)):
                    raise error_at(scope.src.location(node),
                                   f"`{key}` is given {_what(value)} in one branch: only "
                                   "numbers can be merged after an if. Assign it outside the if.")
                pair.append(value)
            then_results.append(pair[0])
            else_results.append(pair[1])
            outs.append(Var(_hint(key)))
        if not then_eqns and not else_eqns and not names:
            return
        then_graph = Graph("then", [], then_eqns, then_results)
        else_graph = Graph("else", [], else_eqns, else_results)
        self.b.eqns.append(Eqn("cond", [test], outs, {"then": then_graph, "else": else_graph},
                               self.b.loc))
        for key, out in zip(names, outs):
            scope.vars[key] = out
            if key not in _FLAG_KEYS:
                self.user_locals.add(key)

    def branch_value_atoms(self, truth, a, b, scope):
        """For and/or: one side is an AST node (evaluated lazily), the other an atom already known."""
        if isinstance(truth, Const):
            chosen = a if truth.value else b
            return chosen if isinstance(chosen, (Var, Const)) else self.as_atom(
                self.expr(chosen, scope), scope.src, chosen)
        results, blocks = [], []
        for side in (a, b):
            saved = self.b
            self.b = TrackingBuilder(self.producers, loc=saved.loc)
            if isinstance(side, (Var, Const)):
                results.append(side)
            else:
                results.append(self.as_atom(self.expr(side, scope.branch()), scope.src, side))
            blocks.append(self.b.eqns)
            self.b = saved
        out = Var()
        self.b.eqns.append(Eqn("cond", [truth], [out],
                               {"then": Graph("then", [], blocks[0], [results[0]]),
                                "else": Graph("else", [], blocks[1], [results[1]])}, self.b.loc))
        return out

    def branch_value(self, test, then_node, else_node, scope, node):
        """`a if test else b`: only the taken branch runs, as in Python."""
        if isinstance(test, Const):
            return self.expr(then_node if test.value else else_node, scope)
        results, blocks = [], []
        for expr_node in (then_node, else_node):
            saved = self.b
            self.b = TrackingBuilder(self.producers, loc=saved.loc)
            inner = scope.branch()
            results.append(self.as_atom(self.expr(expr_node, inner), scope.src, expr_node))
            blocks.append(self.b.eqns)
            self.b = saved
        out = Var()
        self.b.eqns.append(Eqn("cond", [test], [out],
                               {"then": Graph("then", [], blocks[0], [results[0]]),
                                "else": Graph("else", [], blocks[1], [results[1]])}, self.b.loc))
        return out

    # -- loops --

    def lower_for(self, node, scope):
        src = scope.src
        if node.orelse:
            raise error_at(src.location(node.orelse[0]),
                           "`for ... else` is not supported: set a flag before `break` instead.")
        it = node.iter
        func = None
        if isinstance(it, ast.Call) and not it.keywords:
            func = self.expr(it.func, scope)
            func = func.obj if isinstance(func, PyObj) else None
        if func in (builtins.enumerate, builtins.zip):
            self.lower_enumerate_zip(node, scope, func)
            return
        if not isinstance(node.target, ast.Name):
            raise error_at(src.location(node.target),
                           "loop over range(...) with a single name, e.g. `for i in range(n):`.")
        if func is None and not _is_range_call(it):
            rows = self.expr(it, scope)
            if isinstance(rows, Var):  # for row in X: over the first axis of an array
                self.lower_rows(node, scope, rows)
                return
        bounds = self.range_bounds(node.iter, scope)
        self.lower_loop("for", node, scope, bounds, index_name=node.target.id)

    def lower_rows(self, node, scope, array):
        """`for row in X:` is `for k in range(len(X)): row = X[k]`."""
        count = self.b.emit("len", [array])
        name = node.target.id

        def derive(k, body_scope):
            source = array  # the array the loop started with, which writes through `row` change
            if isinstance(node.iter, ast.Name) and node.iter.id not in _stored_names(node.body):
                source = body_scope.vars.get(node.iter.id, array)
            body_scope.vars[name] = self.b.emit("getitem", [source, k], hint=name, index=("atom",))
            self.memory.assigned(name, body_scope.vars[name], body_scope)
            self.user_locals.add(name)

        self.lower_loop("for", node, scope, [Const(0), count, Const(1)], index_name="<k>",
                        derive=derive)

    def lower_enumerate_zip(self, node, scope, func):
        """`for k, i in enumerate(range(...))` and `for i, j in zip(range(...), range(...))`:
        a loop over a counter k, each name computed from it (start + k * step)."""
        src = scope.src
        it = node.iter
        ranges = [self.range_bounds(a, scope) for a in it.args]
        names = node.target.elts if isinstance(node.target, ast.Tuple) else None
        expected = 2 if func is builtins.enumerate else len(ranges)
        if func is builtins.enumerate and len(ranges) != 1 or not names \
                or len(names) != expected or not all(isinstance(n, ast.Name) for n in names):
            raise error_at(src.location(node.target),
                           "write `for k, i in enumerate(range(...)):` or "
                           "`for i, j in zip(range(...), range(...)):`, one name per value.")
        lengths = [self.b.emit("range_len", r) for r in ranges]
        trip = lengths[0]
        for n in lengths[1:]:
            trip = self.b.emit("min", [trip, n])
        if func is builtins.enumerate:
            ranges = [[Const(0), None, Const(1)]] + ranges

        def derive(k, body_scope):
            for target, (start, _, step) in zip(names, ranges):
                value = self.b.emit("add", [start, self.b.emit("mul", [k, step])], hint=target.id)
                body_scope.vars[target.id] = value
                self.user_locals.add(target.id)

        self.lower_loop("for", node, scope, [Const(0), trip, Const(1)], index_name="<k>",
                        derive=derive)

    def range_bounds(self, it, scope):
        src = scope.src
        if isinstance(it, ast.Call) and not it.keywords:
            func = self.expr(it.func, scope)
            if isinstance(func, PyObj) and func.obj is builtins.range and 1 <= len(it.args) <= 3:
                args = [self.as_atom(self.expr(a, scope), src, a) for a in it.args]
                if len(args) == 1:
                    args = [Const(0)] + args
                if len(args) == 2:
                    args = args + [Const(1)]
                return args
        raise error_at(src.location(it),
                       "a loop can run over range(...) only: its trip count must be known when the "
                       "loop starts, so the reverse pass can replay it. Write `for i in range(n):`.")

    def lower_while(self, node, scope):
        if node.orelse:
            raise error_at(scope.src.location(node.orelse[0]),
                           "`while ... else` is not supported: set a flag before `break` instead.")
        self.lower_loop("while", node, scope, [], index_name=None)

    def lower_loop(self, kind, node, scope, bounds, index_name, derive=None):
        """A loop as one equation holding its body (and, for `while`, its test) as regions.

        Loop-carried values are the names the body assigns that exist before the loop or are read
        after it; each becomes a body parameter (its value at the start of an iteration), a body
        result (its value at the end) and an output of the equation (its value after the loop)."""
        src = scope.src
        assigned = _stored_names(node.body) | self.memory.loop_carried(node, scope)
        for name in _appended_names(node.body):
            assigned |= {name + "<sum>", name + "<len>", name + "<items>"}
        if index_name is not None and index_name in assigned:
            raise error_at(src.location(node.target),
                           f"the loop assigns to its own variable `{index_name}`: use another name.")
        carried = []
        order = _first_store_order(node.body)
        for name in sorted(assigned, key=lambda n: (order(n), n)):  # deterministic, not set order
            if name in scope.vars or self.read_later(node, name, src):
                carried.append(name)
        # A loop variable read after the loop keeps its last value, as in Python.
        targets = ([n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)]
                   if isinstance(node, ast.For) else [])
        carried += [t for t in targets if t not in carried and self.read_later(node, t, src)]
        carried += [k for k in (RETURNED, RETURN_VALUE) if k in scope.vars and _has(node.body, ast.Return)]
        if RETURN_VALUE not in scope.vars and _has(node.body, ast.Return):
            scope.vars[RETURN_VALUE] = Const(None)
            carried.append(RETURN_VALUE)
        inits = []
        for name in carried:
            value = scope.vars.get(name, Const(None))
            if isinstance(value, (TupleVal, PyObj, LocalFunc)):
                raise error_at(src.location(node),
                               f"`{name}` changes in the loop but holds {_what(value)}: "
                               "only numbers can be carried from one iteration to the next.")
            inits.append(value)
        body_scope = scope.branch()
        entry_views = dict(body_scope.views)
        self.memory.loop_entry(body_scope, node.body)
        params = [Var(_hint(name)) for name in carried]
        for name, p in zip(carried, params):
            body_scope.vars[name] = p
        if RETURNED in carried:  # an iteration starts only while nothing has returned
            body_scope.vars[RETURNED] = Const(False)
        index = None
        if index_name is not None:
            index = Var(_hint(index_name) if index_name != "<k>" else "k")
            body_scope.vars[index_name] = index
            self.user_locals.add(index_name)
        body_scope.vars[BREAK] = Const(False)
        body_scope.vars[CONTINUE] = Const(False)
        saved = self.b
        regions = {}
        test = None
        if kind == "while":
            self.b = TrackingBuilder(self.producers, loc=saved.loc)
            test = self.as_atom(self.expr(node.test, body_scope), src, node.test)
            regions["test"] = Graph("test", params, self.b.eqns, [test])
        self.b = TrackingBuilder(self.producers, loc=saved.loc)
        if derive is not None:
            derive(index, body_scope)
        self.block(node.body, body_scope)
        results = []
        for name in carried:
            value = body_scope.vars.get(name)
            if not isinstance(value, (Var, Const)):
                raise error_at(src.location(node),
                               f"`{name}` holds {_what(value)} after the loop body: "
                               "only numbers can be carried between iterations.")
            results.append(value)
        stop = body_scope.vars[BREAK]
        if RETURNED in carried:
            ret = body_scope.vars[RETURNED]
            stop = ret if is_false(stop) else (stop if is_false(ret) else
                                                self.b.emit("or", [stop, ret], hint="stop"))
        body_params = ([index] if index is not None else []) + params
        regions["body"] = Graph("body", body_params, self.b.eqns, results + [stop])
        self.b = saved
        outs = [Var(_hint(name)) for name in carried]
        self.b.eqns.append(Eqn(kind, bounds + inits, outs, regions, self.b.loc))
        for name, out in zip(carried, outs):
            scope.vars[name] = out
            if name not in _FLAG_KEYS:
                self.user_locals.add(name)
        self.memory.loop_exit(scope, body_scope, entry_views)

    def read_later(self, loop, name, src):
        """Whether `name` is read anywhere in the function outside this loop (after it, in effect)."""
        loads = getattr(src.node, "_loads", None)
        if loads is None:  # name -> the nodes reading it, gathered once per function
            loads = {}
            for n in ast.walk(src.node):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                    loads.setdefault(n.id, []).append(n)
            src.node._loads = loads
        readers = loads.get(name)
        if not readers:
            return False
        inside = getattr(loop, "_inside", None)
        if inside is None:
            inside = loop._inside = {id(n) for n in ast.walk(loop)}
        return any(id(n) not in inside for n in readers)

    def assign(self, target, value, scope):
        src = scope.src
        if isinstance(target, ast.Name) and value is EMPTY_LIST:
            # A list built by `.append` in loops and branches, read by sum() or len(): kept as
            # its running sum and length, which loops carry and branches merge like numbers.
            scope.vars[target.id] = ListRef(target.id)
            scope.vars[target.id + "<sum>"] = Const(0)
            scope.vars[target.id + "<len>"] = Const(0)
            # the items themselves, for np.stack(terms); pruned as dead code when never stacked
            scope.vars[target.id + "<items>"] = self.b.emit("list_new", [], hint=target.id)
            self.user_locals.add(target.id)
            return
        if isinstance(target, ast.Name):
            if isinstance(value, Var) and not value.hint:
                value.hint = target.id
            scope.vars[target.id] = value
            self.memory.assigned(target.id, value, scope, new_object=self.new_object)
            self.user_locals.add(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, Var):  # n, d = x.shape: one item per name
                value = TupleVal(self.b.emit("getitem", [value, Const(i)], index=("atom",))
                                 for i in range(len(target.elts)))
            if not isinstance(value, TupleVal):
                raise error_at(src.location(target),
                               "only a tuple (a, b = ...) or a function returning a tuple can be unpacked here.")
            if len(value.items) != len(target.elts):
                raise error_at(src.location(target),
                               f"cannot unpack {len(value.items)} values into {len(target.elts)} names.")
            for t, v in zip(target.elts, value.items):
                self.assign(t, v, scope)
        elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            # y[index] = v: a new version of y (the array the function made, never the user's)
            name = target.value.id
            old = self.name(name, scope, target.value)
            x = self.as_atom(old, src, target.value)
            self.check_writable(name, x, scope, target)
            template, parts = self.index(target.slice, scope)
            v = self.as_atom(value, src, target)
            new = self.b.emit("setitem", [x, v] + parts, hint=name, index=template)
            self.memory.write(name, x, new, scope, target)
            self.user_locals.add(name)
        else:
            raise error_at(src.location(target),
                           f"assignment to {ast.unparse(target)} is not supported: assign to a "
                           "plain name or to an element of an array (y[i] = v).")

    # -- expressions --

    def expr(self, node, scope):
        src = scope.src
        self.current_scope = scope
        loc_node = node
        if isinstance(node, ast.Constant):
            return self.constant(node.value, src, node)
        if isinstance(node, ast.Name):
            return self.name(node.id, scope, node)
        if isinstance(node, ast.BinOp):
            # A long chain a + b + c + ... nests to the left: walk it with a loop, not recursion,
            # so a 2,000-term expression does not exhaust Python's stack.
            chain = []
            while isinstance(node, ast.BinOp):
                chain.append(node)
                node = node.left
            value = self.expr(node, scope)
            for link in reversed(chain):
                right = self.expr(link.right, scope)
                value = self.binop(type(link.op), value, right, src, link)
            return value
        if isinstance(node, ast.UnaryOp):
            operand = self.as_atom(self.expr(node.operand, scope), src, node.operand)
            if isinstance(node.op, ast.UAdd):
                return operand
            if isinstance(node.op, ast.USub):
                return self.b.emit("neg", [operand])
            if isinstance(node.op, ast.Not):
                return self.b.emit("not", [operand])
            raise error_at(src.location(node), "the ~ operator is not supported.")
        if isinstance(node, ast.Compare):
            return self.compare(node, scope)
        if isinstance(node, ast.Call):
            return self.call(node, scope)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, scope)
        if isinstance(node, ast.Tuple):
            return TupleVal(self.expr(e, scope) for e in node.elts)
        if isinstance(node, ast.List):
            return TupleVal(self.expr(e, scope) for e in node.elts) if node.elts else EMPTY_LIST
        if isinstance(node, ast.Subscript):
            base = self.expr(node.value, scope)
            if isinstance(base, TupleVal):
                index = self.static(self.expr(node.slice, scope), src, node.slice, "a tuple index")
                try:
                    picked = base.items[index]
                except (IndexError, TypeError):
                    raise error_at(src.location(node), "tuple index out of range.") from None
                return TupleVal(picked) if isinstance(index, slice) else picked
            x = self.as_atom(base, src, node.value)
            template, parts = self.index(node.slice, scope)
            return self.b.emit("getitem", [x] + parts, index=template)
        if isinstance(node, ast.IfExp):
            test = self.as_atom(self.expr(node.test, scope), src, node.test)
            return self.branch_value(test, node.body, node.orelse, scope, node)
        if isinstance(node, ast.BoolOp):
            # `a and b` is b when a is true, else a; `a or b` the reverse. b runs only when needed.
            result = self.as_atom(self.expr(node.values[0], scope), src, node.values[0])
            for operand in node.values[1:]:
                if isinstance(node.op, ast.And):
                    result = self.branch_value_atoms(result, operand, result, scope)
                else:
                    result = self.branch_value_atoms(result, result, operand, scope)
            return result
        message = _UNSUPPORTED.get(type(node),
                                   f"`{type(node).__name__}` expressions are not supported.")
        raise error_at(src.location(loc_node), message)

    def index(self, node, scope):
        """A subscript as (template, input atoms): see indexing.py."""
        src = scope.src
        if isinstance(node, ast.Slice):
            parts = []
            flags = []
            for bound in (node.lower, node.upper, node.step):
                flags.append(bound is not None)
                if bound is not None:
                    parts.append(self.as_atom(self.expr(bound, scope), src, bound))
            return ("slice",) + tuple(flags), parts
        if isinstance(node, ast.Tuple):
            templates, parts = [], []
            for e in node.elts:
                t, p = self.index(e, scope)
                templates.append(t)
                parts += p
            return ("tuple", tuple(templates)), parts
        if isinstance(node, ast.Constant) and node.value is None:
            return ("none",), []
        if isinstance(node, ast.Constant) and node.value is Ellipsis:
            return ("ellipsis",), []
        if isinstance(node, ast.List):  # x[[0, 2, 0]]: integer indices written in the code
            values = [self.expr(e, scope) for e in node.elts]
            if not all(isinstance(v, Const) and isinstance(v.value, (int, bool)) for v in values):
                raise error_at(src.location(node), "a list index must be integers written in the "
                                                   "code; pass computed indices as an array instead.")
            return ("atom",), [Const([v.value for v in values])]
        return ("atom",), [self.as_atom(self.expr(node, scope), src, node)]

    def constant(self, value, src, node):
        if isinstance(value, _NUMBER_TYPES) and not isinstance(value, complex):
            return Const(value)
        if isinstance(value, complex):
            raise error_at(src.location(node), "complex numbers are not supported: use real floats.")
        kind = type(value).__name__
        raise error_at(src.location(node),
                       f"a {kind} constant cannot take part in a differentiated computation: "
                       "use numbers only.")

    def binop(self, op, left, right, src, node):
        prim = _BINOPS.get(op)
        if prim is None:
            symbol = {ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
                      ast.LShift: "<<", ast.RShift: ">>"}.get(op, op.__name__)
            raise error_at(src.location(node), f"the {symbol} operator is not supported on numbers here.")
        x = self.as_atom(left, src, getattr(node, "left", node))
        y = self.as_atom(right, src, getattr(node, "right", node))
        return self.b.emit(prim, [x, y])

    def compare(self, node, scope):
        src = scope.src
        left = self.as_atom(self.expr(node.left, scope), src, node.left)
        result = None
        for op, comparator in zip(node.ops, node.comparators):
            prim = _CMPOPS.get(type(op))
            if prim is None:
                raise error_at(src.location(node), f"the comparison {type(op).__name__} is not supported.")
            right = self.as_atom(self.expr(comparator, scope), src, comparator)
            part = self.b.emit(prim, [left, right])
            result = part if result is None else self.b.emit("and", [result, part])
            left = right
        return result

    def as_atom(self, value, src, node):
        if isinstance(value, (Var, Const)):
            return value
        if isinstance(value, TupleVal):
            raise error_at(src.location(node), "a tuple is used where a number is expected: pick "
                                               "one entry (t[0]) or unpack it (a, b = t) instead.")
        if isinstance(value, ListRef) or value is EMPTY_LIST:
            raise error_at(src.location(node),
                           "a list is used where a number is expected: lists built with append() "
                           "can be read with sum(...) and len(...).")
        if isinstance(value, (PyObj, LocalFunc)):
            what = getattr(getattr(value, "obj", None), "__name__", None) or "a function or module"
            raise error_at(src.location(node),
                           f"{what} is used as a value here: only numbers flow through a "
                           "differentiated computation. Did you forget to call it?")
        raise error_at(src.location(node), f"unsupported value {value!r}")

    # -- names and the user's environment --

    def name(self, ident, scope, node):
        try:
            return scope.lookup(ident)
        except KeyError:
            pass
        src = scope.src
        # Names local to the function (assigned somewhere in it) that were not bound yet.
        if ident in _assigned_names(src.node) and scope.parent is None:
            raise error_at(src.location(node),
                           f"`{ident}` is used before it is assigned.")
        if ident in src.cells:
            cell = src.cells[ident]
            try:
                value = cell.cell_contents
            except ValueError:
                raise error_at(src.location(node), f"free variable `{ident}` is not bound yet.") from None
            return self.environment_value(value, src, node, ident,
                                          lambda: self._read("cell", ident, _cell=cell))
        if ident in src.globals:
            value = src.globals[ident]
            return self.environment_value(
                value, src, node, ident,
                lambda: self._read("global", ident, module=src.globals.get("__name__"),
                                   _ns=src.globals, _root=src.globals is self.root.globals))
        if hasattr(builtins, ident):
            return PyObj(getattr(builtins, ident))
        raise error_at(src.location(node), f"name `{ident}` is not defined.")

    def _read(self, kind, ident, **params):
        self.env_reads.add(ident)
        return self.b.emit(kind, [], hint=ident, name=ident, **params)

    def environment_value(self, value, src, node, ident, read):
        """A global or closure value: numbers are read at call time, callables resolved now."""
        if isinstance(value, _NUMBER_TYPES) and not isinstance(value, complex) or \
                isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            return read()
        if isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type,
                              np.ufunc)) or callable(value):
            return PyObj(value)
        if isinstance(value, tuple) and all(isinstance(v, _NUMBER_TYPES) for v in value):
            return TupleVal(Const(v) for v in value)
        raise error_at(src.location(node),
                       f"`{ident}` holds a {type(value).__name__}, which cannot take part in a "
                       "differentiated computation: use numbers.")

    def attribute(self, node, scope):
        src = scope.src
        base = self.expr(node.value, scope)
        if isinstance(base, PyObj):
            try:
                value = getattr(base.obj, node.attr)
            except AttributeError:
                raise error_at(src.location(node),
                               f"{ast.unparse(node.value)} has no attribute `{node.attr}`.") from None
            if isinstance(value, _NUMBER_TYPES):
                if id(base.obj) in MODULE_CONSTANTS or isinstance(base.obj, types.ModuleType):
                    return Const(float(value) if isinstance(value, np.floating) else value)
            if isinstance(value, types.ModuleType) or callable(value):
                return PyObj(value)
            raise error_at(src.location(node),
                           f"{ast.unparse(node)} is a {type(value).__name__}: only numbers and "
                           "functions can be used from a module.")
        atom = self.as_atom(base, src, node.value)
        if node.attr in ("T", "shape", "ndim", "size"):
            prim = "transpose" if node.attr == "T" else node.attr
            return self.b.emit(prim, [atom])
        if node.attr in METHODS:
            return BoundMethod(atom, METHODS[node.attr])
        raise error_at(src.location(node),
                       f"`.{node.attr}` is not supported on a value here: use one of the array "
                       f"attributes .T .shape .ndim .size or the methods "
                       f"{', '.join(sorted('.' + m + '()' for m in METHODS))} instead.")

    # -- calls --

    def call(self, node, scope):
        src = scope.src
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise error_at(src.location(a), _UNSUPPORTED[ast.Starred])
        for k in node.keywords:
            if k.arg is None:
                raise error_at(src.location(k.value),
                               "**kwargs at a call are not supported: pass each keyword by name.")
        func = self.expr(node.func, scope)
        if isinstance(func, PyObj) and not _readable(func.obj):
            # a library's function with no rule: said before its arguments are looked at
            raise error_at(src.location(node.func), _no_rule_message(func.obj, node.func))
        if isinstance(func, PyObj) and func.obj in (builtins.float, np.float64) \
                and len(node.args) == 1 and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            try:  # float("nan"), float("inf"): a constant
                return Const(float(node.args[0].value))
            except ValueError:
                raise error_at(src.location(node), "float() of this text is not a number.") from None
        args = [self.expr(a, scope) for a in node.args]
        kwargs = {k.arg: self.expr(k.value, scope) for k in node.keywords}
        if isinstance(func, BoundMethod):
            label = f".{node.func.attr}()"
            if func.prim == "reshape" and len(args) > 1:
                args = [TupleVal(args)]
            return self.call_primitive((func.prim, "np"), [func.value] + args, kwargs, node, src,
                                       label)
        if isinstance(func, LocalFunc):
            # A nested def reads the enclosing function's variables as they are when it is called
            # (Python's late binding): in the same activation, that is the caller's scope, which
            # has followed every reassignment in branches and loops since the def.
            parent = scope if scope.src is func.scope.src and _descends(scope, func.scope) \
                else func.scope
            return self.inline(func.node, func.scope.src, args, kwargs, node, scope,
                               parent=parent, defaults_owner=None)
        if not isinstance(func, PyObj):
            raise error_at(src.location(node.func),
                           f"{ast.unparse(node.func)} is a number, not a function.")
        obj = func.obj
        label = _callable_name(obj, node.func)
        if obj in (builtins.sum, builtins.len) and len(args) == 1 and isinstance(args[0], ListRef) \
                and not kwargs:
            key = args[0].name + ("<sum>" if obj is builtins.sum else "<len>")
            return scope.lookup(key)
        if obj is builtins.len and len(args) == 1 and isinstance(args[0], TupleVal):
            return Const(len(args[0].items))
        if obj in (np.array, np.asarray) and len(args) == 1 and isinstance(args[0], ListRef):
            return self.b.emit("stack_list", [self.lookup_list(args[0], node, src)], axis=0)
        if obj is np.asarray and len(args) == 1 and not kwargs and isinstance(args[0], Var):
            return args[0]  # the same array, as NumPy gives it
        if obj in (np.array, np.asarray) and len(args) == 1 and not set(kwargs) - {"dtype"}:
            return self.array_literal(args[0], node, src)
        prim = _lookup(RESOLVE, obj)
        user = _lookup(USER_RESOLVE, obj)
        if user is not None:  # a function with a rule of the user's (compiler.register)
            if kwargs:
                raise error_at(src.location(node), f"{label}() is registered with a rule: pass its "
                                                   "arguments by position.")
            return self.b.emit(user, [self.as_atom(v, src, node) for v in args])
        if prim is not None:
            return self.call_primitive(prim, args, kwargs, node, src, label)
        variadic = _lookup(VARIADIC, obj)
        if variadic is not None:
            if kwargs:
                raise error_at(src.location(node), f"{label}() with keyword arguments is not supported.")
            items = args
            if len(args) == 1 and isinstance(args[0], TupleVal):
                items = args[0].items
            if not items:
                raise error_at(src.location(node), f"{label}() needs at least one argument.")
            atoms = [self.as_atom(v, src, node) for v in items]
            result = atoms[0]
            for a in atoms[1:]:
                result = self.b.emit(variadic, [result, a])
            return result
        if obj is builtins.sum:
            if len(args) != 1 or not isinstance(args[0], TupleVal) or kwargs:
                raise error_at(src.location(node),
                               "sum() is supported on a tuple or a list of numbers here.")
            atoms = [self.as_atom(v, src, node) for v in args[0].items]
            result = Const(0)
            for a in atoms:
                result = self.b.emit("add", [result, a])
            return result
        if isinstance(obj, types.FunctionType):
            if obj in self.active_calls or obj is self.root.fn:
                raise error_at(src.location(node),
                               f"{obj.__name__} calls itself: recursion cannot be differentiated by "
                               "this compiler. Rewrite it with a loop.")
            callee = self._parse_callee(obj, src, node)
            self.sources.append(callee)
            self.active_calls.append(obj)
            try:
                return self.inline(callee.node, callee, args, kwargs, node, scope,
                                   parent=None, defaults_owner=obj)
            finally:
                self.active_calls.pop()
        raise error_at(src.location(node.func), _no_rule_message(obj, node.func))

    def _parse_callee(self, obj, src, node):
        try:
            return parse_function(obj)
        except GradError as exc:
            raise error_at(src.location(node), f"cannot differentiate through {obj.__name__}: {exc}") from None

    def call_primitive(self, prim_lib, args, kwargs, node, src, label):
        prim, lib = prim_lib
        if prim in ARRAY_CALLS:
            return self.array_call(prim, args, kwargs, node, src, label)
        if kwargs:
            raise error_at(src.location(node),
                           f"{label}() keyword arguments are not supported: pass them by position.")
        atoms = [self.as_atom(v, src, node) for v in args]
        if prim == "log" and len(atoms) == 2:
            num = self.b.emit("log", [atoms[0]], lib=lib)
            den = self.b.emit("log", [atoms[1]], lib=lib)
            return self.b.emit("div", [num, den])
        if prim == "pow" and lib is None and len(atoms) == 3:
            raise error_at(src.location(node), "pow() with a modulus cannot be differentiated: "
                                               "write (x ** y) % m instead.")
        if prim == "round" and len(atoms) == 2:
            # round(x, n) is piecewise constant in x: its value is kept, no gradient flows.
            return self.b.emit("round", atoms, lib=lib, ndigits=True)
        arity = PRIMS[prim].arity
        if arity is not None and len(atoms) != arity:
            raise error_at(src.location(node),
                           f"{label}() takes {arity} argument{'s' if arity != 1 else ''} here, "
                           f"got {len(atoms)}.")
        if prim == "select":  # np.where: NumPy's broadcasting, even with a known condition
            return self.b.emit("select", atoms, lib="np")
        if PRIMS[prim].keeps_lib and lib is not None:  # math.log raises where np.log gives nan
            return self.b.emit(prim, atoms, lib=lib)
        return self.b.emit(prim, atoms)

    def static(self, value, src, node, what):
        """A build-time constant (an axis, keepdims): an int, a bool, None, or a tuple of ints."""
        if isinstance(value, Const):
            return value.value
        if isinstance(value, TupleVal) and all(isinstance(v, Const) for v in value.items):
            return tuple(v.value for v in value.items)
        raise error_at(src.location(node),
                       f"{what} must be a constant written in the code (such as 0 or (0, 1)), "
                       "so the shape of the result is known when the gradient is built.")

    def dims(self, value, src, node):
        """A shape argument: an int, a tuple of ints, or x.shape."""
        if isinstance(value, TupleVal):
            return [self.as_atom(v, src, node) for v in value.items]
        return [self.as_atom(value, src, node)]

    def array_call(self, prim, args, kwargs, node, src, label):
        """NumPy's array functions: static keyword arguments become parameters of the equation."""
        def take(name, position, default=None):
            if name in kwargs:
                return kwargs.pop(name)
            if position is not None and len(args) > position:
                return args[position]
            return default

        if prim in ("sum", "mean", "amax", "amin", "prod"):
            x = self.as_atom(args[0], src, node)
            axis = self.static(take("axis", 1, Const(None)), src, node, "axis")
            keepdims = self.static(take("keepdims", 2, Const(False)), src, node, "keepdims")
            self.no_more(kwargs, args, 3, label, src, node)
            params = {}
            if axis is not None:
                params["axis"] = axis
            if keepdims:
                params["keepdims"] = True
            return self.b.emit(prim, [x], lib="np", **params)
        if prim == "transpose":
            x = self.as_atom(args[0], src, node)
            axes = take("axes", 1, Const(None))
            if len(args) > 2:
                axes = TupleVal(args[1:])
            axes = self.static(axes, src, node, "axes")
            return self.b.emit("transpose", [x], **({"axes": tuple(axes)} if axes is not None else {}))
        if prim == "reshape":
            x = self.as_atom(args[0], src, node)
            shape = take("newshape", 1) if "shape" not in kwargs else kwargs.pop("shape")
            return self.b.emit("reshape", [x] + self.dims(shape, src, node))
        if prim in ("expand_dims", "squeeze"):
            x = self.as_atom(args[0], src, node)
            axis = self.static(take("axis", 1, Const(None)), src, node, "axis")
            if prim == "expand_dims" and axis is None:
                raise error_at(src.location(node), "np.expand_dims needs an axis.")
            return self.b.emit(prim, [x], **({"axis": axis} if axis is not None else {}))
        if prim in ("concatenate", "stack"):
            seq = args[0] if args else kwargs.pop("arrays", None)
            if prim == "stack" and isinstance(seq, ListRef):  # a list built with append()
                axis = self.static(take("axis", 1, Const(0)), src, node, "axis")
                items = self.lookup_list(seq, node, src)
                return self.b.emit("stack_list", [items], axis=axis)
            if not isinstance(seq, TupleVal):
                raise error_at(src.location(node),
                               f"{label}() takes a tuple or list of arrays written in the call.")
            axis = self.static(take("axis", 1, Const(0)), src, node, "axis")
            atoms = [self.as_atom(v, src, node) for v in seq.items]
            return self.b.emit(prim, atoms, axis=axis)
        if prim in ("zeros", "ones"):
            shape = take("shape", 0)
            kwargs.pop("dtype", None)
            return self.b.emit(prim, self.dims(shape, src, node), lib="np")
        if prim == "full":
            shape = take("shape", 0)
            value = self.as_atom(take("fill_value", 1), src, node)
            return self.b.emit("full", [value] + self.dims(shape, src, node), lib="np")
        if prim in ("zeros_like", "ones_like", "eye"):
            kwargs.pop("dtype", None)
            return self.b.emit(prim, [self.as_atom(args[0], src, node)], lib="np")
        if prim == "arange":
            return self.b.emit("arange", [self.as_atom(a, src, node) for a in args], lib="np")
        raise error_at(src.location(node), f"{label}() is not supported here.")

    def lookup_list(self, ref, node, src):
        return self.current_scope.lookup(ref.name + "<items>")

    def no_more(self, kwargs, args, max_args, label, src, node):
        if kwargs or len(args) > max_args:
            extra = ", ".join(kwargs) or f"{len(args)} arguments"
            raise error_at(src.location(node), f"{label}(): {extra} not supported here.")

    def array_literal(self, value, node, src):
        """np.array([a, b, ...]) of numbers (or of such lists): a stack of the values."""
        if isinstance(value, TupleVal):
            atoms = [self.array_literal(v, node, src) if isinstance(v, TupleVal)
                     else self.as_atom(v, src, node) for v in value.items]
            return self.b.emit("stack", atoms, axis=0)
        return self.b.emit("copy", [self.as_atom(value, src, node)])

    def inline(self, fnode, src, args, kwargs, call_node, caller_scope, parent, defaults_owner):
        """Lower a called function's body in place, its parameters bound to the call's arguments."""
        caller = caller_scope.src
        spec = fnode.args
        names = [a.arg for a in spec.args]
        kwonly = [a.arg for a in spec.kwonlyargs]
        if len(args) > len(names):
            raise error_at(caller.location(call_node),
                           f"{fnode.name}() takes {len(names)} positional arguments but "
                           f"{len(args)} were given.")
        bound = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names and key not in kwonly:
                raise error_at(caller.location(call_node),
                               f"{fnode.name}() got an unexpected keyword argument `{key}`.")
            if key in bound:
                raise error_at(caller.location(call_node),
                               f"{fnode.name}() got multiple values for argument `{key}`.")
            bound[key] = value
        defaults = self._defaults(fnode, src, defaults_owner, parent)
        scope = Scope(src, parent)
        for name in names + kwonly:
            if name in bound:
                scope.vars[name] = bound[name]
                scope.params[name] = bound[name]
                scope.views[name] = UNKNOWN  # the caller's value: other names may see it
            elif name in defaults:
                scope.vars[name] = defaults[name]
            else:
                raise error_at(caller.location(call_node),
                               f"{fnode.name}() is missing the argument `{name}`.")
            self.user_locals.add(name)
        saved_loc = self.b.loc
        body = fnode.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]
        scope.vars[RETURNED] = Const(False)
        self.scope_stack.append(caller_scope)
        try:
            self.block(body, scope)
        finally:
            self.scope_stack.pop()
        self.b.loc = saved_loc
        return self.returned_value(scope, src, fnode)

    def _defaults(self, fnode, src, owner, parent):
        spec = fnode.args
        names = [a.arg for a in spec.args]
        out = {}
        if owner is not None:  # a module-level function: its defaults are already evaluated
            for name, value in zip(names[len(names) - len(owner.__defaults__ or ()):],
                                   owner.__defaults__ or ()):
                out[name] = self.constant(value, src, fnode)
            for name, value in (owner.__kwdefaults__ or {}).items():
                out[name] = self.constant(value, src, fnode)
            return out
        # A nested def: its default expressions are evaluated where it is defined.
        scope = parent
        for name, expr in zip(names[len(names) - len(spec.defaults):], spec.defaults):
            out[name] = self.expr(expr, scope)
        for a, expr in zip(spec.kwonlyargs, spec.kw_defaults):
            if expr is not None:
                out[a.arg] = self.expr(expr, scope)
        return out


_LIBRARY_ROOTS = {"numpy", "scipy", "sympy", "torch", "jax", "pandas", "sklearn", "autograd",
                  "dask", "numba", "tensorflow"}


def is_library(fn):
    """Whether a Python function belongs to a library (NumPy, SciPy, the standard library, any
    installed package) rather than to the user's code: a library's functions are never read and
    inlined; where they are differentiated they need a rule. Decided by module and file: the
    standard library, site-packages, and the packages above; an editable install of the user's
    own package is the user's code."""
    module = (getattr(fn, "__module__", None) or "").split(".")[0]
    if module in _LIBRARY_ROOTS or module in getattr(sys, "stdlib_module_names", ()):
        return True
    code = getattr(fn, "__code__", None)
    filename = code.co_filename if code is not None else ""
    return "site-packages" in filename or "dist-packages" in filename


def _readable(obj):
    """Whether the frontend knows what to do with a call to `obj` (a rule, or source to read)."""
    if _lookup(RESOLVE, obj) or _lookup(USER_RESOLVE, obj) or _lookup(VARIADIC, obj):
        return True
    if obj in (builtins.sum, builtins.len, builtins.range, builtins.float, builtins.enumerate,
               builtins.zip, np.array, np.asarray, np.float64):
        return True
    if isinstance(obj, types.FunctionType):
        return not is_library(obj)
    return not callable(obj) or isinstance(obj, type) and not issubclass(obj, np.generic)


def _no_rule_message(obj, func_node):
    label = _callable_name(obj, func_node)
    return (f"{label} has no derivative rule here, and the compiler does not read a library's "
            "source. Write the computation with supported functions (see the README's list), "
            "wrap a Python implementation of it in a `def` of your own, or register a rule: "
            f"compiler.register({label.split('.')[-1]}, vjp) with vjp(g, out, *args) returning "
            "each argument's gradient.")


def _what(value):
    """How a message names a value the lowering holds (never its internal class)."""
    if isinstance(value, LocalFunc):
        return f"the function `{value.node.name}` (a def)"
    if isinstance(value, ListRef) or value is EMPTY_LIST:
        return "a list"
    if isinstance(value, TupleVal):
        return "a tuple"
    if isinstance(value, PyObj):
        return f"`{getattr(value.obj, '__name__', type(value.obj).__name__)}` (a function or module)"
    return f"a {type(value).__name__}"


def _lookup(table, obj):
    try:
        return table.get(obj)
    except TypeError:
        return None


def _callable_name(obj, func_node):
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if name and module in ("math", "builtins"):
        return name if module == "builtins" else f"math.{name}"
    if name and module and module.startswith("numpy"):
        public = module.replace("numpy.linalg._linalg", "numpy.linalg").replace(
            "numpy._core.", "numpy.").replace("numpy.core.", "numpy.")
        if public.startswith("numpy._") or public in ("numpy.fromnumeric", "numpy.multiarray",
                                                      "numpy.numeric", "numpy.umath"):
            public = "numpy"
        return f"{public}.{name}"
    if name:
        return name
    return ast.unparse(func_node)


def _assigned_names(fnode):
    """Names a function assigns anywhere (kept on the node: an id() could be reused)."""
    names = getattr(fnode, "_assigned_names", None)
    if names is None:
        names = {n.id for n in ast.walk(fnode) if isinstance(n, ast.Name)
                 and isinstance(n.ctx, ast.Store)}
        fnode._assigned_names = names
    return names


def identifiers(src):
    """Every identifier a function's source mentions: the namer never reuses them for its own names."""
    out = set()
    for n in ast.walk(src.node):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.arg):
            out.add(n.arg)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.add(n.name)
    return out


def lower(fn):
    """Parse and lower `fn`; returns (graph, lowering) where lowering keeps what the namer needs."""
    src = parse_function(fn)
    lowering = Lowering(src)
    graph = lowering.lower_root()
    return graph, lowering
