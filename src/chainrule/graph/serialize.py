"""Graphs as plain JSON: primitives by name, values as nested lists.

A graph file is data, never code. Loading happens in two steps:

1. the decoded JSON is checked, in full, against fixed whitelists before anything is built:
   the keys each object may have, registered primitives, the parameter names each primitive
   accepts (`param_names`), a fixed set of dtypes, bounded shapes, integer variable ids, the
   few value encodings written by `to_json`, and a bounded nesting depth;
2. only then are variables, constants and equations built, and the graph (with its sub-graphs)
   is checked once by `Graph.check`.

Anything else raises GraphError, whatever the shape of the text: nothing from the file is
unpickled, eval'd or written into generated code (see codegen).
"""
from __future__ import annotations

import functools
import inspect
import json
import keyword
import math
from typing import Any

import numpy as np

from .._core.primitive import REGISTRY, Primitive
from .ir import Atom, Const, Eqn, Graph, GraphError, Var

VERSION = 1

#: deepest nesting of values and sub-graphs in a file: each level of control flow inside control
#: flow costs three (the parameter, its tuple of branches, the branch), so about 33 levels.
#: Programs nest control flow a few levels; the bound keeps the (recursive) writer, checker and
#: builder, and json itself, far from Python's recursion limit.
MAX_DEPTH = 100
#: most dimensions of a variable or constant (NumPy allows 64)
MAX_RANK = 32
#: largest dimension, and largest number of elements, of a variable: beyond any memory, but
#: small enough that NumPy can describe the array (sizes and byte counts fit in an intp)
MAX_ELEMENTS = 2 ** 48
#: most elements of a constant array written in the file
MAX_CONST_ELEMENTS = 2 ** 24
#: longest string parameter (an einsum specification, a dtype)
MAX_STRING = 10_000
#: integers are those of int64: parameters are axes, counts and lengths
_INT_RANGE = (-2 ** 63, 2 ** 63 - 1)

_DTYPE_NAMES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                "uint64", "float16", "float32", "float64", "complex64", "complex128")


def _dtype_spellings() -> dict[str, np.dtype]:
    """The accepted dtype strings: each name and its `dtype.str` form in either byte order. The
    numbers are JSON text, so byte order does not matter: all map to the native dtype."""
    table: dict[str, np.dtype] = {}
    for name in _DTYPE_NAMES:
        dt = np.dtype(name)
        table[name] = dt
        code = dt.str[1:]
        for order in ("<", ">", "|", "="):
            if dt.itemsize == 1 or order != "|":
                table[order + code] = dt
    return table


#: the only dtypes a file may name: never object, structured, string or datetime dtypes, and no
#: other text `np.dtype` would parse
DTYPES: dict[str, np.dtype] = _dtype_spellings()

# NumPy callables used as implementations (ufuncs, operator builtins, array functions) take
# NumPy's own keywords (out=, where=, dtype=, casting=, ...), which chainrule never records as
# parameters: these are the only ones it binds them with (chainrule.numpy.nan_to_num).
_NUMPY_PARAMS: dict[str, frozenset[str]] = {
    "nan_to_num": frozenset({"nan", "posinf", "neginf"}),
}


@functools.cache
def param_names(prim: Primitive) -> frozenset[str]:
    """The parameter names `prim` accepts: the whitelist for graph files and generated code.

    `bind` calls an implementation as `impl(*operands, **params)`, and chainrule's primitives
    written in Python declare every parameter keyword-only (`def _sum_impl(x, *, axis,
    keepdims)`), so the keyword-only parameters of the implementation's signature are exactly
    the parameters tracing records (checked against the names every test graph uses). This
    follows new primitives written the same way, and admits none of the keywords of NumPy
    callables (`out=`, `dtype=`, ...), which get the short fixed table above instead. A `**kwargs`
    implementation admits nothing beyond its named keyword-only parameters."""
    impl = prim.impl
    if not inspect.isfunction(impl):
        return _NUMPY_PARAMS.get(prim.name, frozenset())
    try:
        sig = inspect.signature(impl)
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(p.name for p in sig.parameters.values()
                     if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name.isascii()
                     and p.name.isidentifier() and not keyword.iskeyword(p.name))


