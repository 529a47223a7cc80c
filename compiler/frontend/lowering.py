"""Lowering: statements and expressions of the user's code -> equations of a `Graph`.

`Lowering` owns the recursion: a statement lowers its expressions, an expression its calls
(`Calls`, which lowers the bodies of the functions it inlines with `block`), an `if` or a loop its
blocks. It emits into one builder at a time (a branch or a loop body gets its own, whose equations
become a region). Names are bound in `Scope`s; which names see the same array is `Memory`'s
(aliasing.py); what is refused by syntax alone is `fence`'s.
"""
from __future__ import annotations

import ast
import builtins
import operator

import types

import numpy as np

from ..aliasing import UNKNOWN, Memory
from ..buildlog import stage
from ..errors import error_at
from .. import trees
from ..ir import Builder, Const, Eqn, Graph, Var
from ..passes import ComplexConstant, simplify
from ..primitives import METHODS, MODULE_CONSTANTS
from . import fence
from .calls import Calls, static
from .source import (appended_names, assigned_names, contains, first_store_order, identifiers,
                     is_append, lambda_def,
                     is_range_call, parse_function, read_later, stored_names)
from .values import (BREAK, CONTINUE, CONTAINERS, EMPTY_LIST, EXIT_FLAGS, FLAG_KEYS, NUMBER_TYPES,
                     RETURN_VALUE, RETURNED, BoundMethod, ContainerMethod, DictVal, ListVal,
                     LocalFunc, NamedVal, ObjVal, OpaqueMethod, PartialVal, PyObj, Scope,
                     TupleVal, UserMethod, as_atom,
                     bound, constant, environment_value, hint, is_false, is_true, what)


FUNCTIONS = (PyObj, LocalFunc, UserMethod, PartialVal)  # a name holding one: chosen when built


class TrackingBuilder(Builder):
    """A Builder that remembers which equation made each value. It folds constants but never
    answers with an existing variable (x * 1.0 is a new array in Python, not x): two names hold
    one variable only where Python gives them one object, which aliasing.py relies on. The
    passes fold such identities later, when aliasing is settled."""

    def __init__(self, producers, loc=None):
        super().__init__(loc=loc, simplify=simplify)
        self.producers = producers

    def emit(self, prim, ins, hint="", **params):
        ins = tuple(ins)
        try:
            found = self.simplify(prim, ins, params)
        except ComplexConstant as exc:
            raise error_at(self.loc[0] if self.loc else None, str(exc)) from None
        if isinstance(found, tuple):  # a cheaper equation instead: (prim, ins)
            return self.emit(found[0], found[1], hint, **params)
        if isinstance(found, Const):
            return found
        out = Var(hint)
        eqn = Eqn(prim, ins, (out,), params, self.loc)
        self.eqns.append(eqn)
        self.producers[out] = eqn
        return out


class ListField:
    """One running value of a list (its sum, length or items) as a loop carries it."""

    __slots__ = ("name", "attr", "suffix")

    def __init__(self, name, attr, suffix):
        self.name = name      # the name the loop appends through
        self.attr = attr
        self.suffix = suffix

    @property
    def hint(self):
        return f"{self.name}_{self.suffix}"

    @property
    def sort_key(self):
        """Where it goes among the carried values: after the names, as `name<suffix>`."""
        return f"{self.name}<{self.suffix}>"

    def __str__(self):
        return self.name

    def get(self, scope):
        lst = scope.vars.get(self.name)
        return getattr(lst, self.attr) if isinstance(lst, ListVal) else lst

    def set(self, scope, value):
        scope.rebind_list(scope.vars[self.name].replaced(**{self.attr: value}))


