"""Graphs as plain JSON: primitives by name, values as nested lists. Loading never executes
anything from the text (no pickle, no eval): unknown primitives, malformed equations and
inconsistent shapes are refused with GraphError."""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from .._core.primitive import REGISTRY
from .ir import Atom, Const, Eqn, Graph, GraphError, Var

VERSION = 1


def _enc(v: Any) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return {"bool": v} if isinstance(v, bool) else v
    if isinstance(v, (int, np.integer)):
        return {"int": int(v)}
    if isinstance(v, (float, np.floating)):
        return {"float": float(v)} if np.isfinite(v) else {"float": repr(float(v))}
    if isinstance(v, (complex, np.complexfloating)):
        return {"complex": [float(np.real(v)), float(np.imag(v))]}
    if isinstance(v, np.ndarray):
        data = v.tolist() if v.dtype.kind != "c" else [[z.real, z.imag] for z in v.ravel()]
        if v.dtype.kind == "f" and not np.all(np.isfinite(v)):
            data = [repr(float(z)) for z in v.ravel()]
        return {"array": data, "dtype": v.dtype.str, "shape": list(v.shape)}
    if isinstance(v, tuple):
        return {"tuple": [_enc(x) for x in v]}
    if isinstance(v, slice):
        return {"slice": [_enc(v.start), _enc(v.stop), _enc(v.step)]}
    if v is Ellipsis:
        return {"ellipsis": True}
    if isinstance(v, Graph):  # the branch or body of a control-flow equation
        return {"graph": _to_data(v)}
    raise GraphError(f"cannot serialise a {type(v).__name__} parameter (a function, probably: "
                     f"graphs with custom rules or checkpoints are not serialisable)")


def _float(x: Any) -> float:
    if isinstance(x, str):
        if x not in ("inf", "-inf", "nan"):
            raise GraphError(f"malformed number {x!r}")
        return float(x)
    return float(x)


def _dec(v: Any) -> Any:
    if v is None or isinstance(v, str):
        return v
    if not isinstance(v, dict) or len(v) == 0:
        raise GraphError(f"malformed value {v!r}")
    if "bool" in v:
        return bool(v["bool"])
    if "int" in v:
        return int(v["int"])
    if "float" in v:
        return _float(v["float"])
    if "complex" in v:
        re, im = v["complex"]
        return complex(float(re), float(im))
    if "array" in v:
        dtype = np.dtype(v["dtype"])
        if dtype.kind not in "biufc":
            raise GraphError(f"arrays of dtype {dtype} are not accepted")
        shape = tuple(int(s) for s in v["shape"])
        data = v["array"]
        if dtype.kind == "c":
            flat = np.array([complex(float(a), float(b)) for a, b in data], dtype=dtype)
            return flat.reshape(shape)
        if dtype.kind == "f" and data and isinstance(data[0], str):
            return np.array([_float(x) for x in data], dtype=dtype).reshape(shape)
        return np.array(data, dtype=dtype).reshape(shape)
    if "tuple" in v:
        return tuple(_dec(x) for x in v["tuple"])
    if "slice" in v:
        return slice(*[_dec(x) for x in v["slice"]])
    if "ellipsis" in v:
        return Ellipsis
    if "graph" in v:
        return _from_data(v["graph"])
    raise GraphError(f"malformed value {v!r}")


def to_json(g: Graph) -> str:
    data = {"format": "chainrule.graph", "version": VERSION, **_to_data(g)}
    return json.dumps(data)


def _to_data(g: Graph) -> dict[str, Any]:
    def var(v: Var) -> dict[str, Any]:
        return {"id": v.id, "shape": list(v.shape), "dtype": v.dtype.str}

    def atom(a: Atom) -> dict[str, Any]:
        return {"var": a.id} if isinstance(a, Var) else {"const": _enc(a.value)}

    return {
        "inputs": [var(v) for v in g.inputs],
        "eqns": [{"prim": e.prim.name, "inputs": [atom(a) for a in e.inputs],
                  "params": {k: _enc(p) for k, p in e.params.items()},
                  "outputs": [var(v) for v in e.outputs]} for e in g.eqns],
        "outputs": [atom(a) for a in g.outputs],
    }


def from_json(text: str) -> Graph:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GraphError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != "chainrule.graph":
        raise GraphError("not a chainrule graph (the 'format' field is missing or different)")
    if data.get("version") != VERSION:
        raise GraphError(f"unsupported graph version {data.get('version')!r}")
    return _from_data(data)


def _from_data(data: Any) -> Graph:
    if not isinstance(data, dict):
        raise GraphError(f"malformed graph {data!r}")
    vars_: dict[int, Var] = {}

    def new_var(d: Any) -> Var:
        try:
            v = Var(tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"]))
            key = int(d["id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise GraphError(f"malformed variable {d!r}: {exc}") from None
        if key in vars_:
            raise GraphError(f"variable {key} is defined twice")
        vars_[key] = v
        return v

    def atom(d: Any) -> Atom:
        if isinstance(d, dict) and "var" in d:
            key = d["var"]
            if key not in vars_:
                raise GraphError(f"variable {key} is used before it is defined")
            return vars_[key]
        if isinstance(d, dict) and "const" in d:
            return Const(_dec(d["const"]))
        raise GraphError(f"malformed operand {d!r}")

    inputs = [new_var(d) for d in data.get("inputs", [])]
    eqns = []
    for k, e in enumerate(data.get("eqns", [])):
        if not isinstance(e, dict) or not {"prim", "inputs", "params", "outputs"} <= set(e):
            raise GraphError(f"equation {k} is malformed: it needs prim, inputs, params, outputs")
        prim = REGISTRY.get(e["prim"])
        if prim is None:
            raise GraphError(f"equation {k} names an unknown primitive {e['prim']!r}")
        if prim.abstract_eval is None:
            raise GraphError(f"equation {k}: primitive {e['prim']!r} cannot be loaded")
        ins = [atom(a) for a in e["inputs"]]
        params = {str(name): _dec(p) for name, p in e["params"].items()}
        outs = [new_var(v) for v in e["outputs"]]
        eqns.append(Eqn(prim, ins, params, outs))
    outputs = [atom(a) for a in data.get("outputs", [])]
    g = Graph(inputs, eqns, outputs)
    try:
        return g.check()
    except GraphError:
        raise
    except Exception as exc:  # an abstract_eval refusing its operands
        raise GraphError(f"the graph is inconsistent: {type(exc).__name__}: {exc}") from None