# ---------------------------------------------------------------------------------------------
# writing

def _enc(v: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise GraphError(f"the graph nests values or sub-graphs more than {MAX_DEPTH} levels "
                         f"deep: from_json would refuse the file, so it is not written")
    if v is None or isinstance(v, (bool, str)):
        return {"bool": v} if isinstance(v, bool) else v
    if isinstance(v, (int, np.integer)):
        return {"int": int(v)}
    if isinstance(v, (float, np.floating)):
        return {"float": float(v)} if np.isfinite(v) else {"float": repr(float(v))}
    if isinstance(v, (complex, np.complexfloating)):
        return {"complex": [_real(np.real(v)), _real(np.imag(v))]}
    if isinstance(v, np.ndarray):
        if v.dtype.kind == "c":
            data: Any = [[_real(z.real), _real(z.imag)] for z in v.ravel()]
        elif v.dtype.kind == "f" and not np.all(np.isfinite(v)):
            data = [_real(z) for z in v.ravel()]  # flat: inf and nan as strings
        else:
            data = v.tolist()
        return {"array": data, "dtype": v.dtype.str, "shape": list(v.shape)}
    if isinstance(v, tuple):
        return {"tuple": [_enc(x, depth + 1) for x in v]}
    if isinstance(v, slice):
        return {"slice": [_enc(v.start, depth + 1), _enc(v.stop, depth + 1),
                          _enc(v.step, depth + 1)]}
    if v is Ellipsis:
        return {"ellipsis": True}
    if isinstance(v, Graph):  # the branch or body of a control-flow equation
        return {"graph": _to_data(v, depth + 1)}
    raise GraphError(f"cannot serialise a {type(v).__name__} parameter (a function, probably: "
                     f"graphs with custom rules or checkpoints are not serialisable)")


def _real(x: Any) -> float | str:
    """A float for JSON: finite ones as numbers, inf and nan as strings (strict JSON has none)."""
    x = float(x)
    return x if math.isfinite(x) else repr(x)


def to_json(g: Graph) -> str:
    """The graph as plain JSON text: primitives by name, values as nested lists.

    Parameters
    ----------
    g : Graph
        The graph (its sub-graphs included).

    Returns
    -------
    str
        The JSON text, which `from_json` reads back.

    Raises
    ------
    GraphError
        If a parameter or constant has no JSON encoding.

    Examples
    --------
    >>> import json
    >>> import chainrule as cr
    >>> g = cr.graph.trace(lambda x: x * 2.0, cr.graph.spec((2,)))
    >>> json.loads(g.to_json())["format"]
    'chainrule.graph'
    """
    data = {"format": "chainrule.graph", "version": VERSION, **_to_data(g, 0)}
    return json.dumps(data)


def _to_data(g: Graph, depth: int) -> dict[str, Any]:
    def var(v: Var) -> dict[str, Any]:
        return {"id": v.id, "shape": list(v.shape), "dtype": v.dtype.str}

    def atom(a: Atom) -> dict[str, Any]:
        return {"var": a.id} if isinstance(a, Var) else {"const": _enc(a.value, depth)}

    return {
        "inputs": [var(v) for v in g.inputs],
        "eqns": [{"prim": e.prim.name, "inputs": [atom(a) for a in e.inputs],
                  "params": {k: _enc(p, depth + 1) for k, p in e.params.items()},
                  "outputs": [var(v) for v in e.outputs]} for e in g.eqns],
        "outputs": [atom(a) for a in g.outputs],
    }


# ---------------------------------------------------------------------------------------------
# reading, step 1: the plain data is checked against the whitelists, building nothing

#: a position in the file: "top", or (position, part, ...) with parts ".key" or list indices;
#: nested tuples cost nothing to extend, and are spelled out only for a message
Where = Any


def _spell(where: Where) -> str:
    parts: list[Any] = []
    while isinstance(where, tuple):  # (a loop: positions nest as deep as the file)
        parts.extend(reversed(where[1:]))
        where = where[0]
    parts.append(where)
    return "".join(p if isinstance(p, str) else f"[{p}]" for p in reversed(parts))


def _fail(where: Where, what: str) -> GraphError:
    at = _spell(where)
    if len(at) > 200:  # (deep in nested sub-graphs: the two ends say enough)
        at = f"{at[:80]} ... {at[-100:]}"
    return GraphError(f"malformed graph file at {at}: {what}")


def _kind(x: Any) -> str:
    """What was found, for a message (never the text of a string: it may be long or hostile)."""
    if type(x) is int:
        return str(x) if abs(x) < 10 ** 20 else f"an integer of {x.bit_length()} bits"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            float: "a number", type(None): "null"}.get(type(x), "a value")