class Lowering:
    """Walks statements and expressions, emitting equations into the current builder."""

    def __init__(self, root, structures=None, has_aux=False, fixed=None):
        self.root = root
        self.fixed = fixed  # values known when the graph is built: api.Fixed (calls.NeedsValue)
        self.has_aux = has_aux              # the function returns (loss, aux): calls.split_aux
        self.aux_tree = None
        self.outputs = False                # any structure of outputs: lower(outputs=True)
        self.output_tree = None
        self.structures = structures or {}  # parameter name -> its container's structure (trees.py)
        self.leaf_names = {}                # parameter name -> the names of its leaves' parameters
        self.root_containers = {}           # parameter name -> the container value it holds
        self.producers = {}             # var -> the equation that made it (for aliasing checks)
        self.b = TrackingBuilder(self.producers)
        self.sources = [root]           # every FuncSource read, for the namer's reserved set
        self.user_locals = set()        # names the user's functions assign or take as parameters
        self.env_reads = set()          # names the generated code reads from globals or cells
        self.returned_nodes = {}        # id(value) -> the `return` statement that returned it
        self.memory = Memory(self)      # which names see the same array (aliasing.py)
        self.calls = Calls(self)        # calls, and the user's functions inlined
        self.scope_stack = []           # the scopes of the functions being inlined into
        self.new_object = False         # the value being assigned is certainly a new object

    # -- entry --

    def lower_root(self):
        src = self.root
        scope = Scope(src)
        args = src.node.args
        fence.check_signature(src, args)
        params = []
        taken = set(identifiers(src)) | {a.arg for a in args.args + args.kwonlyargs}
        for a in args.args + args.kwonlyargs:
            tree = self.structures.get(a.arg)
            if tree is not None and tree != trees.LEAF:
                # a container: one parameter per leaf, the name bound to the container of them
                leaves = []
                for path in trees.leaf_paths(tree):
                    name = trees.identifier((a.arg,) + path)
                    while name in taken:
                        name += "_"
                    taken.add(name)
                    v = Var(name)
                    self.memory.argument(name, v, scope)
                    params.append(v)
                    leaves.append(v)
                    self.user_locals.add(name)
                self.leaf_names[a.arg] = [v.hint for v in leaves]
                scope.vars[a.arg] = _container(tree, iter(leaves))
                self.root_containers[a.arg] = scope.vars[a.arg]
                self.user_locals.add(a.arg)
                continue
            v = Var(a.arg)
            scope.vars[a.arg] = v
            if self.fixed is not None and a.arg in self.fixed.params:  # one graph per value
                scope.vars[a.arg] = Const(self.fixed.params[a.arg])
            self.memory.argument(a.arg, v, scope)
            params.append(v)
            self.user_locals.add(a.arg)
        self.root_params = set(params)
        scope.params = {v.hint: v for v in params}
        result = self.function_body(src, scope)
        extra = []
        if self.outputs and not self.has_aux:  # any structure of outputs (jvp, vjp)
            self.output_tree, atoms = self.calls.split_tree(result, src, "the output")
            if not atoms:
                raise error_at(src.location(src.node), f"{src.name} returns no value that "
                                                       "depends on its arguments.")
            return Graph(src.name, params, self.b.eqns, [as_atom(a, src, src.node)
                                                         if not isinstance(a, Var) else a
                                                         for a in atoms])
        if self.has_aux:
            result, self.aux_tree, extra = self.calls.split_aux(result, src)
        if not isinstance(result, (Var, Const)):
            kept, node = self.returned_nodes.get(id(result), (None, src.node))
            node = node if kept is result else src.node
            kind = "a list" if isinstance(node, ast.Return) and isinstance(node.value, ast.List) \
                else "a tuple" if isinstance(result, TupleVal) else "a non-number"
            raise error_at(src.location(getattr(node, "value", node)),
                           f"{src.name} returns {kind}: a gradient is taken of one number. Return a "
                           "single value (a sum, a mean, one entry), or differentiate each output "
                           "with its own function.")
        value = as_atom(result, src, src.node)
        return Graph(src.name, params, self.b.eqns, [value] + extra)

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
            missing = ("does not return a value" if flag is None or is_false(flag)
                       else "does not return a value on every path")
            raise error_at(src.location(fnode),
                           f"{fnode.name} {missing}: end every path with `return <expression>`.")
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
            fence.check_update_target(src, node.target)
            old = self.name(node.target.id, scope, node.target)
            value = self.binop(type(node.op), old, self.expr(node.value, scope), src, node)
            # in place for an array: every name that sees its memory sees the change
            self.memory.write(node.target.id, old, value, scope, node)
            self.user_locals.add(node.target.id)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.expr(node.value, scope), scope)
        elif isinstance(node, ast.Return):
            fence.check_return(src, node)
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
            if is_append(node.value):
                return self.append(node.value, scope)
            if isinstance(node.value, ast.Call):
                # a call for its effect (print(...), np.random.seed(0)): called as written; its
                # result is thrown away, so its arguments need no gradient
                start = len(self.b.eqns)
                result = self.expr(node.value, scope)
                eqns = self.b.eqns
                for k in range(start, len(eqns)):
                    eqn = eqns[k]
                    if eqn.prim == "call":
                        eqn.params["_effect"] = True
                        if eqn.outs and eqn.out is result:  # nothing reads it: a statement
                            eqns[k] = Eqn("call", eqn.ins, (), eqn.params, eqn.loc)
                return None
            raise fence.discarded_value(src, node)
        elif isinstance(node, ast.Pass):
            return None
        elif isinstance(node, ast.FunctionDef):
            fence.check_nested_def(src, node)
            scope.vars[node.name] = LocalFunc(node, scope)
            self.user_locals.add(node.name)
        elif isinstance(node, (ast.If, ast.For, ast.While)):
            return self.control_flow(node, scope)
        else:
            raise fence.unsupported(src, node, "statements")
        return None

    def check_writable(self, name, array, scope, node):
        """`y[i] = v` into an argument (or an alias or view of one) or a global would change the
        caller's array: refused here, where the write can do nothing else (on a float it raises)."""
        view = self.memory.view_of(name, scope)
        made = self.producers.get(array)
        owner = view.storage.owner if view not in (None, UNKNOWN) else None
        if owner is not None or made is not None and made.prim in ("global", "cell"):
            whose = f"the array the caller passed as `{owner}`" if owner and owner != name else \
                "an array the caller passed in (or a global)"
            raise error_at(scope.src.location(node),
                           f"writing into `{name}` would change {whose}: copy it first, "
                           f"`{name} = {name}.copy()`, then write into the copy.")

    def conditional(self, test, then_build, else_build, hints):
        """`then_build()` if `test` else `else_build()` (each returns a list of values, built in
        its own region), as a `cond` equation. A known test builds its side only, now."""
        if isinstance(test, Const):
            return list(then_build() if test.value else else_build())
        regions, results = [], []
        for build in (then_build, else_build):
            saved = self.b
            self.b = TrackingBuilder(self.producers, loc=saved.loc)
            results.append(list(build()))
            regions.append(self.b.eqns)
            self.b = saved
        outs = [Var(h) for h in hints]
        self.b.eqns.append(Eqn("cond", [test], outs,
                               {"then": Graph("then", [], regions[0], results[0]),
                                "else": Graph("else", [], regions[1], results[1])}, self.b.loc))
        return outs

    def global_arrays(self, scope):
        """(name, value) of every global or closure array the function reads, read afresh."""
        src = scope.src
        out = []
        for ident in sorted(self.env_reads):
            if bound(scope, ident):
                continue
            value = src.cells[ident].cell_contents if ident in src.cells else src.globals.get(ident)
            if isinstance(value, np.ndarray):
                out.append((ident, self.name(ident, scope, src.node)))
        return out

    def append(self, call, scope):
        """`name.append(value)` on a list this function activation started: every name bound to
        the list holds it with the value appended."""
        src = scope.src
        name = call.func.value.id
        lst = scope.lookup(name) if bound(scope, name) else None
        if isinstance(lst, TupleVal):
            owner = next((p for p, v in self.root_containers.items() if _holds(v, lst)), None) \
                or next((p for p, v in scope.activation.params.items() if _holds(v, lst)), None)
            if owner is None and not [n for n in scope.vars.holders(lst) if n != name
                                      and n.isidentifier()]:
                # a list the function made (a literal or a comprehension): a new list, one longer
                fence.check_append(src, call)
                scope.vars[name] = TupleVal(lst.items + [self.expr(call.args[0], scope)],
                                            is_list=True)
                return None
            raise error_at(src.location(call),
                           f"appending to `{name}` would change the list "
                           + (f"the caller passed as `{owner}`" if owner else "another name holds")
                           + f": make a new one instead, `{name} = {name} + [value]`.")
        if not isinstance(lst, ListVal) or lst.activation is not scope.activation:
            raise error_at(src.location(call),
                           f"`{name}.append(...)` is supported on a list started as `{name} = []` "
                           "in this function.")
        fence.check_append(src, call)
        value = as_atom(self.expr(call.args[0], scope), src, call.args[0])
        scope.vars[name] = lst.appended(self.b, value, name)
        scope.rebind_list(scope.vars[name])

    def control_flow(self, node, scope):
        if isinstance(node, ast.If):
            test = as_atom(self.expr(node.test, scope), scope.src, node.test)
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
        """The values either branch gave a name (or a list), merged by a `cond` equation."""
        (then_scope, then_eqns), (else_scope, else_eqns) = branches
        names = []
        for key in _either_changed(then_scope.vars, else_scope.vars):
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
        assign = []   # (key, what it holds after the cond)
        lists = {}    # a list's origin -> the list merged (once, whichever names hold it)
        for key in names:
            pair = [branch_scope.vars.get(key, scope.vars.get(key, Const(None)))
                    for branch_scope in (then_scope, else_scope)]
            one_list = isinstance(pair[0], ListVal) and pair[0].same_list(pair[1])
            shaped = self.calls.merge_shapes(pair[0], pair[1], placeholder=key == RETURN_VALUE)
            if shaped is not None:  # tuples, dicts... of one structure: merged leaf by leaf
                leaves = []
                for x, y in zip(shaped[0], shaped[1]):
                    if x is y or isinstance(x, Const) and isinstance(y, Const) and x == y:
                        leaves.append(x)
                        continue
                    leaves.append(Var(hint(key)))
                    then_results.append(x)
                    else_results.append(y)
                    outs.append(leaves[-1])
                assign.append((key, shaped[2](leaves)))
                continue
            for value in pair:
                if isinstance(value, FUNCTIONS):  # if flag: act = np.tanh else: act = relu
                    self.calls.choose_function(test, scope, node)
                if isinstance(value, LocalFunc):
                    raise error_at(scope.src.location(node),
                                   f"`{key}` is defined with `def` inside a branch: the compiler "
                                   "decides which function a call runs when it builds the gradient. "
                                   "Define one function outside the `if` and branch inside it.")
                if not one_list and (isinstance(value, TupleVal) or not isinstance(value, (Var, Const))):
                    if key == RETURN_VALUE:  # never name the scope's own key
                        raise error_at(scope.src.location(node),
                                       f"one path returns {what(value)} and another something "
                                       "else: return values of one structure on every path.")
                    raise error_at(scope.src.location(node),
                                   f"`{key}` is given {what(value)} in one branch: only "
                                   "numbers, or tuples and dicts of one structure, can be merged "
                                   "after an if. Assign it outside the if.")
            if one_list:  # the same list, appended to in a branch: its running values are merged
                merged = lists.get(pair[0].origin)
                if merged is None:
                    fields = {}
                    for attr, suffix in ListVal.FIELDS:
                        x, y = getattr(pair[0], attr), getattr(pair[1], attr)
                        if x is y or (isinstance(x, Const) and isinstance(y, Const) and x == y):
                            fields[attr] = x
                            continue
                        fields[attr] = Var(f"{key}_{suffix}")
                        then_results.append(x)
                        else_results.append(y)
                        outs.append(fields[attr])
                    merged = lists[pair[0].origin] = pair[0].replaced(**fields)
                assign.append((key, merged))
                continue
            then_results.append(pair[0])
            else_results.append(pair[1])
            outs.append(Var(hint(key)))
            assign.append((key, outs[-1]))
        if not then_eqns and not else_eqns and not names:
            return
        then_graph = Graph("then", [], then_eqns, then_results)
        else_graph = Graph("else", [], else_eqns, else_results)
        self.b.eqns.append(Eqn("cond", [test], outs, {"then": then_graph, "else": else_graph},
                               self.b.loc))
        for key, value in assign:
            scope.vars[key] = value
            if key not in FLAG_KEYS and not isinstance(value, ListVal):
                self.user_locals.add(key)

    def branch_value_atoms(self, truth, a, b, scope):
        """For and/or: one side is an AST node (evaluated lazily), the other an atom already known."""
        def side(value):
            if isinstance(value, (Var, Const)):
                return lambda: [value]
            return lambda: [as_atom(self.expr(value, scope.branch()), scope.src, value)]
        if isinstance(truth, Const):  # evaluated in the scope itself, as before
            chosen = a if truth.value else b
            return chosen if isinstance(chosen, (Var, Const)) else as_atom(
                self.expr(chosen, scope), scope.src, chosen)
        return self.conditional(truth, side(a), side(b), [""])[0]

    def branch_value(self, test, then_node, else_node, scope, node):
        """`a if test else b`: only the taken branch runs, as in Python."""
        if isinstance(test, Const):
            return self.expr(then_node if test.value else else_node, scope)

        def side(expr_node):
            def build():
                value = self.expr(expr_node, scope.branch())
                if isinstance(value, FUNCTIONS):  # act = np.tanh if flag else relu
                    self.calls.choose_function(test, scope, node)
                return [as_atom(value, scope.src, expr_node)]
            return build
        return self.conditional(test, side(then_node), side(else_node), [""])[0]

    # -- loops --

    def lower_for(self, node, scope):
        src = scope.src
        fence.check_loop(src, node)
        it = node.iter
        func = None
        if isinstance(it, ast.Call) and not it.keywords:
            func = self.expr(it.func, scope)
            func = func.obj if isinstance(func, PyObj) else None
        if func in (builtins.enumerate, builtins.zip):
            items = self.container_items(it, scope, func)
            if items is not None:
                self.lower_unrolled(node, scope, items)
                return
            self.lower_enumerate_zip(node, scope, func)
            return
        if func is None and not is_range_call(it):
            rows = self.expr(it, scope)
            if isinstance(rows, (TupleVal, DictVal)):  # a list, tuple or dict: unrolled
                self.lower_unrolled(node, scope, _iteration(rows))
                return
            fence.check_loop_target(src, node.target)
            if isinstance(rows, Var):  # for row in X: over the first axis of an array
                self.lower_rows(node, scope, rows)
                return
        fence.check_loop_target(src, node.target)
        bounds = self.range_bounds(node.iter, scope)
        if self.indexes_container(node, scope) and all(isinstance(b, Const) for b in bounds):
            # for i in range(len(layers)): layers[i]... -- unrolled, so layers[i] is known
            self.lower_unrolled(node, scope, [Const(i) for i in range(*(b.value for b in bounds))])
            return
        self.lower_loop("for", node, scope, bounds, index_name=node.target.id)

    def container_items(self, it, scope, func):
        """The items of enumerate(...) / zip(...) over lists, tuples or dicts, or None when they run
        over ranges or arrays (a loop)."""
        values = []
        for a in it.args:
            if is_range_call(a):
                return None
            inner = self.expr(a.func, scope) if isinstance(a, ast.Call) else None
            if isinstance(inner, PyObj) and inner.obj in (builtins.zip, builtins.enumerate):
                items = self.container_items(a, scope, inner.obj)  # enumerate(zip(ws, bs))
                if items is None:
                    return None
                values.append(TupleVal(items))
                continue
            values.append(self.expr(a, scope))
        if not any(isinstance(v, (TupleVal, DictVal)) for v in values):
            return None
        seqs = []
        for a, v in zip(it.args, values):
            if isinstance(v, (TupleVal, DictVal)):
                seqs.append(_iteration(v))
            else:
                raise error_at(scope.src.location(a), "zip() and enumerate() here run over lists, "
                                                      "tuples and dicts alike (or ranges alike).")
        if func is builtins.enumerate:
            if len(seqs) != 1:
                raise error_at(scope.src.location(it), "enumerate() takes one sequence.")
            return [TupleVal([Const(k), item]) for k, item in enumerate(seqs[0])]
        return [TupleVal(list(group)) for group in zip(*seqs)]

    def indexes_container(self, node, scope):
        """Whether a range loop's body reads a list, tuple or dict at its index (`layers[i]`)."""
        index = node.target.id
        for sub in ast.walk(ast.Module(node.body, [])):
            if isinstance(sub, ast.Subscript) and isinstance(sub.value, (ast.Name, ast.Attribute)) \
                    and any(isinstance(n, ast.Name) and n.id == index for n in ast.walk(sub.slice)):
                value = self.calls.peek(sub.value, scope)  # layers[i], self.layers[i]
                if isinstance(value, (TupleVal, DictVal)):
                    return True
        return False

    def lower_unrolled(self, node, scope, items):
        """A loop over a list, tuple or dict known when the graph is built: the body once per item,
        in order (Python's own semantics, with no loop left to reverse)."""
        src = scope.src
        for sub in _own_statements(node.body):
            if isinstance(sub, ast.Break):
                raise error_at(src.location(sub), "`break` in a loop over a list, tuple or dict "
                                                  "(unrolled) is not supported: keep a flag and "
                                                  "test it with `if` at the top of the body.")
        outer = scope.vars.get(CONTINUE, None)
        for item in items:
            self.assign(node.target, item, scope)
            scope.vars[CONTINUE] = Const(False)  # `continue`: the rest of this item's body is skipped
            self.block(node.body, scope)
            if outer is None:
                scope.vars.pop(CONTINUE, None)
            else:
                scope.vars[CONTINUE] = outer
            state = self.exit_state(scope)
            if state is True:
                return
            if state is not None:
                raise error_at(src.location(node), "a `return` that may run inside a loop over a "
                                                   "list, tuple or dict is not supported: compute "
                                                   "the value and return after the loop.")

    def lower_rows(self, node, scope, array):
        """`for row in X:` is `for k in range(len(X)): row = X[k]`."""
        count = self.b.emit("len", [array])
        name = node.target.id

        def derive(k, body_scope):
            source = array  # the array the loop started with, which writes through `row` change
            if isinstance(node.iter, ast.Name) and node.iter.id not in stored_names(node.body):
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
        ranges = []
        for a in it.args:  # a range, or an array whose rows are taken in turn
            value = None if is_range_call(a) else self.expr(a, scope)
            if isinstance(value, Var):
                ranges.append(("rows", value, a.id if isinstance(a, ast.Name) else None))
            else:
                ranges.append(self.range_bounds(a, scope))
        names = node.target.elts if isinstance(node.target, ast.Tuple) else None
        expected = 2 if func is builtins.enumerate else len(ranges)
        if func is builtins.enumerate and len(ranges) != 1 or not names \
                or len(names) != expected or not all(isinstance(n, ast.Name) for n in names):
            raise error_at(src.location(node.target),
                           "write `for k, i in enumerate(range(...)):` or "
                           "`for i, j in zip(range(...), range(...)):`, one name per value.")
        lengths = [self.b.emit("len", [r[1]]) if r[0] == "rows" else self.b.emit("range_len", r)
                   for r in ranges]
        trip = lengths[0]
        for n in lengths[1:]:
            trip = self.b.emit("min", [trip, n])
        if func is builtins.enumerate:
            ranges = [[Const(0), None, Const(1)]] + ranges

        def derive(k, body_scope):
            for target, r in zip(names, ranges):
                if r[0] == "rows":
                    source = r[1]  # the array as the body left it, when the body writes into it
                    if r[2] is not None and r[2] in stored_names(node.body):
                        source = body_scope.vars.get(r[2], source)
                    value = self.b.emit("getitem", [source, k], hint=target.id, index=("atom",))
                    body_scope.vars[target.id] = value
                    self.memory.assigned(target.id, value, body_scope)
                else:
                    start, _, step = r
                    value = self.b.emit("add", [start, self.b.emit("mul", [k, step])],
                                        hint=target.id)
                    body_scope.vars[target.id] = value
                self.user_locals.add(target.id)

        self.lower_loop("for", node, scope, [Const(0), trip, Const(1)], index_name="<k>",
                        derive=derive)

    def range_bounds(self, it, scope):
        src = scope.src
        if isinstance(it, ast.Call) and not it.keywords:
            func = self.expr(it.func, scope)
            if isinstance(func, PyObj) and func.obj is builtins.range and 1 <= len(it.args) <= 3:
                args = [as_atom(self.expr(a, scope), src, a) for a in it.args]
                if len(args) == 1:
                    args = [Const(0)] + args
                if len(args) == 2:
                    args = args + [Const(1)]
                return args
        raise error_at(src.location(it),
                       "a loop can run over range(...) only: its trip count must be known when the "
                       "loop starts, so the reverse pass can replay it. Write `for i in range(n):`.")

    def lower_while(self, node, scope):
        fence.check_loop(scope.src, node)
        self.lower_loop("while", node, scope, [], index_name=None)

    def carried_values(self, node, scope, index_name):
        """What a loop carries: the names the body assigns that exist before the loop or are read
        after it, the running values of the lists it appends to, and the return flags. Each is a
        scope key, or a `ListField` (sorted after the names, in a fixed order)."""
        src = scope.src
        assigned = stored_names(node.body) | self.memory.loop_carried(node, scope)
        for name in appended_names(node.body):
            # a list of this scope, unless the name itself is carried (the body rebinds it, or
            # writes in place into memory it may share): then the append is refused, as before
            if isinstance(scope.vars.get(name), ListVal) and name not in assigned:
                assigned |= {ListField(name, attr, suffix) for attr, suffix in ListVal.FIELDS}
            elif isinstance(scope.vars.get(name), TupleVal) and name not in assigned:
                # a list made with items ([x], a comprehension) grows by a value per iteration:
                # a loop carries numbers and lists started empty, never such a list
                raise error_at(src.location(node),
                               f"`{name}` is a list made with items and appended to in this "
                               "loop, which the compiler cannot carry: carry the value you "
                               "need in a variable instead (`last = x`, then `last = "
                               "math.sin(last)` in the loop), or start the list empty "
                               f"(`{name} = []`) and append to it.")
        if index_name is not None and index_name in assigned:
            raise error_at(src.location(node.target),
                           f"the loop assigns to its own variable `{index_name}`: use another name.")
        carried = []
        lists = set()  # a list appended through two names is carried once
        order = first_store_order(node.body)
        for slot in sorted(assigned, key=_carry_order(order)):  # deterministic, not set order
            if isinstance(slot, ListField):
                origin = scope.vars[slot.name].origin
                if (origin, slot.attr) not in lists:
                    lists.add((origin, slot.attr))
                    carried.append(slot)
            elif slot in scope.vars or read_later(src, node, slot):
                carried.append(slot)
        # A loop variable read after the loop keeps its last value, as in Python.
        targets = ([n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)]
                   if isinstance(node, ast.For) else [])
        carried += [t for t in targets if t not in carried and read_later(src, node, t)]
        carried += [k for k in (RETURNED, RETURN_VALUE) if k in scope.vars and contains(node.body, ast.Return)]
        if RETURN_VALUE not in scope.vars and contains(node.body, ast.Return):
            scope.vars[RETURN_VALUE] = Const(None)
            carried.append(RETURN_VALUE)
        return carried

    def lower_loop(self, kind, node, scope, bounds, index_name, derive=None):
        """A loop as one equation holding its body (and, for `while`, its test) as regions.

        Loop-carried values (`carried_values`) each become a body parameter (the value at the start
        of an iteration), a body result (its value at the end) and an output of the equation (its
        value after the loop)."""
        src = scope.src
        carried = self.carried_values(node, scope, index_name)
        inits = []
        for slot in carried:
            value = _get(scope, slot, Const(None))
            if isinstance(value, (TupleVal, DictVal, ObjVal, PyObj, LocalFunc)):
                raise error_at(src.location(node),
                               f"`{slot}` changes in the loop but holds {what(value)}: "
                               "only numbers can be carried from one iteration to the next.")
            inits.append(value)
        body_scope = scope.branch()
        entry_views = dict(body_scope.views)
        self.memory.loop_entry(body_scope, node.body)
        params = [Var(_hint(slot)) for slot in carried]
        for slot, p in zip(carried, params):
            _set(body_scope, slot, p)
        if RETURNED in carried:  # an iteration starts only while nothing has returned
            body_scope.vars[RETURNED] = Const(False)
        index = None
        if index_name is not None:
            index = Var(hint(index_name) if index_name != "<k>" else "k")
            body_scope.vars[index_name] = index
            self.user_locals.add(index_name)
        body_scope.vars[BREAK] = Const(False)
        body_scope.vars[CONTINUE] = Const(False)
        saved = self.b
        regions = {}
        test = None
        if kind == "while":
            self.b = TrackingBuilder(self.producers, loc=saved.loc)
            test = as_atom(self.expr(node.test, body_scope), src, node.test)
            regions["test"] = Graph("test", params, self.b.eqns, [test])
        self.b = TrackingBuilder(self.producers, loc=saved.loc)
        if derive is not None:
            derive(index, body_scope)
        self.block(node.body, body_scope)
        results = []
        for slot in carried:
            value = _get(body_scope, slot, None)
            if not isinstance(value, (Var, Const)):
                raise error_at(src.location(node),
                               f"`{slot}` holds {what(value)} after the loop body: "
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
        outs = [Var(_hint(slot)) for slot in carried]
        self.b.eqns.append(Eqn(kind, bounds + inits, outs, regions, self.b.loc))
        for slot, out in zip(carried, outs):
            _set(scope, slot, out)
            if not isinstance(slot, ListField) and slot not in FLAG_KEYS:
                self.user_locals.add(slot)
        self.memory.loop_exit(scope, body_scope, entry_views)

    def assign(self, target, value, scope):
        src = scope.src
        if isinstance(target, ast.Name) and value is EMPTY_LIST:
            # A list built by `.append` in loops and branches, read by sum(), len() or np.stack:
            # kept as its running sum, length and items, which loops carry and branches merge.
            scope.vars[target.id] = ListVal.start(target.id, self.b, scope.activation)
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
            if isinstance(old, (DictVal, TupleVal, ObjVal)):
                return self.write_container(name, old, target, value, scope)
            x = as_atom(old, src, target.value)
            self.check_writable(name, x, scope, target)
            template, parts = self.index(target.slice, scope)
            v = as_atom(value, src, target)
            new = self.b.emit("setitem", [x, v] + parts, hint=name, index=template)
            self.memory.write(name, x, new, scope, target)
            self.user_locals.add(name)
        else:
            raise fence.assignment_target(src, target)

    def write_container(self, name, old, target, value, scope):
        """d[k] = v into a dict the function made: the name holds a new dict with that entry (no
        other name may hold the same dict, which would have to see the change too). Writing into
        an argument's container is refused, as writing into an argument's array is."""
        src = scope.src
        owner = next((p for p, v in scope.activation.params.items() if _holds(v, old)), None) \
            if scope.activation.params else None
        if owner is None:
            owner = next((p for p, v in self.root_containers.items() if _holds(v, old)), None)
        if owner is not None:
            raise error_at(src.location(target),
                           f"this write would change the container the caller passed as `{owner}`: "
                           "the compiler never modifies your arguments. Make a new one instead: "
                           f"`{name} = dict({name}, key=value)` or `{name} = dict({name})` first.")
        if not isinstance(old, DictVal):
            raise error_at(src.location(target), f"writing into {what(old)} is not supported here: "
                                                 "build a new one.")
        others = [n for n in scope.vars.holders(old) if n != name and n.isidentifier()]
        if others:
            raise error_at(src.location(target),
                           f"`{name}` and `{others[0]}` hold the same dict: a write through one "
                           f"would change the other. Copy it first: `{name} = dict({name})`.")
        key = static(self.expr(target.slice, scope), src, target.slice, "a dict key")
        scope.vars[name] = DictVal({**old.items, key: value})
        self.user_locals.add(name)

    # -- expressions --

    def expr(self, node, scope):
        src = scope.src
        loc_node = node
        if isinstance(node, ast.Constant):
            return constant(node.value, src, node)
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
            operand = as_atom(self.expr(node.operand, scope), src, node.operand)
            fence.check_unary(src, node)
            if isinstance(node.op, ast.UAdd):
                return operand
            return self.b.emit("neg" if isinstance(node.op, ast.USub) else "not", [operand])
        if isinstance(node, ast.Compare):
            return self.compare(node, scope)
        if isinstance(node, ast.Call):
            return self.calls.call(node, scope)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, scope)
        if isinstance(node, ast.Tuple):
            return TupleVal(self.expr(e, scope) for e in node.elts)
        if isinstance(node, ast.List):
            return TupleVal((self.expr(e, scope) for e in node.elts), is_list=True) if node.elts \
                else EMPTY_LIST
        if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.DictComp)):
            return self.comprehension(node, scope)
        if isinstance(node, ast.Lambda):
            return LocalFunc(lambda_def(node), scope)
        if isinstance(node, ast.Dict):
            items = {}
            for k, v in zip(node.keys, node.values):
                if k is None:
                    raise error_at(src.location(v), "`**` in a dict literal is not supported: "
                                                    "write each key.")
                key = static(self.expr(k, scope), src, k, "a dict key")
                items[key] = self.expr(v, scope)
            return DictVal(items)
        if isinstance(node, ast.Subscript):
            base = self.expr(node.value, scope)
            if isinstance(base, DictVal):
                key = static(self.expr(node.slice, scope), src, node.slice, "a dict key")
                try:
                    return base.items[key]
                except (KeyError, TypeError):
                    raise error_at(src.location(node),
                                   f"key {key!r} is not in this dict (its keys: "
                                   f"{', '.join(map(repr, base.items))}).") from None
            if isinstance(base, TupleVal) and not isinstance(base, NamedVal):
                picked = self.expr(node.slice, scope)
                if isinstance(picked, Var) and all(isinstance(v, (Var, Const)) for v in base.items):
                    # (a, b, c)[i] with i known when the code runs: the values as an array, as
                    # np.array((a, b, c))[i] would pick
                    stacked = self.b.emit("stack", list(base.items), axis=0)
                    return self.b.emit("getitem", [stacked, picked], index=("atom",))
            if isinstance(base, TupleVal):
                index = static(self.expr(node.slice, scope), src, node.slice, "a tuple index")
                try:
                    picked = base.items[index]
                except (IndexError, TypeError):
                    raise error_at(src.location(node), "tuple index out of range.") from None
                return TupleVal(picked) if isinstance(index, slice) else picked
            x = as_atom(base, src, node.value)
            template, parts = self.index(node.slice, scope)
            return self.b.emit("getitem", [x] + parts, index=template)
        if isinstance(node, ast.IfExp):
            test = as_atom(self.expr(node.test, scope), src, node.test)
            return self.branch_value(test, node.body, node.orelse, scope, node)
        if isinstance(node, ast.BoolOp):
            # `a and b` is b when a is true, else a; `a or b` the reverse. b runs only when needed.
            result = as_atom(self.expr(node.values[0], scope), src, node.values[0])
            for operand in node.values[1:]:
                if isinstance(node.op, ast.And):
                    result = self.branch_value_atoms(result, operand, result, scope)
                else:
                    result = self.branch_value_atoms(result, result, operand, scope)
            return result
        raise fence.unsupported(src, loc_node, "expressions")

    def comprehension(self, node, scope):
        """[f(x) for x in xs if c], (... for ...), {k: v for ...}: over lists, tuples, dicts and
        ranges known when the graph is built, the element once per item (a list, or a dict);
        over an array's rows or a range known only when the code runs, a loop that appends."""
        src = scope.src
        results = []
        gens = node.generators
        if any(g.is_async for g in gens):
            raise error_at(src.location(node), "async comprehensions are not supported.")
        first = self.static_items(gens[0].iter, scope)
        if first is None:
            return self.comprehension_loop(node, scope)

        def walk(k, inner, items):
            gen = gens[k]
            if items is None:
                items = self.static_items(gen.iter, inner)
                if items is None:
                    raise error_at(src.location(gen.iter),
                                   "an inner `for` of a comprehension runs over a list, tuple, dict "
                                   "or a range with constant bounds here: write the loops out.")
            for item in items:
                child = inner.branch()
                self.assign(gen.target, item, child)
                keep = True
                for cond in gen.ifs:
                    test = self.expr(cond, child)
                    if not isinstance(test, Const):
                        raise error_at(src.location(cond),
                                       "this condition decides how long the list is, and it is not "
                                       "known when the gradient is built: use np.where(cond, a, 0.0) "
                                       "on an array, or a loop.")
                    if not test.value:
                        keep = False
                        break
                if not keep:
                    continue
                if k + 1 < len(gens):
                    walk(k + 1, child, None)
                elif isinstance(node, ast.DictComp):
                    key = static(self.expr(node.key, child), src, node.key, "a dict key")
                    results.append((key, self.expr(node.value, child)))
                else:
                    results.append(self.expr(node.elt, child))

        walk(0, scope, first)
        if isinstance(node, ast.DictComp):
            return DictVal(dict(results))
        return TupleVal(results, is_list=True)

    def static_items(self, it, scope):
        """What `for` over `it` sees when that is known now (a list, tuple, dict, a range with
        constant bounds, zip/enumerate of those), else None."""
        if is_range_call(it):
            bounds = self.range_bounds(it, scope)
            if all(isinstance(b, Const) for b in bounds):
                return [Const(i) for i in range(*(b.value for b in bounds))]
            return None
        if isinstance(it, ast.Call):
            func = self.expr(it.func, scope)
            if isinstance(func, PyObj) and func.obj in (builtins.zip, builtins.enumerate):
                return self.container_items(it, scope, func.obj)
        value = self.expr(it, scope)
        if isinstance(value, (TupleVal, DictVal)):
            return _iteration(value)
        return None

    def comprehension_loop(self, node, scope):
        """A comprehension over an array's rows or a range known only when the code runs: the loop
        `acc = []; for x in it: if c: acc.append(elt)`, whose list is the value."""
        src = scope.src
        if isinstance(node, ast.DictComp) or len(node.generators) != 1:
            raise error_at(src.location(node), "a comprehension over an array or a range known only "
                                               "when the code runs takes one `for` and makes a "
                                               "list: write the loops out for the other cases.")
        gen = node.generators[0]
        self.comprehensions = getattr(self, "comprehensions", 0) + 1
        name = f"_items{self.comprehensions}"
        while name in identifiers(src):
            name += "_"
        store = ast.Name(name, ast.Store())
        load = ast.Name(name, ast.Load())
        append = ast.Expr(ast.Call(ast.Attribute(load, "append", ast.Load()), [node.elt], []))
        body = [ast.If(ast.BoolOp(ast.And(), list(gen.ifs)) if len(gen.ifs) > 1 else gen.ifs[0],
                       [append], [])] if gen.ifs else [append]
        stmts = [ast.Assign([store], ast.List([], ast.Load())),
                 ast.For(gen.target, gen.iter, body, [])]
        for stmt in stmts:
            for sub in ast.walk(stmt):
                if not hasattr(sub, "lineno") or sub.lineno is None:
                    ast.copy_location(sub, node)
        # the loop's names are the comprehension's own in Python 3: put back as they were after it
        own = stored_names([stmts[1]])
        saved = {k: scope.vars[k] for k in own if k in scope.vars}
        for stmt in stmts:
            self.statement(stmt, scope)
        value = scope.vars.pop(name)
        for k in own:
            if k in saved:
                scope.vars[k] = saved[k]
            else:
                scope.vars.pop(k, None)
        return value

    def index(self, node, scope):
        """A subscript as (template, input atoms): see indexing.py."""
        src = scope.src
        if isinstance(node, ast.Slice):
            parts = []
            flags = []
            for bound_ in (node.lower, node.upper, node.step):
                flags.append(bound_ is not None)
                if bound_ is not None:
                    parts.append(as_atom(self.expr(bound_, scope), src, bound_))
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
        value = self.expr(node, scope)
        if isinstance(value, Const) and value.value is None:  # np.newaxis
            return ("none",), []
        return ("atom",), [as_atom(value, src, node)]

    def binop(self, op, left, right, src, node):
        if op is ast.Add and isinstance(left, TupleVal) and isinstance(right, TupleVal) and not (
                isinstance(left, NamedVal) or isinstance(right, NamedVal)):
            return TupleVal(left.items + right.items, is_list=left.is_list)  # [a] + [b]
        prim = fence.binop_prim(op, src, node)
        x = as_atom(left, src, getattr(node, "left", node))
        y = as_atom(right, src, getattr(node, "right", node))
        return self.b.emit(prim, [x, y])

    def compare(self, node, scope):
        src = scope.src
        if len(node.ops) == 1 and isinstance(node.ops[0], (ast.Is, ast.IsNot)):
            # `x is None`: known when the graph is built for constants; else asked when it runs
            a, b = self.expr(node.left, scope), self.expr(node.comparators[0], scope)
            positive = isinstance(node.ops[0], ast.Is)
            if isinstance(a, (Const, PyObj)) and isinstance(b, (Const, PyObj)):
                same = getattr(a, "value", getattr(a, "obj", None)) is \
                    getattr(b, "value", getattr(b, "obj", None))
                return Const(same if positive else not same)
            if isinstance(a, Var) and isinstance(b, Var) or not (
                    isinstance(a, (Var, Const)) and isinstance(b, (Var, Const))):
                raise error_at(src.location(node), "`is` is supported against None or a constant.")
            fn = operator.is_ if positive else operator.is_not
            return self.b.emit("call", [v for v in (a, b) if isinstance(v, Var)],
                               fn=fn, zero_gradient=True, label="is",
                               layout=([("in", 0) if isinstance(a, Var) else ("const", a.value),
                                        ("in", 0) if isinstance(b, Var) else ("const", b.value)],
                                       []))
        left = as_atom(self.expr(node.left, scope), src, node.left)
        result = None
        for op, comparator in zip(node.ops, node.comparators):
            prim = fence.compare_prim(op, src, node)
            right = as_atom(self.expr(comparator, scope), src, comparator)
            part = self.b.emit(prim, [left, right])
            result = part if result is None else self.b.emit("and", [result, part])
            left = right
        return result

    # -- names and the user's environment --

    def name(self, ident, scope, node):
        try:
            return scope.lookup(ident)
        except KeyError:
            pass
        src = scope.src
        # Names local to the function (assigned somewhere in it) that were not bound yet.
        if ident in assigned_names(src.node) and scope.parent is None:
            raise error_at(src.location(node),
                           f"`{ident}` is used before it is assigned.")
        if self.fixed is not None and self.fixed.knows(src, ident):  # one graph per value
            return Const(self.fixed.value(src, ident))
        if ident in src.cells:
            cell = src.cells[ident]
            try:
                value = cell.cell_contents
            except ValueError:
                raise error_at(src.location(node), f"free variable `{ident}` is not bound yet.") from None
            return environment_value(value, src, node, ident,
                                     lambda: self._read("cell", ident, _cell=cell))
        if ident in src.globals:
            value = src.globals[ident]
            return environment_value(
                value, src, node, ident,
                lambda: self._read("global", ident, module=src.globals.get("__name__"),
                                   _ns=src.globals, _root=src.globals is self.root.globals))
        if hasattr(builtins, ident):
            return PyObj(getattr(builtins, ident))
        raise error_at(src.location(node), f"name `{ident}` is not defined.")

    def _read(self, kind, ident, **params):
        self.env_reads.add(ident)
        return self.b.emit(kind, [], hint=ident, name=ident, **params)

    def attribute(self, node, scope):
        src = scope.src
        base = self.expr(node.value, scope)
        if isinstance(base, PyObj) and trees.is_plain_object(base.obj):  # a global model.W
            base = self.calls.object_value(base.obj, src, node)
        if isinstance(base, PyObj):
            try:
                value = getattr(base.obj, node.attr)
            except AttributeError:
                raise error_at(src.location(node),
                               f"{ast.unparse(node.value)} has no attribute `{node.attr}`.") from None
            if isinstance(value, NUMBER_TYPES):
                if id(base.obj) in MODULE_CONSTANTS or isinstance(base.obj, (types.ModuleType, type)):
                    return Const(float(value) if isinstance(value, np.floating) else value)
            if value is None and isinstance(base.obj, types.ModuleType):
                return Const(None)  # np.newaxis
            if isinstance(value, types.ModuleType) or callable(value):
                return PyObj(value)
            raise error_at(src.location(node),
                           f"{ast.unparse(node)} is a {type(value).__name__}: only numbers and "
                           "functions can be used from a module.")
        if isinstance(base, (NamedVal, ObjVal)):
            value = base.attr(node.attr)
            if value is None and isinstance(base, ObjVal):  # self.forward: the class's
                value = self.calls.class_attribute(base, node.attr, node, scope)
            if value is None:
                raise error_at(src.location(node), f"{what(base)} has no attribute `{node.attr}` "
                                                   "here.")
            return value
        if isinstance(base, DictVal) and node.attr in ("items", "keys", "values", "get"):
            return ContainerMethod(base, node.attr)
        if isinstance(base, TupleVal) and not isinstance(base, NamedVal) and node.attr in ("index",
                                                                                            "count"):
            raise error_at(src.location(node), f"`.{node.attr}()` of a list or tuple is not "
                                               "supported here.")
        atom = as_atom(base, src, node.value)
        if node.attr in ("T", "shape", "ndim", "size"):
            prim = "transpose" if node.attr == "T" else node.attr
            return self.b.emit(prim, [atom])
        if node.attr in METHODS:
            return BoundMethod(atom, METHODS[node.attr])
        if node.attr == "item":
            return BoundMethod(atom, "float")  # x.item(): float(x), the gradient flows through
        if isinstance(atom, Var) and not node.attr.startswith("_"):
            return OpaqueMethod(atom, node.attr)  # rng.normal, labels.argmax: called as written
        raise error_at(src.location(node),
                       f"`.{node.attr}` is not supported on a value here: use one of the array "
                       f"attributes .T .shape .ndim .size or the methods "
                       f"{', '.join(sorted('.' + m + '()' for m in METHODS))} instead.")


