"""The type stubs describe the runtime modules: same names, same parameters."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import nearmatch

STUB = Path(nearmatch.__file__).with_name("__init__.pyi")


def _stub_names(stub: Path = STUB) -> dict[str, ast.AST]:
    tree = ast.parse(stub.read_text())
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


def _stub_params(fn: ast.FunctionDef) -> list[tuple[str, str, bool]]:
    """(name, kind, has default) of a stub's parameters, as inspect names the kinds."""
    a = fn.args
    out = []
    positional = a.posonlyargs + a.args
    first_default = len(positional) - len(a.defaults)
    for i, p in enumerate(positional):
        kind = "POSITIONAL_ONLY" if p in a.posonlyargs else "POSITIONAL_OR_KEYWORD"
        out.append((p.arg, kind, i >= first_default))
    if a.vararg:
        out.append((a.vararg.arg, "VAR_POSITIONAL", False))
    for p, d in zip(a.kwonlyargs, a.kw_defaults):
        out.append((p.arg, "KEYWORD_ONLY", d is not None))
    if a.kwarg:
        out.append((a.kwarg.arg, "VAR_KEYWORD", False))
    return out


def _runtime_params(obj) -> list[tuple[str, str, bool]] | None:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):  # native functions without a text signature
        return None
    return [(p.name, p.kind.name, p.default is not inspect.Parameter.empty)
            for p in sig.parameters.values()]


@pytest.mark.parametrize("module", ["nearmatch", "nearmatch.dask", "nearmatch.imagehash"])
def test_stub_signatures_match_runtime(module):
    if module == "nearmatch.dask":
        pytest.importorskip("dask.dataframe")
    mod = importlib.import_module(module)
    stub = Path(mod.__file__).with_suffix(".pyi")
    checked = 0
    for name, node in _stub_names(stub).items():
        targets = []
        if isinstance(node, ast.FunctionDef):
            targets.append((name, node, getattr(mod, name)))
        elif isinstance(node, ast.ClassDef):
            cls = getattr(mod, name)
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not item.name.startswith("__"):
                    decorators = {getattr(d, "id", "") for d in item.decorator_list}
                    if "property" in decorators:
                        continue
                    targets.append((f"{name}.{item.name}", item, getattr(cls, item.name)))
        for qual, fn, obj in targets:
            runtime = _runtime_params(obj)
            if runtime is None:
                continue
            stub_params = _stub_params(fn)
            # self/cls: absent from bound classmethods, positional-only on native methods.
            if stub_params and stub_params[0][0] in ("self", "cls"):
                stub_params = stub_params[1:]
            if runtime and runtime[0][0] in ("self", "cls"):
                runtime = runtime[1:]
            assert stub_params == runtime, qual
            checked += 1
    assert checked >= 2


def test_imagehash_stub_names_match_runtime():
    mod = importlib.import_module("nearmatch.imagehash")
    names = _stub_names(Path(mod.__file__).with_suffix(".pyi"))
    public = {n for n in names if not n.startswith("_") or n in ("__version__", "__all__")}
    assert sorted(n for n in public if not hasattr(mod, n)) == []
    assert sorted(set(mod.__all__) - set(names)) == []
    for name, node in names.items():
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    assert hasattr(getattr(mod, name), item.name), f"{name}.{item.name}"


def test_py_typed_marker():
    assert STUB.with_name("py.typed").exists()
