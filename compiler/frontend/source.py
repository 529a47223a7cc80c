"""Reading a user's function: its source text, parsed once, and where each node sits in its file.

`parse_function` finds a function's `def` (refusing lambdas, generators, functions without source
and source text that is not the code that runs); `FuncSource.location` turns a node into the
`Location` every message and comment names. The questions the lowering asks of the syntax tree
(which names a block assigns, which it appends to, whether a name is read outside a loop) live here
too: they read the text, never values.
"""
from __future__ import annotations

import ast
import inspect
import linecache
import textwrap
import types

from ..errors import GradError, Location, error_at


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


def _parse_lines(fn):
    """(lines, first line number, syntax tree, column shift) of the source lines fn came from, or
    None when they cannot be read or parsed. A lambda inside a larger expression is parsed from
    its line alone, as far as it goes."""
    try:
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return None
    start = max(start, 1)
    dedented = textwrap.dedent("".join(lines))
    shift = _indent_of(lines[0]) - _indent_of(dedented.splitlines()[0] + "\n") if lines else 0
    try:
        return lines, start, ast.parse(dedented), shift
    except SyntaxError:
        pass
    for end in range(len(dedented), 0, -1):
        try:
            tree = ast.parse(dedented[:end].strip().rstrip(",)"))
        except SyntaxError:
            continue
        return lines, start, tree, len(lines[0]) - len(lines[0].lstrip())
    return None


def lambda_def(node):
    """A lambda as the `def` it stands for: `def <lambda>(args): return body`."""
    fdef = ast.FunctionDef("<lambda>", node.args, [ast.Return(node.body)], [], None)
    for sub in (fdef, fdef.body[0]):
        ast.copy_location(sub, node)
        sub.end_lineno, sub.end_col_offset = node.end_lineno, node.end_col_offset
    return fdef


def _special_location(fn, node_types):
    """Where a lambda, a `yield` or an `async def` sits in fn's source (the definition line when the
    source cannot be read)."""
    code = fn.__code__
    parsed = _parse_lines(fn)
    if parsed is None:
        return _definition_location(fn)
    lines, start, tree, shift = parsed
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
        src = _parse_lambda(fn)
        _source_cache[code] = src
        return src
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
    if node.name != code.co_name or not _same_code(node, code, fn):
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


def _parse_lambda(fn):
    """`grad(lambda x: x * x)`: the lambda in its line, read as the `def` it stands for."""
    code = fn.__code__
    parsed = _parse_lines(fn)
    if parsed is None:
        raise GradError(f"cannot read the source of a lambda defined in {code.co_filename!r}: "
                        "define the function with `def` in a .py file.")
    lines, start, tree, shift = parsed
    names = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda)
             and [a.arg for a in n.args.args + n.args.kwonlyargs] == names]
    if len(found) != 1:
        raise GradError(f"{len(found) or 'no'} lambdas with the parameters ({', '.join(names)}) "
                        f"on line {start} of {code.co_filename}: the compiler cannot tell which one "
                        "to read; define the function with `def`.")
    all_lines = linecache.getlines(code.co_filename) or lines
    return FuncSource(fn, lambda_def(found[0]), code.co_filename, all_lines, start - 1, shift)


def _same_code(node, code, fn):
    """Whether the parsed `def` compiles to the instructions `code` runs (names compared by spelling,
    since a function compiled alone sees its free variables as globals)."""
    if survey(node).has_assert:
        return True  # pytest rewrites asserts on import; refused later anyway
    try:
        compiled = compile(ast.Module(_imports(fn) + [node], []), code.co_filename, "exec")
    except (SyntaxError, ValueError, RecursionError):
        return True  # cannot tell: trust the text
    inner = next((c for c in compiled.co_consts if isinstance(c, types.CodeType)), None)
    if inner is None:
        return True
    if _same_tables(inner, code):
        return True  # the same bytes reading the same names and constants: the same instructions
    return _shape(inner) == _shape(code)  # (a closure's names are loaded differently alone)


def _imports(fn):
    """`import m` for each module the function reads as a global: Python compiles `m.f(x)` on an
    imported name differently (LOAD_ATTR, not LOAD_METHOD), and the text is compiled alone."""
    glob = fn.__globals__
    return [ast.Import([ast.alias(name, lineno=1, col_offset=0)], lineno=1, col_offset=0)
            for name in fn.__code__.co_names if isinstance(glob.get(name), types.ModuleType)]


def _same_tables(a, b):
    """Whether two code objects' instructions are identical as `_shape` sees them, told without
    disassembling: equal bytecode, names, locals and constants (compared as `_shape` does, by
    repr, nested code objects alike)."""
    return (a.co_code == b.co_code and a.co_names == b.co_names
            and a.co_varnames == b.co_varnames and a.co_cellvars == b.co_cellvars
            and a.co_freevars == b.co_freevars and _const_reprs(a) == _const_reprs(b))


def _const_reprs(code):
    return [("code" if isinstance(c, types.CodeType) else repr(c)) for c in code.co_consts]


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


class Survey:
    """What the questions below ask of a whole function's tree, gathered in one walk of it (they
    each walked it before: three walks of every node per build). Kept on the node itself, which is
    never changed after parsing (an id() could be reused once a tree is freed)."""

    __slots__ = ("identifiers", "stored", "loads", "has_assert")

    def __init__(self, fnode):
        mentioned, stored, loads = set(), set(), {}
        has_assert = False
        for n in ast.walk(fnode):
            kind = type(n)
            if kind is ast.Name:
                mentioned.add(n.id)
                if isinstance(n.ctx, ast.Store):
                    stored.add(n.id)
                elif isinstance(n.ctx, ast.Load):
                    loads.setdefault(n.id, []).append(n)
            elif kind is ast.arg:
                mentioned.add(n.arg)
            elif kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
                mentioned.add(n.name)
            elif kind is ast.Assert:
                has_assert = True
        self.identifiers = frozenset(mentioned)
        self.stored = stored
        self.loads = loads  # name -> the nodes reading it
        self.has_assert = has_assert


def survey(fnode):
    found = getattr(fnode, "_survey", None)
    if found is None:
        found = fnode._survey = Survey(fnode)
    return found


def identifiers(src):
    """Every identifier a function's source mentions: the namer never reuses them for its own names."""
    return survey(src.node).identifiers


# --- questions about the syntax tree -------------------------------------------------------------

def assigned_names(fnode):
    """Names a function assigns anywhere."""
    return survey(fnode).stored


def stored_names(stmts):
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


def first_store_order(stmts):
    """name -> its rank among the names a block stores (first store first); others rank last."""
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


def is_append(call):
    """Whether a node is `name.append(...)`."""
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "append" and isinstance(call.func.value, ast.Name))


def appended_names(stmts):
    return {n.func.value.id for stmt in stmts for n in ast.walk(stmt) if is_append(n)}


def is_range_call(node):
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"


def contains(stmts, node_type):
    return any(isinstance(n, node_type) for stmt in stmts for n in ast.walk(stmt))


def read_later(src, loop, name):
    """Whether `name` is read anywhere in the function outside this loop (after it, in effect)."""
    readers = survey(src.node).loads.get(name)
    if not readers:
        return False
    inside = getattr(loop, "_inside", None)
    if inside is None:
        inside = loop._inside = {id(n) for n in ast.walk(loop)}
    return any(id(n) not in inside for n in readers)