def _is_int(x: Any) -> bool:
    return type(x) is int and _INT_RANGE[0] <= x <= _INT_RANGE[1]


def _is_number(x: Any) -> bool:
    return (type(x) is int and _INT_RANGE[0] <= x <= _INT_RANGE[1]) or type(x) is float


def _is_real(x: Any) -> bool:
    """A float element as `to_json` writes it: a number, or a string such as "inf" or "nan"."""
    if _is_number(x):
        return True
    if type(x) is not str or len(x) > 40:
        return False
    try:
        float(x)
    except ValueError:
        return False
    return True


def _object(d: Any, where: Where, keys: set[str]) -> dict[str, Any]:
    """`d` must be an object with exactly these keys."""
    if type(d) is not dict:
        raise _fail(where, f"expected an object with keys {sorted(keys)}, found {_kind(d)}")
    if set(d) != keys:
        missing, extra = sorted(keys - set(d)), sorted(set(d) - keys)
        detail = "; ".join(([f"missing {missing}"] if missing else [])
                           + ([f"unknown {[k[:40] for k in extra]}"] if extra else []))
        raise _fail(where, f"expected the keys {sorted(keys)} ({detail})")
    return d


def _list(d: Any, where: Where) -> list[Any]:
    if type(d) is not list:
        raise _fail(where, f"expected a list, found {_kind(d)}")
    return d


def _check_dtype(d: Any, where: Where) -> np.dtype:
    if type(d) is not str or d not in DTYPES:
        shown = repr(d[:40]) if type(d) is str else _kind(d)
        raise _fail(where, f"dtype {shown} is not accepted; the dtypes are "
                           f"{', '.join(_DTYPE_NAMES)}")
    return DTYPES[d]


def _check_shape(d: Any, where: Where, limit: int) -> tuple[int, ...]:
    shape = _list(d, where)
    if len(shape) > MAX_RANK:
        raise _fail(where, f"a shape of {len(shape)} dimensions (at most {MAX_RANK})")
    for k, s in enumerate(shape):
        if type(s) is not int or not 0 <= s <= MAX_ELEMENTS:
            raise _fail((where, k), f"a dimension must be an integer from 0 to "
                                    f"{MAX_ELEMENTS}, found {_kind(s)}")
    if math.prod(shape) > limit:
        raise _fail(where, f"shape {shape} has {math.prod(shape)} elements (at most {limit})")
    return tuple(shape)


def _check_var(d: Any, where: Where) -> int:
    d = _object(d, where, {"id", "shape", "dtype"})
    if not _is_int(d["id"]):
        raise _fail((where, ".id"), f"a variable id must be an integer, found {_kind(d['id'])}")
    _check_shape(d["shape"], (where, ".shape"), MAX_ELEMENTS)
    _check_dtype(d["dtype"], (where, ".dtype"))
    return d["id"]


def _check_atom(d: Any, where: Where, defined: set[int]) -> None:
    if type(d) is dict and set(d) == {"var"}:
        if not _is_int(d["var"]):
            raise _fail((where, ".var"),
                        f"a variable id must be an integer, found {_kind(d['var'])}")
        if d["var"] not in defined:
            raise _fail(where, f"variable {d['var']} is used before it is defined")
        return
    if type(d) is dict and set(d) == {"const"}:
        c = d["const"]
        # operands are numbers and arrays: no strings, tuples, slices or graphs
        if type(c) is not dict or not set(c) & {"bool", "int", "float", "complex", "array"}:
            raise _fail((where, ".const"), "a constant operand must be a number or an array")
        _check_value(c, (where, ".const"), 0)
        return
    raise _fail(where, f"an operand must be {{\"var\": id}} or {{\"const\": value}}, found "
                       f"{_kind(d)}")