# --- what a loop carries: scope keys and list fields alike ----------------------------------------

def _carry_order(order):
    def key(slot):
        name = slot.sort_key if isinstance(slot, ListField) else slot
        return order(name), name
    return key


def _get(scope, slot, missing):
    if isinstance(slot, ListField):
        return slot.get(scope)
    return scope.vars.get(slot, missing)


def _set(scope, slot, value):
    if isinstance(slot, ListField):
        slot.set(scope, value)
    else:
        scope.vars[slot] = value


def _hint(slot):
    return slot.hint if isinstance(slot, ListField) else hint(slot)


def _own_statements(body):
    """The nodes of a loop body outside the loops nested in it (their break/continue are theirs)."""
    stack = list(body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.For, ast.While, ast.FunctionDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


def _holds(value, container):
    """Whether `value` is `container` or holds it somewhere inside."""
    if value is container:
        return True
    if isinstance(value, TupleVal):
        return any(_holds(v, container) for v in value.items)
    if isinstance(value, DictVal):
        return any(_holds(v, container) for v in value.items.values())
    if isinstance(value, ObjVal):
        return any(_holds(v, container) for v in value.attrs.values())
    return False


def _iteration(value):
    """What `for item in value` sees: a list's or tuple's items, a dict's keys."""
    if isinstance(value, DictVal):
        return [Const(k) for k in value.items]
    return list(value.items)


def _container(tree, leaves):
    """The value a container argument's name holds: its structure over the leaves' parameters."""
    kind = tree[0]
    if kind == "leaf":
        return next(leaves)
    if kind == "const":
        value = tree[1]
        return Const(value) if value is None or isinstance(value, (bool, int, float, str)) \
            else PyObj(value)
    if kind == "namedtuple":
        return NamedVal(tree[1], [_container(c, leaves) for c in tree[2]])
    if kind in ("list", "tuple"):
        return TupleVal((_container(c, leaves) for c in tree[1]), is_list=kind == "list")
    if kind == "dict":
        return DictVal({k: _container(c, leaves) for k, c in zip(tree[1], tree[2])})
    return ObjVal(tree[1], {n: _container(c, leaves) for n, c in zip(tree[2], tree[3])})


def _either_changed(then_vars, else_vars):
    """The names either branch may have rebound, in the order of the branches' own dicts (the
    names neither rebound hold the same values in both, and need no merging)."""
    then_changed, else_changed = then_vars.changed(), else_vars.changed()
    if then_changed is None or else_changed is None:
        return list(then_vars) + list(else_vars)
    changed = then_changed | else_changed
    first = sorted((k for k in changed if k in then_vars), key=then_vars.order)
    return first + sorted((k for k in changed if k not in then_vars and k in else_vars),
                          key=else_vars.order)


def lower(fn, structures=None, has_aux=False, fixed=None, outputs=False):
    """Parse and lower `fn`; returns (graph, lowering) where lowering keeps what the namer needs.
    `structures`: for parameters that hold containers, their structure (trees.py). `has_aux`: fn
    returns (loss, aux); the graph's results are the loss, then aux's values (lowering.aux_tree).
    `outputs`: fn may return any structure of values (jvp, vjp): the graph's results are its
    values, `lowering.output_tree` its structure."""
    with stage("parse"):
        src = parse_function(fn)
    with stage("lower"):
        lowering = Lowering(src, structures, has_aux, fixed)
        lowering.outputs = outputs
        graph = lowering.lower_root()
    return graph, lowering
