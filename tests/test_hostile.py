"""Hostile inputs run nothing: graph files (`Graph.from_json`, then `compile` and run), expression
texts (`cr.explain.parse_expression` and `chainrule explain`) and `.npz` files (`Module.load`).

Each test asserts that (a) a marker file the payloads would create never appears and (b) while
loading, compiling and running, nothing reaches a shell, a process, `eval`, `exec` of anything but
chainrule's own generated code, or an import of os/subprocess. Code generation does `exec` its
own source, so for graphs the tests check that SOURCE instead: no text from the file is in it.
"""
import ast
import builtins
import contextlib
import io
import json
import os
import pickle
import random
import subprocess
import sys
import time
import tracemalloc
import types
import zipfile

import numpy as np
import numpy.testing  # noqa: F401  (imported lazily by np.testing, and it imports os)
import pytest
from numpy.lib import format as npy

import chainrule as cr
import chainrule.explain  # noqa: F401  (loaded before the tests that forbid imports)
import chainrule.graph.codegen  # noqa: F401  (and so are the modules loading a graph uses)
import chainrule.graph.control  # noqa: F401
import chainrule.graph.passes  # noqa: F401
import chainrule.graph.serialize  # noqa: F401
import chainrule.numpy as cnp
from chainrule import nn
from chainrule.explain import ExpressionError, parse_expression
from chainrule.graph import GraphError, spec
from chainrule.graph.ir import Const, Eqn, Graph, Var

# ---------------------------------------------------------------------------------------------
# the guard


class Ran(AssertionError):
    """Raised by the guard: something tried to run."""


def _code_names(code: types.CodeType) -> set[str]:
    """Every name a code object (and the functions it defines) refers to."""
    names = set(code.co_names) | set(code.co_varnames)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _code_names(c)
    return names


