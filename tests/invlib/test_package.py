"""invlib installs and exposes its documented public API."""

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

import invlib

#: The modules whose ``__all__`` names public classes.
PUBLIC_MODULES = ["invlib", "invlib.activations", "invlib.compose", "invlib.conv", "invlib.diagnose",
                  "invlib.errors", "invlib.flows", "invlib.inverse", "invlib.linear", "invlib.optimize",
                  "invlib.range_aware", "invlib.reshape", "invlib.reversible"]


def _public_classes() -> list[tuple[str, type]]:
    out: dict[type, str] = {}
    for mod_name in PUBLIC_MODULES:
        mod = importlib.import_module(mod_name)
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj) and not issubclass(obj, Warning):
                out.setdefault(obj, f"{mod_name}.{name}")
    return sorted(((v, k) for k, v in out.items()), key=lambda t: t[0])


def _undocumented_arguments(cls: type) -> list[str]:
    """Constructor arguments not named at the start of a line ``name:`` (or ``a, name:``) in the class docstring."""
    doc = inspect.getdoc(cls) or ""
    params = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return [p.name for p in params
            if not re.search(rf"^\s*(?:\w+,\s*)*{p.name}(?:,\s*\w+)*\s*:", doc, re.M)]


def test_public_names_exist_and_are_documented():
    for name in invlib.__all__:
        obj = getattr(invlib, name)
        assert inspect.getdoc(obj), f"invlib.{name} has no docstring"


def test_errors_are_value_errors():
    for err in (invlib.NotInvertibleError, invlib.DomainError, invlib.InvalidInputError):
        assert issubclass(err, ValueError)


def test_not_invertible_error_message_names_path_reason_and_remedy():
    err = invlib.NotInvertibleError("2.1", "ReLU", "many-to-one", "use invlib.optimize_inverse")
    assert str(err).startswith("2.1: ReLU is not invertible: many-to-one")
    assert "optimize_inverse" in str(err)
    assert (err.path, err.layer) == ("2.1", "ReLU")


@pytest.mark.parametrize(("name", "cls"), _public_classes(), ids=[n for n, _ in _public_classes()])
def test_every_public_constructor_documents_its_arguments(name: str, cls: type) -> None:
    assert not _undocumented_arguments(cls), (
        f"{name}: constructor arguments {_undocumented_arguments(cls)} are not documented in the class "
        "docstring (a 'Parameters' or 'Attributes' section with 'name:' and its shape/meaning)")


def test_the_argument_check_catches_an_undocumented_argument() -> None:
    class Documented:
        """Parameters
        ----------
        a, b:
            Things.
        """

        def __init__(self, a: int, b: int, c: int) -> None: ...

    assert _undocumented_arguments(Documented) == ["c"]


def test_flows_public_in_the_book_are_exported() -> None:
    from invlib.flows import MaskedAutoregressiveAffine, residual_logdet_estimate

    assert invlib.MaskedAutoregressiveAffine is MaskedAutoregressiveAffine
    assert invlib.residual_logdet_estimate is residual_logdet_estimate
    assert {"MaskedAutoregressiveAffine", "residual_logdet_estimate"} <= set(invlib.__all__)


def _invlib_imports() -> dict[str, set[str]]:
    """For every module of invlib, the invlib modules it imports at module level (from its source)."""
    root = Path(invlib.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in sorted(root.glob("*.py")):
        name = "invlib" if path.stem == "__init__" else f"invlib.{path.stem}"
        deps: set[str] = set()
        for node in ast.parse(path.read_text()).body:  # module level only: lazy imports in functions do not count
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("invlib."):
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("invlib."))
        graph[name] = deps
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for d in sorted(graph.get(n, ())):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state and (found := visit(d)):
                return found
        state[n] = 2
        stack.pop()
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_invlib_modules_import_in_no_loop() -> None:
    graph = _invlib_imports()
    assert "invlib.compose" in graph and graph["invlib.inverse"]  # the graph was read
    assert _cycle(graph) is None, f"import loop: {' -> '.join(_cycle(graph))}"
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_diagnose_and_composition_do_not_sit_on_the_inverse_stack() -> None:
    graph = _invlib_imports()

    def reach(n: str) -> set[str]:
        seen, todo = set(), [n]
        while todo:
            for d in graph.get(todo.pop(), ()):
                if d not in seen:
                    seen.add(d)
                    todo.append(d)
        return seen

    layer_inverses = {"invlib.inverse", "invlib.linear", "invlib.conv", "invlib.activations", "invlib.reshape",
                      "invlib.range_aware", "invlib.optimize"}
    assert not reach("invlib.diagnose") & layer_inverses, reach("invlib.diagnose")
    assert reach("invlib.compose") <= {"invlib.errors", "invlib.validation"}