def _check_elements(data: Any, shape: tuple[int, ...], where: Where, ok: Any, what: str,
                    at: tuple[int, ...] = ()) -> None:
    """`data` must be nested lists of exactly `shape`, each element passing `ok`. (The position
    is kept as indices and only written out for the message: arrays may be large.)"""
    def fail(idx: tuple[int, ...], detail: str) -> GraphError:
        return _fail((where, *idx), detail)

    if not shape:
        if not ok(data):
            raise fail(at, f"expected {what}, found {_kind(data)}")
        return
    if type(data) is not list:
        raise fail(at, f"expected a list, found {_kind(data)}")
    if len(data) != shape[0]:
        raise fail(at, f"{len(data)} entries where the shape says {shape[0]}")
    if len(shape) == 1:
        if not all(map(ok, data)):
            k = next(k for k, x in enumerate(data) if not ok(x))
            raise fail(at + (k,), f"expected {what}, found {_kind(data[k])}")
        return
    for k, row in enumerate(data):
        _check_elements(row, shape[1:], where, ok, what, at + (k,))


def _flat_form(data: Any, shape: tuple[int, ...]) -> bool:
    """Whether a float array's data is the flat list `to_json` writes when the array holds inf
    or nan, rather than nested lists (the forms coincide for one dimension)."""
    if type(data) is not list or len(shape) == 1:
        return False
    if not shape:
        return True  # (a 0-d array's nested form is the number itself)
    return type(data[0]) is not list if data else shape[0] != 0


def _check_array(d: dict[str, Any], where: Where) -> None:
    d = _object(d, where, {"array", "dtype", "shape"})
    dtype = _check_dtype(d["dtype"], (where, ".dtype"))
    shape = _check_shape(d["shape"], (where, ".shape"), MAX_CONST_ELEMENTS)
    data, size = d["array"], math.prod(shape)
    at = (where, ".array")
    if dtype.kind == "c":  # flat [re, im] pairs
        _check_elements(data, (size, 2), at, _is_real, "a number")
    elif dtype.kind == "f":  # nested lists, or flat with inf and nan as strings
        _check_elements(data, (size,) if _flat_form(data, shape) else shape, at, _is_real,
                        "a number")
    elif dtype.kind == "b":
        _check_elements(data, shape, at, lambda x: type(x) is bool, "a boolean")
    else:
        info = np.iinfo(dtype)
        _check_elements(data, shape, at, lambda x: type(x) is int and info.min <= x <= info.max,
                        f"an integer of {dtype.name}")


def _check_value(v: Any, where: Where, depth: int) -> None:
    """`v` must be one of the encodings `_enc` writes."""
    if depth > MAX_DEPTH:
        raise _fail(where, f"values or sub-graphs nested more than {MAX_DEPTH} levels deep")
    if v is None:
        return
    if type(v) is str:
        if len(v) > MAX_STRING:
            raise _fail(where, f"a string of {len(v)} characters (at most {MAX_STRING})")
        return
    if type(v) is not dict or len(v) == 0:
        raise _fail(where, f"expected an encoded value, found {_kind(v)}")
    if "array" in v:
        _check_array(v, where)
        return
    if len(v) != 1:
        raise _fail(where, f"an encoded value has one key, found {len(v)}")
    (tag, x), = v.items()
    at = (where, "." + tag[:40])
    if tag == "bool":
        if type(x) is not bool:
            raise _fail(at, f"expected true or false, found {_kind(x)}")
    elif tag == "int":
        if not _is_int(x):
            raise _fail(at, f"expected an integer of int64, found {_kind(x)}")
    elif tag == "float":
        if not (type(x) is float or _is_int(x) or x in ("inf", "-inf", "nan")):
            raise _fail(at, f"expected a number, \"inf\", \"-inf\" or \"nan\", found {_kind(x)}")
    elif tag == "complex":
        _check_elements(x, (2,), at, _is_real, "a number")
    elif tag == "tuple":
        for k, item in enumerate(_list(x, at)):
            _check_value(item, (at, k), depth + 1)
    elif tag == "slice":
        parts = _list(x, at)
        if len(parts) != 3:
            raise _fail(at, f"a slice has 3 parts (start, stop, step), found {len(parts)}")
        for k, p in enumerate(parts):
            if p is not None and not (type(p) is dict and set(p) == {"int"} and _is_int(p["int"])):
                raise _fail((at, k), "a slice part must be null or {\"int\": n}")
    elif tag == "ellipsis":
        if x is not True:
            raise _fail(at, "expected true")
    elif tag == "graph":
        _check_graph(x, at, depth + 1)
    else:
        raise _fail(where, f"unknown value encoding {tag[:40]!r}")


