"""The expression graph: a typed SSA program of primitive applications.

    { lambda v0:f64[32,64] v1:f64[64,128] .
      v2:f64[32,128] = matmul v0 v1
      v3:f64[32,128] = tanh v2
      in (v3,) }

Inputs are variables with a shape and a dtype; each equation applies one primitive of the rule
table to variables and constants and defines new variables; outputs name variables or constants.
`run` interprets a graph by binding its primitives, so running it under another interpreter (a
tape, dual numbers, vmap) differentiates or vectorises it: that is how graph autodiff works.

Examples
--------
>>> import chainrule as cr
>>> import chainrule.numpy as cnp
>>> g = cr.graph.trace(lambda x: cnp.tanh(x) * 2.0, cr.graph.spec((3,)))
>>> print(g)
{ lambda a:f64[3] .
    b:f64[3] = tanh a
    c:f64[3] = mul b 2.0
  in (c,) }
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._core import tree
from .._core.primitive import Primitive, dtype_of, shape_of

_ids = itertools.count()


class Var:
    """A value of the graph: defined once, by an input or an equation.

    Parameters
    ----------
    shape : tuple of int
        The shape of the value.
    dtype : Any
        Its dtype (anything `numpy.dtype` accepts).

    Examples
    --------
    >>> import chainrule as cr
    >>> v = cr.graph.Var((2, 3), "float32")
    >>> print(v.shape, v.dtype)
    (2, 3) float32
    """

    __slots__ = ("id", "shape", "dtype")

    def __init__(self, shape: tuple[int, ...], dtype: Any) -> None:
        self.id = next(_ids)
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)

    def __repr__(self) -> str:
        return f"Var({self.id}, {type_str(self.shape, self.dtype)})"


class Const:
    """A constant operand (an array or a Python number captured while tracing).

    Parameters
    ----------
    value : Any
        The constant; `shape` and `dtype` are read from it.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> c = cr.graph.Const(np.ones((2, 2)))
    >>> print(c.shape, c.dtype)
    (2, 2) float64
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of the constant."""
        return shape_of(self.value)

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the constant."""
        return dtype_of(self.value)


Atom = Var | Const


def type_str(shape: tuple[int, ...], dtype: Any) -> str:
    short = {"float64": "f64", "float32": "f32", "int64": "i64", "int32": "i32", "bool": "bool",
             "complex128": "c128", "complex64": "c64"}.get(np.dtype(dtype).name,
                                                           np.dtype(dtype).name)
    return f"{short}[{','.join(map(str, shape))}]"


class Eqn:
    """One equation of a graph: `outputs = prim(inputs; params)`.

    Parameters
    ----------
    prim : Primitive
        The primitive applied.
    inputs : sequence of Var or Const
        Its operands.
    params : dict
        Its static parameters (axes, shapes, sub-graphs of control flow, ...).
    outputs : sequence of Var
        The variables it defines (one, or several for a primitive with multiple results).

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> g = cr.graph.trace(lambda x: cnp.sum(x, axis=0), cr.graph.spec((2, 3)))
    >>> e = g.eqns[0]
    >>> print(e.prim.name, e.params, [v.shape for v in e.outputs])
    sum {'axis': (0,), 'keepdims': False} [(3,)]
    """

    __slots__ = ("prim", "inputs", "params", "outputs")

    def __init__(self, prim: Primitive, inputs: Sequence[Atom], params: dict[str, Any],
                 outputs: Sequence[Var]) -> None:
        self.prim = prim
        self.inputs = list(inputs)
        self.params = params
        self.outputs = list(outputs)


class GraphError(ValueError):
    """A graph that breaks the rules of the IR (use before definition, wrong shapes, ...).

    Also raised for a graph file that `Graph.from_json` refuses. A subclass of `ValueError`.

    Examples
    --------
    >>> import chainrule as cr
    >>> try:
    ...     cr.graph.Graph.from_json("{}")
    ... except cr.graph.GraphError as exc:
    ...     print(exc)
    not a chainrule graph (the 'format' field is missing or different)
    """


