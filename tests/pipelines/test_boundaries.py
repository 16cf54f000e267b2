"""The ML core stands alone: no CLI, store or interview imports, and no heavy import at load."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pipelines

PACKAGE = Path(pipelines.__file__).parent


def test_pipelines_never_imports_the_other_packages():
    forbidden = {"compete", "leaderboards", "interview"}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"


def test_importing_the_modules_loads_no_lightgbm_or_torch():
    code = (
        "import sys, pipelines.metrics, pipelines.submission, pipelines.features, "
        "pipelines.folds, pipelines.cv; "
        "print(sorted(m for m in ('lightgbm', 'torch', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