def _check_eqn(d: Any, where: Where, defined: set[int], depth: int) -> None:
    d = _object(d, where, {"prim", "inputs", "params", "outputs"})
    name = d["prim"]
    if type(name) is not str:
        raise _fail((where, ".prim"), f"a primitive name must be a string, found {_kind(name)}")
    prim = REGISTRY.get(name)
    if prim is None:
        raise _fail((where, ".prim"), f"unknown primitive {name[:40]!r}")
    if prim.abstract_eval is None:
        raise _fail((where, ".prim"), f"primitive {name!r} cannot be loaded (it calls Python "
                                      f"functions, which a file cannot hold)")
    for k, a in enumerate(_list(d["inputs"], (where, ".inputs"))):
        _check_atom(a, (where, ".inputs", k), defined)
    params = d["params"]
    if type(params) is not dict:
        raise _fail((where, ".params"), f"expected an object, found {_kind(params)}")
    allowed = param_names(prim)
    for key, value in params.items():
        if key not in allowed:
            names = ", ".join(sorted(allowed)) or "none"
            raise _fail((where, ".params"),
                        f"{name} has no parameter {key[:40]!r} (its parameters: {names})")
        _check_value(value, (where, ".params.", key), depth + 1)
        if key == "dtype":  # (pick's target dtype, given to np.dtype)
            _check_dtype(value, (where, ".params.dtype"))
    outputs = _list(d["outputs"], (where, ".outputs"))
    if not prim.multiple_results and len(outputs) != 1:
        raise _fail((where, ".outputs"), f"{name} has one output, found {len(outputs)}")
    for k, v in enumerate(outputs):
        key = _check_var(v, (where, ".outputs", k))
        if key in defined:
            raise _fail((where, ".outputs", k), f"variable {key} is defined twice")
        defined.add(key)