class Graph:
    """A traced program: `inputs`, `eqns`, `outputs`, and the pytree structures of the arguments
    and of the result it was traced from.

    This module gives it its data, checking, running and printing. The methods that other
    modules of the engine implement are installed on the class by graph/_methods.py once they
    are all imported: `grad` and `jvp` (graph-to-graph autodiff), `to_json` and `from_json`
    (serialize), `to_dot` (dot), `optimize` (passes), `compile` (codegen) and `compiled_for`
    (jit). Graphs are usually made by `trace`, not built by hand.

    Parameters
    ----------
    inputs : list of Var
        The input variables, in order.
    eqns : list of Eqn
        The equations, each using only inputs and variables defined before it.
    outputs : list of Var or Const
        The outputs.
    in_tree : TreeDef, optional
        The pytree structure of the arguments it was traced from (`run` flattens by it).
    out_tree : TreeDef, optional
        The pytree structure of the result (`run` rebuilds it).

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> g = cr.graph.trace(lambda x: cnp.sum(cnp.sin(x) ** 2), cr.graph.spec((3,)))
    >>> print(g.num_nodes, g.run(np.zeros(3)))
    3 0.0
    >>> value, grad = g.grad().run(np.zeros(3))
    >>> print(value, grad)
    0.0 [0. 0. 0.]
    """

    def __init__(self, inputs: list[Var], eqns: list[Eqn], outputs: list[Atom],
                 in_tree: tree.TreeDef | None = None, out_tree: tree.TreeDef | None = None
                 ) -> None:
        self.inputs = inputs
        self.eqns = eqns
        self.outputs = outputs
        self.in_tree = in_tree
        self.out_tree = out_tree
        #: custom-rule functions inlined while tracing (see GraphTrace.call): their rules are
        #: not in the graph, so it refuses to be differentiated
        self.inlined_rules: tuple[str, ...] = ()
        #: the optimised generated code of this graph, built by `compiled_for` on first use
        #: (and its form without `out=` buffers, for other array libraries' values)
        self._compiled: Any = None
        self._compiled_plain: dict[type, Any] = {}  # (per array library: jit.compiled_for)

    @property
    def num_nodes(self) -> int:
        """The number of equations (sub-graphs of control flow not counted)."""
        return len(self.eqns)

    # -- evaluation ------------------------------------------------------------------------------
    def run_flat(self, *args: Any) -> list[Any]:
        """Interpret the graph on flat inputs, one per input variable.

        Each equation binds its primitive, so running under a transform differentiates or
        vectorises the graph.

        Parameters
        ----------
        *args : Any
            One value per input variable, in order.

        Returns
        -------
        list
            The outputs, flat.

        Raises
        ------
        TypeError
            If the number of arguments is not the number of inputs.

        Examples
        --------
        >>> import numpy as np
        >>> import chainrule as cr
        >>> g = cr.graph.trace(lambda x, y: x * y, cr.graph.spec(()), cr.graph.spec(()))
        >>> out = g.run_flat(np.float64(3.0), np.float64(4.0))
        >>> print(len(out), float(out[0]))
        1 12.0
        """
        if len(args) != len(self.inputs):
            raise TypeError(f"the graph takes {len(self.inputs)} input(s), got {len(args)}")
        env: dict[int, Any] = {v.id: a for v, a in zip(self.inputs, args)}

        def read(a: Atom) -> Any:
            return a.value if isinstance(a, Const) else env[a.id]

        for e in self.eqns:
            ans = e.prim.bind(*[read(a) for a in e.inputs], **e.params)
            if e.prim.multiple_results:
                for v, x in zip(e.outputs, ans):
                    env[v.id] = x
            else:
                env[e.outputs[0].id] = ans
        return [read(a) for a in self.outputs]

    def run(self, *args: Any) -> Any:
        """Interpret the graph on arguments shaped like the ones it was traced from.

        Arguments are flattened by the pytree structure the graph was traced with; leaves that
        are not floating point were static when it was traced (baked in) and are skipped.

        Parameters
        ----------
        *args : Any
            The arguments, as given to the traced function.

        Returns
        -------
        Any
            The result, in the structure the traced function returned.

        Examples
        --------
        >>> import numpy as np
        >>> import chainrule as cr
        >>> g = cr.graph.trace(lambda p: {"s": p["a"] + p["b"]}, {"a": 1.0, "b": 2.0})
        >>> out = g.run({"a": np.float64(3.0), "b": np.float64(4.0)})
        >>> print(list(out), float(out["s"]))
        ['s'] 7.0
        """
        leaves = tree.flatten(args)[0] if self.in_tree is not None else list(args)
        leaves = [x for x in leaves if tree.is_float_leaf(x) or not _is_static(x)]
        outs = self.run_flat(*leaves)
        return tree.unflatten(self.out_tree, outs) if self.out_tree is not None else outs

    # -- types -----------------------------------------------------------------------------------
    def in_avals(self) -> list[Spec]:
        """The shape and dtype of each input.

        Returns
        -------
        list of Spec
            One `Spec` per input variable.

        Examples
        --------
        >>> import chainrule as cr
        >>> g = cr.graph.trace(lambda x: x + 1.0, cr.graph.spec((2,), "float32"))
        >>> g.in_avals()
        [spec((2,), 'float32')]
        """
        return [Spec(v.shape, v.dtype) for v in self.inputs]

    def out_avals(self) -> list[tuple[tuple[int, ...], np.dtype]]:
        """The (shape, dtype) of each output.

        Returns
        -------
        list of tuple
            One `(shape, dtype)` pair per output.

        Examples
        --------
        >>> import chainrule as cr
        >>> import chainrule.numpy as cnp
        >>> g = cr.graph.trace(lambda x: cnp.sum(x), cr.graph.spec((2,)))
        >>> g.out_avals()
        [((), dtype('float64'))]
        """
        return [(tuple(a.shape), np.dtype(a.dtype)) for a in self.outputs]

    def check_operands(self, name: str, types: Sequence[tuple[tuple[int, ...], Any]],
                       what: str) -> None:
        """Raise GraphError unless operands of these (shape, dtype) fit the inputs: how a
        control-flow equation `name` checks its sub-graph `what` (also guards loaded files).

        Parameters
        ----------
        name : str
            The name of the equation checking, for the message.
        types : sequence of tuple
            The `(shape, dtype)` of each operand.
        what : str
            What this graph is to the equation (`"the body"`, ...), for the message.

        Raises
        ------
        GraphError
            If the number, a shape or a dtype differs.
        """
        if len(types) != len(self.inputs):
            raise GraphError(f"{name}: {what} takes {len(self.inputs)} inputs, given "
                             f"{len(types)}")
        for k, ((shape, dtype), v) in enumerate(zip(types, self.inputs)):
            if tuple(shape) != v.shape or np.dtype(dtype) != v.dtype:
                raise GraphError(f"{name}: input {k} of {what} is {type_str(v.shape, v.dtype)},"
                                 f" given {type_str(tuple(shape), dtype)}")

    def error(self, message: str) -> GraphError:
        """The exception for an equation that misuses this graph (the control primitives of
        ops/control.py know their sub-graphs only by these methods).

        Parameters
        ----------
        message : str
            The message.

        Returns
        -------
        GraphError
            The exception, to be raised by the caller.
        """
        return GraphError(message)

    def _differentiable(self, what: str) -> None:
        """Refuse (NotImplementedError) to differentiate a graph that inlined custom rules."""
        if self.inlined_rules:
            raise NotImplementedError(
                f"Graph.{what}: the custom-rule function(s) {', '.join(self.inlined_rules)} "
                f"closed over values traced into this graph, so they were traced as the values "
                f"they compute and their rules are not in it; pass those values to the "
                f"function as arguments, or differentiate with cr.{what}(f, method='graph')")

    # -- checking ------------------------------------------------------------------------------
    def check(self) -> Graph:
        """Check the graph and return it.

        Raises GraphError unless every variable is defined once before use and every
        equation's outputs have the number, shapes and dtypes its primitive's abstract_eval
        gives; the sub-graphs of control-flow equations are checked in turn.

        Each graph is checked once, from a work list rather than by recursion: the time is
        linear in the total size however deeply control flow nests, and a sub-graph shared by
        several equations (or branches) is not checked again for each.

        Returns
        -------
        Graph
            The graph itself, so that checks chain (`p(g).check()`).

        Raises
        ------
        GraphError
            Naming the first equation (and the sub-graph it is in) that breaks a rule.

        Examples
        --------
        >>> import chainrule as cr
        >>> g = cr.graph.trace(lambda x: x * 2.0, cr.graph.spec((2,)))
        >>> g.check() is g
        True
        """
        pending: list[tuple[Graph, str]] = [(self, "")]
        seen = {id(self)}  # (the graphs stay alive, held by their parents, while this runs)
        while pending:
            g, where = pending.pop()
            try:
                subs = g._check_own()
            except GraphError as exc:
                if not where:
                    raise
                raise GraphError(f"{where}: {exc}") from None
            for label, sub in subs:
                if id(sub) not in seen:
                    seen.add(id(sub))
                    pending.append((sub, f"{where} > {label}" if where else label))
        return self

    def _check_own(self) -> list[tuple[str, Graph]]:
        """Check this graph's own equations; return its sub-graphs (labelled) unchecked."""
        subs: list[tuple[str, Graph]] = []
        defined: set[int] = set()
        for v in self.inputs:
            if v.id in defined:
                raise GraphError(f"input {v} is defined twice")
            defined.add(v.id)
        for k, e in enumerate(self.eqns):
            for a in e.inputs:
                if isinstance(a, Var) and a.id not in defined:
                    raise GraphError(f"equation {k} ({e.prim.name}) uses v{a.id} before it is "
                                     f"defined")
            if e.prim.abstract_eval is not None:
                got = e.prim.abstract_eval(*[_aval(a) for a in e.inputs], **e.params)
                avals = list(got) if e.prim.multiple_results else [got]
                if len(avals) != len(e.outputs):
                    raise GraphError(f"equation {k} ({e.prim.name}) declares {len(e.outputs)} "
                                     f"output(s) but its primitive gives {len(avals)}")
                for v, (shape, dtype) in zip(e.outputs, avals):
                    if tuple(shape) != v.shape or np.dtype(dtype) != v.dtype:
                        raise GraphError(f"equation {k} ({e.prim.name}) declares "
                                         f"{type_str(v.shape, v.dtype)} but its primitive gives "
                                         f"{type_str(tuple(shape), dtype)}")
            for v in e.outputs:
                if v.id in defined:
                    raise GraphError(f"v{v.id} is defined twice (equation {k})")
                defined.add(v.id)
            for name, p in e.params.items():  # the sub-graphs of control flow
                if isinstance(p, Graph):
                    subs.append((f"{name} of equation {k} ({e.prim.name})", p))
                elif _holds_graphs(p):
                    subs += [(f"{name}[{i}] of equation {k} ({e.prim.name})", g)
                             for i, g in enumerate(p)]
        for a in self.outputs:
            if isinstance(a, Var) and a.id not in defined:
                raise GraphError(f"output v{a.id} is never defined")
        return subs

    # -- printing ------------------------------------------------------------------------------
    def __str__(self) -> str:
        return "\n".join(self._lines(""))

    def _lines(self, indent: str) -> list[str]:
        names = _Names()
        head = " ".join(f"{names(v)}:{type_str(v.shape, v.dtype)}" for v in self.inputs)
        lines = [f"{{ lambda {head} ."]
        for e in self.eqns:
            outs = " ".join(f"{names(v)}:{type_str(v.shape, v.dtype)}" for v in e.outputs)
            args = " ".join(names.atom(a) for a in e.inputs)
            inline = {k: v for k, v in e.params.items() if not _holds_graphs(v)}
            lines.append(f"{indent}    {outs} = {e.prim.name}{_params_str(inline)} {args}"
                         .rstrip())
            for k, v in e.params.items():  # sub-graphs, nested below their equation
                if _holds_graphs(v):
                    subs = [(k, v)] if isinstance(v, Graph) else \
                        [(f"{k}[{i}]", g) for i, g in enumerate(v)]
                    for label, g in subs:
                        body = g._lines(indent + "      ")
                        lines.append(f"{indent}      {label} = {body[0]}")
                        lines.extend(body[1:])
        outs = ", ".join(names.atom(a) for a in self.outputs)
        lines.append(f"{indent}  in ({outs}{',' if len(self.outputs) == 1 else ''}) }}")
        return lines

    __repr__ = __str__


