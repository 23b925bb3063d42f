"""The layer rule (issue 10, section 4): each layer imports only the layers
below it -- spec <- impl <- oracle <- diff (litmus beside diff).  Read from
the source with ``ast``, every import, at any depth (a function-level
import counts too), absolute (``wpdiff.diff...``) or relative (``..diff``)."""

import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

ROOT = Path(__file__).resolve().parent.parent
# what each layer may import of the others
ALLOWED: Dict[str, Set[str]] = {
    "spec": set(),
    "impl": {"spec"},
    "oracle": {"spec", "impl"},
    "litmus": {"spec", "impl", "oracle"},
    "diff": {"spec", "impl", "oracle", "litmus"},
}


def _imports(path: Path, layer: str) -> List[tuple]:
    """(line, layer imported) for each import of a wpdiff layer in `path`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = [layer, *path.relative_to(ROOT / layer).parent.parts]
    found = []
    for node in ast.walk(tree):
        names: List[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level - 1 <= len(package) else []
                names = [".".join(["wpdiff", *base, *(node.module.split(".") if node.module else [])])]
                if not node.module:  # from .. import diff
                    names = [".".join(["wpdiff", *base, a.name]) for a in node.names]
            else:
                names = [node.module or ""]
        for name in names:
            parts = name.split(".")
            if parts[0] == "wpdiff" and len(parts) > 1 and parts[1] in ALLOWED:
                found.append((node.lineno, parts[1]))
    return found


def _files(layer: str) -> List[Path]:
    return sorted(p for p in (ROOT / layer).rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("layer", list(ALLOWED))
def test_a_layer_imports_only_the_layers_below_it(layer):
    if not (ROOT / layer).is_dir():
        pytest.skip(f"no {layer}/ layer in this tree")
    wrong = [f"{p.relative_to(ROOT)}:{line}: imports wpdiff.{other}" for p in _files(layer)
             for line, other in _imports(p, layer) if other != layer and other not in ALLOWED[layer]]
    assert not wrong, f"{layer} may import only {sorted(ALLOWED[layer]) or 'itself'}:\n" + "\n".join(wrong)


def test_the_rule_sees_relative_and_function_level_imports(tmp_path):
    """The checker itself: an import the rule forbids is found however it is spelled."""
    layer = tmp_path / "impl" / "fastpath"
    layer.mkdir(parents=True)
    (layer / "bad.py").write_text("def f():\n    from ...diff import report\n    import wpdiff.oracle.live\n"
                                  "from .. import layout\nfrom wpdiff.spec import ERAS\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = _imports(layer / "bad.py", "impl")
    finally:
        ROOT = saved
    assert sorted(found) == [(2, "diff"), (3, "oracle"), (4, "impl"), (5, "spec")]