@contextlib.contextmanager
def nothing_runs(marker):
    """Record and refuse shells, processes, eval, exec of anything but generated graph code and
    imports of os/subprocess; on exit, assert none happened and `marker` does not exist."""
    record: list[str] = []
    generated: list[set[str]] = []

    def forbidden(what):
        def refuse(*args, **kwargs):
            record.append(f"{what}{args!r}"[:200])
            raise Ran(f"{what} was called: {args!r}"[:200])
        return refuse

    real_exec, real_compile, real_import = builtins.exec, builtins.compile, builtins.__import__

    def exec_(code, *args, **kwargs):
        if isinstance(code, types.CodeType) and code.co_filename.startswith("<chainrule graph"):
            generated.append(_code_names(code))
            return real_exec(code, *args, **kwargs)
        if isinstance(code, types.CodeType) and os.path.isfile(code.co_filename):
            return real_exec(code, *args, **kwargs)  # (importing a module from its file)
        return forbidden("exec")(code)

    def compile_(source, filename, mode, flags=0, *args, **kwargs):
        if not (flags & ast.PyCF_ONLY_AST or str(filename).startswith("<chainrule graph")
                or os.path.isfile(filename)):  # (parsing only; generated code; a module)
            forbidden("compile")(source)
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    def import_(name, *args, **kwargs):
        if name.split(".")[0] in ("os", "subprocess", "posix", "pty"):
            forbidden("import")(name)
        return real_import(name, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        for module, name in [(os, "system"), (os, "popen"), (os, "execv"), (os, "execve"),
                             (os, "posix_spawn"), (os, "fork"), (subprocess, "Popen"),
                             (subprocess, "run"), (builtins, "eval")]:
            mp.setattr(module, name, forbidden(f"{module.__name__}.{name}"))
        mp.setattr(builtins, "exec", exec_)
        mp.setattr(builtins, "compile", compile_)
        mp.setattr(builtins, "__import__", import_)
        try:
            yield generated
        finally:
            mp.undo()
            assert record == [], record
            assert not marker.exists(), "a payload ran"
    for names in generated:  # generated code names only what codegen binds
        assert not names & {"__import__", "system", "os", "eval", "exec", "open", "getattr"}


def payload(marker) -> str:
    """Python that creates the marker, written to break out of a generated call."""
    return f"__import__('os').system('touch {marker}')) #"


# ---------------------------------------------------------------------------------------------
# a valid graph to corrupt: parameters, constants, a slice, and a cond with sub-graphs

def _program(a, x):
    y = cr.cond(a > 0, lambda v: v * a, lambda v: -v, x)
    return cnp.sum(cnp.tanh(y[1:] * np.array([1.0, 2.0, 0.5])), axis=0) + a


def _valid() -> dict:
    g = cr.graph.trace(_program, spec(()), spec((4,)))
    return json.loads(g.to_json())


def _eqn(data, prim):
    return next(e for e in data["eqns"] if e["prim"] == prim)


def test_the_original_repro_no_longer_runs(tmp_path):
    """Before: the key went into the generated call, `tanh(a, __import__(...)) #=None)`, and
    ran when the compiled function was called."""
    marker = tmp_path / "MARKER"
    data = _valid()
    _eqn(data, "tanh")["params"][payload(marker)] = None
    with nothing_runs(marker):
        with pytest.raises(GraphError, match="tanh has no parameter"):
            cr.graph.Graph.from_json(json.dumps(data))


def _set(path, value):
    def mutate(data):
        node = data
        for key in path[:-1]:
            node = node[key] if not callable(key) else key(node)
        node[path[-1]] = value
    return mutate


def _in_eqn(prim, *path):
    return (lambda d: _eqn(d, prim)), *path


HOSTILE = {
    "param name": lambda m: _set(_in_eqn("sum", "params", payload(m)), None),
    "param name, compile time": lambda m: _set(
        _in_eqn("sum", "params", f"x=1)\nimport os\nos.system('touch {m}')\ndef f(y"), None),
    "param name, unicode": lambda m: _set(_in_eqn("sum", "params", "ａｘｉｓ"), {"int": 0}),
    "param of numpy": lambda m: _set(_in_eqn("tanh", "params", "out"), None),
    "variable id": lambda m: _set(("inputs", 0, "id"), payload(m)),
    "variable id float": lambda m: _set(("inputs", 0, "id"), 0.5),
    "variable reference": lambda m: _set(_in_eqn("tanh", "inputs", 0, "var"), payload(m)),
    "variable reference list": lambda m: _set(_in_eqn("tanh", "inputs", 0, "var"), [1]),
    "dtype": lambda m: _set(("inputs", 0, "dtype"), payload(m)),
    "dtype object": lambda m: _set(("inputs", 0, "dtype"), "O"),
    "dtype structured": lambda m: _set(("inputs", 0, "dtype"), "f8,f8"),
    "dtype subarray": lambda m: _set(("inputs", 0, "dtype"), "(2,)f8"),
    "dtype string": lambda m: _set(("inputs", 0, "dtype"), "U8"),
    "dtype datetime": lambda m: _set(("inputs", 0, "dtype"), "M8[s]"),
    "dtype as list": lambda m: _set(("inputs", 0, "dtype"), ["f8"]),
    "primitive name": lambda m: _set(("eqns", 0, "prim"), payload(m)),
    "primitive eval": lambda m: _set(("eqns", 0, "prim"), "eval"),
    "primitive as list": lambda m: _set(("eqns", 0, "prim"), ["tanh"]),
    "primitive not loadable": lambda m: _set(("eqns", 0, "prim"), "custom_vjp_call"),
    "string constant operand": lambda m: _set(_in_eqn("tanh", "inputs", 0), {"const": payload(m)}),
    "string param value": lambda m: _set(_in_eqn("sum", "params", "axis"), payload(m)),
    "pick dtype param": lambda m: _set(("eqns", 0), {
        "prim": "pick", "inputs": [{"var": 0}, {"var": 0}], "params": {"dtype": "O"},
        "outputs": [{"id": 999, "shape": [], "dtype": "<f8"}]}),
    "shape with text": lambda m: _set(("inputs", 1, "shape"), [payload(m)]),
    "shape negative": lambda m: _set(("inputs", 1, "shape"), [-4]),
    "shape float": lambda m: _set(("inputs", 1, "shape"), [4.0]),
    "shape bool": lambda m: _set(("inputs", 1, "shape"), [True]),
    "shape rank 40": lambda m: _set(("inputs", 1, "shape"), [1] * 40),
    "shape huge": lambda m: _set(("inputs", 1, "shape"), [2 ** 62, 2 ** 62]),
    "shape a string": lambda m: _set(("inputs", 1, "shape"), "4"),
    "constant huge shape": lambda m: _set(_in_eqn("mul", "inputs", 1, "const", "shape"),
                                          [2 ** 20, 2 ** 20]),
    "constant shape mismatch": lambda m: _set(_in_eqn("mul", "inputs", 1, "const", "shape"),
                                              [4]),
    "constant object dtype": lambda m: _set(_in_eqn("mul", "inputs", 1, "const", "dtype"), "|O"),
    "constant text data": lambda m: _set(_in_eqn("mul", "inputs", 1, "const", "array"),
                                         [payload(m), 1.0, 2.0]),
    "constant int overflow": lambda m: _set(_in_eqn("mul", "inputs", 1, "const"), {
        "array": [2 ** 70], "dtype": "<i8", "shape": [1]}),
    "unknown value encoding": lambda m: _set(_in_eqn("sum", "params", "axis"),
                                             {"pickle": payload(m)}),
    "slice with text": lambda m: _set(_in_eqn("getitem", "params", "idx"),
                                      {"slice": [payload(m), None, None]}),
    "graph param not a graph": lambda m: _set(_in_eqn("cond", "params", "branches"),
                                              {"tuple": [payload(m), payload(m)]}),
    "sub-graph with injected param": lambda m: _set(
        _in_eqn("cond", "params", "branches", "tuple", 0, "graph", "eqns", 0, "params",
                payload(m)), None),
    "unknown top-level key": lambda m: _set((payload(m),), 1),
    "version as bool": lambda m: _set(("version",), True),
    "eqns a dict": lambda m: _set(("eqns",), {"0": {}}),
    "inputs a string": lambda m: _set(("inputs",), "abc"),
    "params a list": lambda m: _set(_in_eqn("sum", "params"), [["axis", 0]]),
    "eqn missing key": lambda m: (lambda d: _eqn(d, "sum").pop("params")),
    "too many outputs": lambda m: (lambda d: _eqn(d, "tanh")["outputs"].append(
        {"id": 998, "shape": [3], "dtype": "<f8"})),
    "no outputs": lambda m: _set(_in_eqn("tanh", "outputs"), []),
    "output defined twice": lambda m: _set(_in_eqn("tanh", "outputs", 0, "id"), 0),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_graph_files_are_refused_and_run_nothing(name, tmp_path):
    marker = tmp_path / "MARKER"
    data = _valid()
    HOSTILE[name](marker)(data)
    with nothing_runs(marker):
        with pytest.raises(GraphError) as info:
            g = cr.graph.Graph.from_json(json.dumps(data))
            g.compile()(1.0, np.ones(4))  # (not reached: loading refuses)
    assert "Traceback" not in str(info.value) and len(str(info.value)) < 2000


def test_a_valid_file_still_loads_compiles_and_runs(tmp_path):
    marker = tmp_path / "MARKER"
    text = json.dumps(_valid())
    with nothing_runs(marker):
        g = cr.graph.Graph.from_json(text)
        fn = g.compile()
        for a in (1.5, -1.5):
            got = fn.flat(a, np.linspace(0, 1, 4))
            want = _program(a, np.linspace(0, 1, 4))
            np.testing.assert_allclose(got[0], want)


_DEEP_PARAM = ('{"format": "chainrule.graph", "version": 1, "inputs": [], "outputs": [], '
               '"eqns": [{"prim": "sum", "inputs": [], "outputs": [], "params": {"axis": '
               + '{"tuple": [' * 100_000 + "null" + "]}" * 100_000 + "}}]}")
TEXTS = {
    "deep lists": "[" * 100_000 + "]" * 100_000,
    "deep objects": '{"a": ' * 100_000 + "1" + "}" * 100_000,
    "deep tuple parameter": _DEEP_PARAM,
    "empty": "",
    "null": "null",
    "a list": "[]",
    "a string": '"chainrule.graph"',
    "no body": '{"format": "chainrule.graph", "version": 1}',
    "5000 digits": "1" * 5000,
    "bad bytes": b"\xff\xfe\x00",
}


@pytest.mark.parametrize("name", list(TEXTS))
def test_any_text_gives_graph_error(name, tmp_path):
    with nothing_runs(tmp_path / "MARKER"):
        with pytest.raises(GraphError):
            cr.graph.Graph.from_json(TEXTS[name])
    with pytest.raises(GraphError, match="expected the JSON text"):
        cr.graph.Graph.from_json(["not", "text"])


def _nested_graph_json(levels: int, leaf_param: str = "") -> str:
    """A chain of `levels` conds, each a branch of the one above (written as text, without
    recursion, so that any depth can be made)."""
    var0, var1 = ('{"id": %d, "shape": [], "dtype": "<f8"}' % k for k in (0, 1))  # noqa: UP031
    leaf = '{"inputs": [' + var0 + '], "eqns": [], "outputs": [{"var": 0}]}'
    head = ('{"inputs": [' + var0 + '], "eqns": [{"prim": "cond", "inputs": [{"const": '
            '{"bool": true}}, {"var": 0}], "params": {"branches": {"tuple": [{"graph": ')
    tail = '}, {"graph": ' + leaf + '}]}}, "outputs": [' + var1 + ']}], "outputs": [{"var": 1}]}'
    body = head * levels + leaf + tail * levels
    return '{"format": "chainrule.graph", "version": 1, ' + body[1:]


def test_deep_nesting_is_refused_without_recursion_error(tmp_path):
    with nothing_runs(tmp_path / "MARKER"):
        for levels in (40, 100_000):  # (beyond the depth limit; beyond what json can parse)
            with pytest.raises(GraphError, match="nested"):
                cr.graph.Graph.from_json(_nested_graph_json(levels))
        g = cr.graph.Graph.from_json(_nested_graph_json(30))  # within the limit: loads
        assert g.run_flat(2.0) == [2.0]


def _nest_in_code(levels: int, shared: bool) -> Graph:
    from chainrule.graph.control import cond_p

    def leaf() -> Graph:
        x = Var((), np.float64)
        return Graph([x], [], [x])

    g = leaf()
    for _ in range(levels):
        x, y = Var((), np.float64), Var((), np.float64)
        branches = (g, g) if shared else (g, leaf())
        g = Graph([x], [Eqn(cond_p, [Const(True), x], {"branches": branches}, [y])], [y])
    return g


def test_checking_nested_sub_graphs_is_linear():
    """Each sub-graph is checked once: no quadratic re-checking of deeper levels, no recursion
    (3000 levels), and a sub-graph shared by both branches at each of 200 levels (2**200 paths)
    is not checked once per path."""
    for levels, shared in ((3000, False), (200, True)):
        g = _nest_in_code(levels, shared)
        start = time.perf_counter()
        g.check()
        assert time.perf_counter() - start < 2.0
    # and loading checks each of the 1 + 2 * 30 graphs once (it used to check every level again
    # from each level above it: quadratic)
    calls = []
    real = Graph._check_own

    def counted(self):
        calls.append(self)
        return real(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Graph, "_check_own", counted)
        cr.graph.Graph.from_json(_nested_graph_json(30))
    assert len(calls) == len({id(g) for g in calls}) == 61


def test_a_while_loop_chain_cannot_blow_up_the_check(tmp_path):
    """while_loop_ad's `chain` doubles its results at each jvp step: forty steps would make
    2**40 while checking. Refused at once."""
    f = cr.grad(lambda a: cr.while_loop(lambda x: cnp.abs(x * x - a) > 1e-12,
                                        lambda x: 0.5 * (x + a / x), a))
    data = json.loads(cr.graph.trace(f, spec(())).to_json())
    again = cr.graph.Graph.from_json(json.dumps(data))  # (the real one loads)
    assert again.run_flat(4.0)[0] == pytest.approx(0.25)
    _eqn(data, "while_loop_ad")["params"]["chain"]["tuple"] += \
        [{"tuple": ["jvp", {"tuple": []}]}] * 40
    start = time.perf_counter()
    with nothing_runs(tmp_path / "MARKER"):
        with pytest.raises(GraphError, match="chain"):
            cr.graph.Graph.from_json(json.dumps(data))
    assert time.perf_counter() - start < 2.0


# ---------------------------------------------------------------------------------------------
# code generation, for graphs built in code too

def _resized(fn, shape_in, shape_out, big_in, big_out):
    """A graph file of `fn` whose declared shapes are rewritten to large ones."""
    d = json.loads(cr.graph.trace(fn, spec(shape_in)).to_json())
    d["inputs"][0]["shape"] = list(big_in)
    d["eqns"][0]["outputs"][0]["shape"] = list(big_out)
    return json.dumps(d)


@pytest.mark.parametrize("fn,small,big", [
    (cnp.linalg.inv, ((3, 3), (3, 3)), ((20000, 20000), (20000, 20000))),
    (lambda x: x[np.array([0, 1, 2, 3])], ((4, 8), (4, 8)), ((4, 2 ** 26), (4, 2 ** 26))),
    (lambda x: cnp.linalg.svd(x, compute_uv=False), ((3, 2), (2,)), ((8000, 6000), (6000,))),
], ids=["inv", "fancy-index", "svdvals"])
def test_declared_shapes_are_checked_without_building_arrays(fn, small, big):
    # (shape rules that ran NumPy on full-size probes took O(n^3) time or the result's memory)
    text = _resized(fn, small[0], small[1], big[0], big[1])
    tracemalloc.start()
    try:
        Graph.from_json(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2 ** 20


def test_an_elementwise_equation_with_the_wrong_number_of_operands_is_refused():
    d = json.loads(cr.graph.trace(lambda x, y: x * y, spec((2,)), spec((2,))).to_json())
    d["eqns"][0]["inputs"] = d["eqns"][0]["inputs"][:1]
    with pytest.raises(GraphError, match="mul"):
        Graph.from_json(json.dumps(d))


def test_generated_code_holds_no_text_from_the_graph(tmp_path):
    marker = tmp_path / "MARKER"
    x, y = Var((2, 3), np.float64), Var((3, 2), np.float64)
    from chainrule.ops.elementwise import tanh_p
    from chainrule.ops.linalg import einsum_p

    out = Var((2, 2), np.float64)
    g = Graph([x, y], [Eqn(einsum_p, [x, y], {"spec": "ij,jk->ik"}, [out])], [out]).check()
    with nothing_runs(marker):
        fn = g.compile()
        np.testing.assert_allclose(fn(np.ones((2, 3)), np.ones((3, 2))), [np.full((2, 2), 3.0)])
    assert "ij,jk->ik" not in fn.source and "spec=k0" in fn.source  # bound, not written
    # a string parameter value holding code: bound as a constant, never in the source
    g.eqns[0].params["spec"] = payload(marker)
    with nothing_runs(marker):
        fn = g.compile()
        with pytest.raises(ValueError):
            fn(np.ones((2, 3)), np.ones((3, 2)))  # (einsum refuses the specification)
    assert payload(marker) not in fn.source and "touch" not in fn.source
    # a parameter name holding code: refused, even for a graph that never was a file
    t = Var((2, 3), np.float64)
    for name in (payload(marker), "out", "x=1)\nimport os\n", "ａｘｉｓ", 3):
        g = Graph([x], [Eqn(tanh_p, [x], {name: None}, [t])], [t])
        with nothing_runs(marker):
            with pytest.raises(GraphError, match="has no parameter"):
                g.compile()


# ---------------------------------------------------------------------------------------------
# fuzzing: random corruptions of a valid file give a graph or a GraphError, nothing else

def _positions(node, path=()):
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _positions(v, path + (k,))
    elif isinstance(node, list):
        for k, v in enumerate(node):
            yield from _positions(v, path + (k,))


def _random_value(rng: random.Random, marker) -> object:
    deep: object = 0
    for _ in range(rng.choice([1, 5, 150])):
        deep = rng.choice([[deep], {"tuple": [deep]}, {"graph": deep}])
    return rng.choice([
        None, True, False, 0, -1, 7, 2 ** 40, 2 ** 70, 1.5, -0.0, float("nan"), float("inf"),
        "", "x", payload(marker), "<f8", "O", "tanh", "axis", [], {}, [1, 2], [[1]], {"int": 1},
        {"int": "1"}, {"float": "nan"}, {"float": "1e999"}, {"bool": 1}, {"tuple": "ab"},
        {"slice": [1]}, {"ellipsis": 1}, {"graph": []}, {"graph": {}}, {"var": 0},
        {"const": None}, {"id": "0", "shape": [], "dtype": "<f8"},
        {"array": [1], "dtype": "O", "shape": [1]}, {"array": 1, "dtype": "<f8", "shape": [2]},
        {payload(marker): 1}, deep,
    ])


def _mutate(data, rng: random.Random, marker) -> None:
    path = rng.choice(list(_positions(data))[1:])
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    action = rng.randrange(4)
    if action == 0:
        parent[key] = _random_value(rng, marker)
    elif action == 1:
        del parent[key]
    elif action == 2 and isinstance(parent, dict):
        parent[rng.choice([payload(marker), "extra", "params", "id"])] = \
            _random_value(rng, marker)
    else:
        parent[key] = [parent[key]] if rng.random() < 0.5 else {"tuple": parent[key]}


def test_fuzzed_graph_files_give_graph_error_only(tmp_path):
    marker = tmp_path / "MARKER"
    rng = random.Random(20240611)
    base = _valid()
    text = json.dumps(base)
    loaded = 0
    with nothing_runs(marker):
        for _ in range(1500):
            data = json.loads(text)
            for _ in range(rng.choice([1, 1, 2, 3])):
                _mutate(data, rng, marker)
            try:
                g = cr.graph.Graph.from_json(json.dumps(data))
            except GraphError:
                continue
            loaded += 1  # (a corruption that is still a valid graph: it compiles cleanly)
            assert payload(marker) not in g.compile().source
        for _ in range(500):  # and corrupted text
            chars = list(text)
            for _ in range(rng.choice([1, 2, 8])):
                k = rng.randrange(len(chars))
                chars[k] = rng.choice("{}[]\",:0123456789-.eE ntfa\\x\u00ff")
            cut = len(chars) if rng.random() < 0.8 else rng.randrange(len(chars))
            try:
                cr.graph.Graph.from_json("".join(chars[:cut]))
            except GraphError:
                pass
    assert loaded < 1500  # (the corruptions were mostly refused)


# ---------------------------------------------------------------------------------------------
# expressions: parse_expression and `chainrule explain`

HOSTILE_EXPRESSIONS = [
    "__import__('os').system('touch {m}')",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__",
    "(lambda: __import__('os').system('touch {m}'))()",
    "[__import__('os').system('touch {m}') for _ in (1,)]",
    "{{1: 2}}",
    "f'{{__import__(\"os\").system(\"touch {m}\")}}'",
    "sin(x)(1)",
    "exec('import os')",
    "eval('1')",
    "open('{m}', 'w')",
    "x if x else x",
    "(x := 1)",
    "'touch {m}'",
    "-" * 100_000 + "x",
    "(" * 100_000 + "x" + ")" * 100_000,
    "+".join(["x"] * 100_000),
    "1" * 5000,
]


@pytest.mark.parametrize("k", range(len(HOSTILE_EXPRESSIONS)))
def test_hostile_expressions_are_refused_and_run_nothing(k, tmp_path):
    marker = tmp_path / "MARKER"
    text = HOSTILE_EXPRESSIONS[k].format(m=marker)
    with nothing_runs(marker):
        with pytest.raises(ExpressionError):
            parse_expression(text, ["x"])(1.0)


def test_huge_exponents_neither_hang_nor_eat_memory(tmp_path):
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with nothing_runs(tmp_path / "MARKER"), np.errstate(all="ignore"):
            for text in ("9**9**9**9", "x**9**9**9**9", "(9**9)**(9**9)**(9**9)", "1e999**x"):
                assert parse_expression(text, ["x"])(2.0) == np.inf
            cr.explain(parse_expression("9**9**9**9 * x", ["x"]), 1.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 5.0 and peak < 50 * 2 ** 20


def _cli(*argv: str, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    code = "import sys; from chainrule.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          encoding="utf-8", timeout=120, cwd=cwd, env=env)


def test_cli_explain_refuses_hostile_expressions(tmp_path):
    marker = tmp_path / "MARKER"
    for text in ("__import__('os').system('touch {m}')",
                 "(lambda: __import__('os').system('touch {m}'))()"):
        res = _cli("explain", text.format(m=marker), "--at", "x=1", cwd=tmp_path)
        assert res.returncode == 2, res
        assert res.stderr.startswith("chainrule explain: expression refused")
        assert "Traceback" not in res.stderr and "Allowed are numbers" in res.stderr
        assert not marker.exists()
    res = _cli("explain", "9**9**9**9 * x", "--at", "x=1", cwd=tmp_path)  # computed, promptly
    assert res.returncode == 0 and "Reverse adjoint trace" in res.stdout
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------
# .npz files: headers checked before any data is read

def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 16, seed=0), nn.Tanh(), nn.Linear(16, 3, seed=0))


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _header(shape, descr="<f8", fortran=False) -> bytes:
    buf = io.BytesIO()  # (the magic string, then the header)
    npy.write_array_header_1_0(buf, {"descr": descr, "fortran_order": fortran, "shape": shape})
    return buf.getvalue()


def _archive(path, members: dict, model: nn.Module | None = None, compress=True) -> None:
    """An archive holding `model`'s state (unless replaced) and the raw `members`."""
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", mode) as zf:
        for name, array in (model.state_dict() if model is not None else {}).items():
            if name + ".npy" not in members:
                zf.writestr(name + ".npy", _npy(array))
        for name, content in members.items():
            if callable(content):
                with zf.open(name, "w", force_zip64=True) as fp:
                    content(fp)
            else:
                zf.writestr(name, content)


class _Unpickled:
    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _zeros_after(header: bytes, nbytes: int):
    def write(fp) -> None:
        fp.write(header)
        chunk = bytes(2 ** 20)
        for _ in range(nbytes // len(chunk)):
            fp.write(chunk)
    return write


def _load_guarded(model, path, marker, strict=True):
    tracemalloc.start()
    try:
        with nothing_runs(marker):
            return model.load(path, strict=strict)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 16 * 2 ** 20, f"loading used {peak} bytes"


def test_a_compressed_bomb_is_refused_before_it_inflates(tmp_path):
    marker, path = tmp_path / "MARKER", tmp_path / "bomb.npz"
    model = _model()
    # the header of the model's own shape, then 32 MB of zeros (compressed to ~33 kB)
    _archive(path, {"0.weight.npy": _zeros_after(_header(model[0].weight.shape), 2 ** 25)},
             model)
    assert path.stat().st_size < 2 ** 20
    with pytest.raises(ValueError, match=r"'0\.weight'.*header says float64\[6, 16\], 768 bytes, "
                                         r"but the member holds 33554432 bytes"):
        _load_guarded(model, path, marker)
    # a header of a huge shape: refused by its shape, naming the expected and the found one
    _archive(path, {"0.weight.npy": _zeros_after(_header((2 ** 14, 2 ** 14)), 2 ** 21)}, model)
    with pytest.raises(ValueError, match=r"'0\.weight' has shape \(6, 16\) in the model but "
                                         r"shape \(16384, 16384\)"):
        _load_guarded(model, path, marker)
    # an entry the model does not have: refused when strict, never even read when not
    _archive(path, {"extra.npy": _zeros_after(_header((2 ** 22,)), 2 ** 25)}, model)
    with pytest.raises(KeyError, match="'extra'"):
        _load_guarded(model, path, marker)
    fresh = _model()
    for p in fresh.parameters():
        p[...] = 0.0
    _load_guarded(fresh, path, marker, strict=False)
    np.testing.assert_array_equal(fresh[0].weight, model[0].weight)


@pytest.mark.parametrize("case,error,message", [
    ("object", TypeError, r"'0\.bias'.*dtype object.*numeric"),
    ("unicode", TypeError, r"'0\.bias'.*dtype <U8"),
    ("structured", TypeError, r"'0\.bias'.*dtype"),
    ("complex", TypeError, r"'0\.bias' \(in .*\) has dtype float64 in the model but complex128"),
    ("short", ValueError, r"'0\.bias'.*header says float64\[16\], 128 bytes, but the member "
                          r"holds 8 bytes"),
    ("bad header", ValueError, r"'0\.bias'.*not a \.npy array header"),
    ("not npy", ValueError, r"'evil\.pkl', which is not an array"),
    ("twice", ValueError, r"entry '0\.bias' twice"),
    ("missing", KeyError, r"no entry for parameter '0\.bias' of shape \(16,\)"),
    ("not a zip", ValueError, "not a .npz archive"),
    ("bad crc", ValueError, r"'0\.bias'.*the archive is damaged: Bad CRC-32"),
])
def test_hostile_npz_files_are_refused(case, error, message, tmp_path):
    marker, path = tmp_path / "MARKER", tmp_path / "hostile.npz"
    model = _model()
    evil = pickle.dumps(np.array([_Unpickled(marker)], dtype=object))
    members = {
        "object": {"0.bias.npy": _header((16,), "|O") + evil},
        "unicode": {"0.bias.npy": _npy(np.array(["touch"] * 16, dtype="<U8"))},
        "structured": {"0.bias.npy": _npy(np.zeros(16, dtype=[("a", "<f8"), ("b", "<i4")]))},
        "complex": {"0.bias.npy": _npy(np.zeros(16, dtype=complex))},
        "short": {"0.bias.npy": _header((16,)) + bytes(8)},
        "bad header": {"0.bias.npy": b"\x93NUMPY\x01\x00" + b"\x10\x00" + b"{'descr': __impo"},
        "not npy": {"evil.pkl": evil},
        "missing": {},
    }.get(case)
    if case == "twice":  # (zipfile warns but writes a second member of the same name)
        with zipfile.ZipFile(path, "w") as zf, pytest.warns(UserWarning, match="Duplicate"):
            for name, array in model.state_dict().items():
                zf.writestr(name + ".npy", _npy(array))
            zf.writestr("0.bias.npy", _npy(np.zeros(16)))
    elif case == "missing":
        state = model.state_dict()
        del state["0.bias"]
        np.savez(path, **state)
    elif case == "not a zip":
        path.write_bytes(evil)
    elif case == "bad crc":  # (one changed byte of the data, stored uncompressed)
        _archive(path, {"0.bias.npy": _npy(np.full(16, 1.25))}, model, compress=False)
        raw = path.read_bytes()
        one = np.full(1, 1.25).tobytes()
        k = raw.index(one)
        path.write_bytes(raw[:k] + np.full(1, 2.5).tobytes() + raw[k + len(one):])
    else:
        _archive(path, members, model)
    before = [p.copy() for p in model.parameters()]
    with pytest.raises(error, match=message):
        _load_guarded(model, path, marker)
    for p, q in zip(before, model.parameters()):  # nothing was copied
        np.testing.assert_array_equal(p, q)


def test_npz_files_save_writes_still_load(tmp_path):
    model, marker = _model(), tmp_path / "MARKER"
    path = model.save(tmp_path / "model")
    fresh = _model()
    for p in fresh.parameters():
        p[...] = 1.0
    _load_guarded(fresh, path, marker)
    for p, q in zip(model.parameters(), fresh.parameters()):
        np.testing.assert_array_equal(p, q)
    # a Fortran-ordered and a float32 array (which casts to the model's float64) load too
    w = np.asfortranarray(model[2].weight)
    np.savez_compressed(path, **{**model.state_dict(), "2.weight": w,
                                 "2.bias": model[2].bias.astype(np.float32)})
    _load_guarded(fresh, path, marker)
    np.testing.assert_array_equal(fresh[2].weight, model[2].weight)
    np.testing.assert_allclose(fresh[2].bias, model[2].bias, rtol=1e-6)