def _holds_graphs(v: Any) -> bool:
    return isinstance(v, Graph) or (isinstance(v, tuple) and bool(v)
                                    and all(isinstance(g, Graph) for g in v))


class _Names:
    """Short names a, b, ..., z, ba, bb, ... in order of first appearance."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}

    def __call__(self, v: Var) -> str:
        if v.id not in self.names:
            n, s = len(self.names), ""
            while True:
                s = chr(ord("a") + n % 26) + s
                n //= 26
                if n == 0:
                    break
            self.names[v.id] = s
        return self.names[v.id]

    def atom(self, a: Atom) -> str:
        if isinstance(a, Var):
            return self(a)
        return const_str(a.value)


def const_str(value: Any) -> str:
    if isinstance(value, (bool, int, float, complex, np.generic)) or np.ndim(value) == 0:
        return repr(np.asarray(value).item()) if np.ndim(value) == 0 else repr(value)
    return f"const:{type_str(shape_of(value), dtype_of(value))}"


def _params_str(params: dict[str, Any]) -> str:
    if not params:
        return ""
    parts = []
    for k, v in params.items():
        if callable(v):
            v = getattr(v, "__name__", type(v).__name__)
        elif isinstance(v, np.ndarray):
            v = const_str(v)
        parts.append(f"{k}={v}")
    return "[" + " ".join(parts) + "]"


class Spec:
    """A shape and a dtype, no data: a placeholder input of `trace`, and what abstract
    evaluation sees of a graph variable.

    Parameters
    ----------
    shape : int or tuple of int
        The shape (an int `n` means `(n,)`).
    dtype : Any, optional
        The dtype (anything `numpy.dtype` accepts), float64 by default.

    Examples
    --------
    >>> import chainrule as cr
    >>> s = cr.graph.Spec(3, "float32")
    >>> print(s, s.ndim)
    spec((3,), 'float32') 1
    """

    __slots__ = ("shape", "dtype")

    def __init__(self, shape: Any, dtype: Any = "float64") -> None:
        self.shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(
            int(s) for s in shape)
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return len(self.shape)

    def __repr__(self) -> str:
        return f"spec({self.shape}, {self.dtype.name!r})"


def _aval(a: Atom) -> Any:
    return a.value if isinstance(a, Const) else Spec(a.shape, a.dtype)


def _is_static(x: Any) -> bool:
    """Leaves that are not traced inputs: anything that is not a floating-point number/array."""
    return not tree.is_float_leaf(x)
