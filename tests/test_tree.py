import dataclasses
from collections import namedtuple

import numpy as np
import pytest

import chainrule as cr


def test_roundtrip_of_nested_structures():
    P = namedtuple("P", "a b")
    t = {"x": [1.0, (2.0, None)], "y": P(3.0, {"z": 4.0}), 7: "s"}
    leaves, td = cr.tree.flatten(t)
    assert leaves == ["s", 1.0, 2.0, 3.0, 4.0]
    assert cr.tree.unflatten(td, leaves) == t
    assert cr.tree.tree_map(lambda v: v * 2 if isinstance(v, float) else v, t)["y"].a == 6.0


def test_register_custom_class():
    class Pair:
        def __init__(self, a, b):
            self.a, self.b = a, b

    cr.tree.register(Pair, lambda p: ((p.a, p.b), None), lambda aux, ch: Pair(*ch))
    leaves, td = cr.tree.flatten(Pair(1.0, [2.0]))
    assert leaves == [1.0, 2.0]
    p = cr.tree.unflatten(td, [5.0, 6.0])
    assert p.a == 5.0 and p.b == [6.0]
    with pytest.raises(Exception, match="already registered"):
        cr.tree.register(Pair, lambda p: ((), None), lambda aux, ch: None)


def test_register_dataclass_rejects_non_dataclass():
    with pytest.raises(TypeError, match="not a dataclass"):
        cr.tree.register_dataclass(int)


def test_dataclass_static_fields():
    @cr.tree.register_dataclass(meta_fields=["name"])
    @dataclasses.dataclass
    class Cfg:
        w: float
        name: str

    leaves, td = cr.tree.flatten(Cfg(1.0, "a"))
    assert leaves == [1.0]
    assert cr.tree.unflatten(td, [2.0]) == Cfg(2.0, "a")


def test_structure_mismatch_in_tree_map():
    with pytest.raises(ValueError, match="structure"):
        cr.tree.tree_map(lambda a, b: a, (1, 2), [1, 2])


def test_registering_a_built_in_type_is_refused():
    # (leaves like arrays and floats are checked before the registry, on the hot path)
    for cls in (float, np.ndarray, tuple, dict):
        with pytest.raises(cr.tree.RegistrationError, match="register a class of your own"):
            cr.tree.register(cls, lambda v: ((), None), lambda aux, ch: None)
