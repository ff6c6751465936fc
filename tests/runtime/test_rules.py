"""The rules that let kfp copy runtime functions into components (see runtime/__init__.py)."""

import ast
import inspect

import pytest

from azml_components import runtime


@pytest.mark.parametrize("module", runtime.MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_a_runtime_module_holds_only_plain_functions(module):
    tree = ast.parse(inspect.getsource(module))
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            # typing is imported by every component's source; runtime names are embedded.
            assert node.module == "typing" or node.module.startswith("azml_components.runtime."), (
                node.module)
            continue
        if isinstance(node, ast.ClassDef):
            # A typed record: a NamedTuple of annotated fields, embedded ahead of the functions
            # (azml_components._component._with_records); no methods, no decorators.
            assert node.name.startswith("Azml"), node.name
            assert [ast.unparse(b) for b in node.bases] == ["NamedTuple"], node.name
            assert all(isinstance(item, ast.AnnAssign) for item in node.body), node.name
            assert not node.decorator_list, node.name
            continue
        assert isinstance(node, ast.FunctionDef), f"line {node.lineno}: only defs at top level"
        assert node.name.startswith("azml_"), node.name
        assert not node.decorator_list, node.name
        assert ast.get_docstring(node) is None, f"{node.name}: comments, not a docstring"


def test_module_order_is_dependency_order():
    # A module imports only modules listed before it in runtime.MODULES.
    position = {m.__name__: i for i, m in enumerate(runtime.MODULES)}
    for module in runtime.MODULES:
        for node in ast.parse(inspect.getsource(module)).body:
            if isinstance(node, ast.ImportFrom) and node.module in position:
                assert position[node.module] < position[module.__name__], (
                    module.__name__, node.module)


def test_every_runtime_module_is_listed():
    from pathlib import Path

    files = {p.stem for p in Path(runtime.__file__).parent.glob("*.py") if p.stem != "__init__"}
    assert files == {m.__name__.rsplit(".", 1)[-1] for m in runtime.MODULES}


@pytest.mark.parametrize("module", runtime.MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_no_runtime_function_is_over_80_lines(module):
    # A function a reader can hold at once; longer ones are split by phase (checks, reads,
    # writes, result), as deploy_model's and the batch components' are.
    tree = ast.parse(inspect.getsource(module))
    long = {node.name: node.end_lineno - node.lineno + 1 for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 80}
    assert long == {}
