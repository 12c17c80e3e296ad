"""The type stubs describe the runtime module."""

from __future__ import annotations

import ast
from pathlib import Path

import nearmatch

STUB = Path(nearmatch.__file__).with_name("__init__.pyi")


def _stub_names() -> dict[str, ast.AST]:
    tree = ast.parse(STUB.read_text())
    names: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    names[t.id] = node
    return names


def test_every_stub_name_exists_at_runtime():
    names = _stub_names()
    public = {n for n in names if not n.startswith("_") or n == "__version__"}
    missing = sorted(n for n in public if not hasattr(nearmatch, n))
    assert not missing, missing
    for name, node in names.items():
        if isinstance(node, ast.ClassDef):
            cls = getattr(nearmatch, name)
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not (
                        item.name.startswith("__") and item.name not in (
                        "__len__", "__sub__", "__iter__", "__bytes__", "__int__")):
                    assert hasattr(cls, item.name), f"{name}.{item.name}"


def test_every_runtime_export_is_stubbed():
    assert sorted(set(nearmatch.__all__) - set(_stub_names())) == []


def test_py_typed_marker():
    assert STUB.with_name("py.typed").exists()