def _check_graph(d: Any, where: Where, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _fail(where, f"values or sub-graphs nested more than {MAX_DEPTH} levels deep")
    d = _object(d, where, {"inputs", "eqns", "outputs"})
    defined: set[int] = set()  # (a sub-graph is closed: it has variables of its own)
    for k, v in enumerate(_list(d["inputs"], (where, ".inputs"))):
        key = _check_var(v, (where, ".inputs", k))
        if key in defined:
            raise _fail((where, ".inputs", k), f"variable {key} is defined twice")
        defined.add(key)
    for k, e in enumerate(_list(d["eqns"], (where, ".eqns"))):
        _check_eqn(e, (where, ".eqns", k), defined, depth)
    for k, a in enumerate(_list(d["outputs"], (where, ".outputs"))):
        _check_atom(a, (where, ".outputs", k), defined)


# ---------------------------------------------------------------------------------------------
# reading, step 2: building from data that passed step 1 (which guarantees every type below)

def _flat(data: Any, ndim: int) -> list[Any]:
    """The elements of `ndim`-deep nested lists, in order."""
    for _ in range(ndim - 1):
        data = [x for row in data for x in row]
    return data if ndim else [data]


def _dec_array(v: dict[str, Any]) -> np.ndarray:
    dtype, shape, data = DTYPES[v["dtype"]], tuple(v["shape"]), v["array"]
    if dtype.kind == "c":
        flat: list[Any] = [complex(float(a), float(b)) for a, b in data]
    elif dtype.kind == "f":
        flat = [float(x) for x in (data if _flat_form(data, shape) else
                                   _flat(data, len(shape)))]
    else:
        flat = _flat(data, len(shape))
    with np.errstate(over="ignore"):  # (a float64 number beyond float16's range becomes inf)
        return np.array(flat, dtype=dtype).reshape(shape)


def _dec(v: Any) -> Any:
    if v is None or type(v) is str:
        return v
    if "array" in v:
        return _dec_array(v)
    (tag, x), = v.items()
    if tag in ("bool", "int"):
        return x
    if tag == "float":
        return float(x)
    if tag == "complex":
        return complex(float(x[0]), float(x[1]))
    if tag == "tuple":
        return tuple(_dec(item) for item in x)
    if tag == "slice":
        return slice(*[None if p is None else p["int"] for p in x])
    if tag == "ellipsis":
        return Ellipsis
    return _build(x)  # "graph"


def _build(data: dict[str, Any]) -> Graph:
    vars_: dict[int, Var] = {}

    def new_var(d: dict[str, Any]) -> Var:
        v = vars_[d["id"]] = Var(tuple(d["shape"]), DTYPES[d["dtype"]])
        return v

    def atom(d: dict[str, Any]) -> Atom:
        return vars_[d["var"]] if "var" in d else Const(_dec(d["const"]))

    inputs = [new_var(d) for d in data["inputs"]]
    eqns = []
    for e in data["eqns"]:
        ins = [atom(a) for a in e["inputs"]]
        params = {name: _dec(p) for name, p in e["params"].items()}
        eqns.append(Eqn(REGISTRY[e["prim"]], ins, params, [new_var(v) for v in e["outputs"]]))
    return Graph(inputs, eqns, [atom(a) for a in data["outputs"]])


def from_json(text: str) -> Graph:
    """The graph `to_json` wrote. Refuses with GraphError anything else: malformed or hostile
    files of any shape, nested too deeply, or describing an inconsistent graph.

    Nothing in the text is executed, unpickled or written into generated code; the graph is
    checked with `Graph.check` before it is returned. Also available as `Graph.from_json`.

    Parameters
    ----------
    text : str
        The JSON text.

    Returns
    -------
    Graph
        The graph (without the pytree structures of its arguments and result: `run` takes and
        returns flat lists).

    Raises
    ------
    GraphError
        If the text is not a graph `to_json` could have written.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> g = cr.graph.trace(lambda x: x * 2.0, cr.graph.spec((2,)))
    >>> print(cr.graph.Graph.from_json(g.to_json()).run_flat(np.ones(2))[0])
    [2. 2.]
    """
    if not isinstance(text, (str, bytes, bytearray)):
        raise GraphError(f"from_json: expected the JSON text (a str), got {type(text).__name__}")
    try:
        data = json.loads(text)
    except RecursionError:
        raise GraphError("not a chainrule graph: the JSON is nested too deeply") from None
    except ValueError as exc:  # (JSONDecodeError, undecodable bytes, too many digits)
        raise GraphError(f"not JSON: {exc}") from None
    if type(data) is not dict or data.get("format") != "chainrule.graph":
        raise GraphError("not a chainrule graph (the 'format' field is missing or different)")
    version = data.get("version")
    if type(version) is not int or version != VERSION:
        shown = repr(version)[:40]
        raise GraphError(f"unsupported graph version {shown} (this chainrule reads {VERSION})")
    body = {k: v for k, v in data.items() if k not in ("format", "version")}
    _check_graph(body, "top", 0)  # step 1, in full: nothing is built from unchecked data
    g = _build(body)
    try:
        return g.check()  # (the sub-graphs too, each once)
    except GraphError:
        raise
    except Exception as exc:  # an abstract_eval refusing its operands or parameters
        raise GraphError(f"the graph is inconsistent: {type(exc).__name__}: {exc}") from None
