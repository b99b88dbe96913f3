"""The .pxd files declare every attribute their .py classes assign.

A compiled (cdef) class has exactly the attributes its .pxd declares: one
assigned in the .py but missing there works uncompiled and raises
AttributeError compiled. This check reads both files, so it also runs where
nothing is compiled.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from stateline.gateway import native

GATEWAY = Path(native.__file__).resolve().parent
_CDEF_CLASS = re.compile(r"^cdef class (\w+)", re.M)
_ATTRIBUTE = re.compile(r"^\s+cdef (?:public |readonly )?[\w.]+ (\w+)\s*$", re.M)


def _declared(pxd: str) -> dict[str, set[str]]:
    classes: dict[str, set[str]] = {}
    blocks = _CDEF_CLASS.split(pxd)
    for name, body in zip(blocks[1::2], blocks[2::2], strict=True):
        classes[name] = set(_ATTRIBUTE.findall(body))
    return classes


def _assigned(source: str) -> dict[str, set[str]]:
    classes: dict[str, set[str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            attrs = classes[node.name] = set()
            for sub in ast.walk(node):
                targets = (sub.targets if isinstance(sub, ast.Assign)
                           else [sub.target] if isinstance(sub, ast.AnnAssign | ast.AugAssign)
                           else [])
                for t in targets:
                    for el in (t.elts if isinstance(t, ast.Tuple) else [t]):
                        if isinstance(el, ast.Attribute) and isinstance(el.value, ast.Name) \
                                and el.value.id == "self":
                            attrs.add(el.attr)
    return classes


#: Hot modules whose .pxd declares extension classes (the others only type functions).
CLASS_MODULES = [m for m in native.HOT_MODULES
                 if _CDEF_CLASS.search(native.source_path(GATEWAY, m, ".pxd").read_text())]


def test_the_check_sees_a_missing_declaration() -> None:
    src = "class A:\n    def __init__(self):\n        self.x = 1\n        self.y, self.z = 2, 3\n"
    assert _assigned(src)["A"] - _declared("cdef class A:\n    cdef public int x\n")["A"] \
        == {"y", "z"}


@pytest.mark.parametrize("module", CLASS_MODULES)
def test_every_assigned_attribute_is_declared(module: str) -> None:
    declared = _declared(native.source_path(GATEWAY, module, ".pxd").read_text())
    assigned = _assigned(native.source_path(GATEWAY, module).read_text())
    for cls, attrs in declared.items():
        missing = assigned[cls] - attrs
        assert not missing, f"{module}.{cls}: declare {sorted(missing)} in {module}.pxd"


@pytest.mark.parametrize("module", CLASS_MODULES)
def test_compiled_classes_have_no_class_level_defaults(module: str) -> None:
    """Instance defaults cannot live at class level in a compiled class (ClassVar ones can)."""
    declared = _declared(native.source_path(GATEWAY, module, ".pxd").read_text())
    for node in ast.parse(native.source_path(GATEWAY, module).read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name in declared:
            for stmt in node.body:
                if isinstance(stmt, ast.AnnAssign) and "ClassVar" in ast.unparse(stmt.annotation):
                    continue
                if isinstance(stmt, ast.Assign | ast.AnnAssign):
                    names = [t.id for t in getattr(stmt, "targets", [getattr(stmt, "target", None)])
                             if isinstance(t, ast.Name)]
                    assert names == ["__slots__"], f"{module}.{node.name}: {names} at class level"
