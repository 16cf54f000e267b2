#!/usr/bin/env bash
# Build the peers' benchmark environment (FLAML, AutoGluon) beside, never inside, the product's.
# Idempotent: a stamp file records a finished build; delete benchmarks/.peers-venv to rebuild.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${PEERS_VENV:-$HERE/.peers-venv}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.installed"
TORCH="torch==2.13.0"
# AutoGluon 1.6 pins torch<2.14,>=2.10, so the CPU wheel of 2.13.0 installed first satisfies it
# and pip pulls no CUDA build. [all] brings lightgbm, catboost, xgboost-cpu, fastai and ray.
PEERS=("flaml[automl]" "autogluon.tabular[all]")

if [[ -f "$STAMP" ]]; then
    echo "peers env ready: $VENV"
    exit 0
fi
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" show torch >/dev/null 2>&1 || "$VENV/bin/pip" install --quiet "$TORCH"
"$VENV/bin/pip" install --quiet "$TORCH" "${PEERS[@]}" pyarrow psutil
"$VENV/bin/python" -c "import flaml, autogluon.tabular, torch; print('torch', torch.__version__)"
touch "$STAMP"
echo "peers env ready: $VENV"
