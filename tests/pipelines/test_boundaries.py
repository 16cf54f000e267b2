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


def test_openmp_threads_wait_passively_unless_the_user_says_otherwise():
    """Spinning OpenMP threads starve every other process on the machine (and the other
    families' threads in a portfolio): pipelines asks for passive waiting before any
    OpenMP runtime loads, and leaves a user's own setting alone."""
    import os

    code = "import os, pipelines, lightgbm; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "PASSIVE", out.stderr
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "ACTIVE", out.stderr
