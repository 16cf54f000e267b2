"""CVResult lives in pipelines.result: blend and cv no longer import each other."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pipelines

PACKAGE = Path(pipelines.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_blend_and_result_never_import_cv():
    assert "pipelines.cv" not in _imported_modules(PACKAGE / "blend.py")
    result = _imported_modules(PACKAGE / "result.py")
    assert not result & {"pipelines.cv", "pipelines.blend"}


def test_blend_imports_alone_and_cv_still_offers_cvresult():
    code = (
        "import sys, pipelines.blend; print('pipelines.cv' in sys.modules); "
        "from pipelines.cv import CVResult, as_metric_input; import pipelines.result as r; "
        "print(CVResult is r.CVResult and as_metric_input is r.as_metric_input)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
