#!/usr/bin/env bash
# Build the peers' benchmark environment (FLAML, AutoGluon) beside, never inside, the product's.
# Idempotent: a stamp file records a finished build; delete benchmarks/.peers-venv to rebuild.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${PEERS_VENV:-$HERE/.peers-venv}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.installed"
TORCH="torch==2.13.0+cpu"
# AutoGluon 1.6 pins torch<2.14,>=2.10, so the CPU wheel of 2.13.0 satisfies it; the constraints
# file holds torch at that build through every step, so pip pulls no CUDA build.
# [all] brings lightgbm, catboost, xgboost-cpu, fastai and ray.
CONSTRAINTS="$HERE/peers-constraints.txt"
PEERS=("flaml[automl]" "autogluon.tabular[all]")

if [[ -f "$STAMP" ]]; then
    echo "peers env ready: $VENV"
    exit 0
fi
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" show torch >/dev/null 2>&1 || "$VENV/bin/pip" install --quiet -c "$CONSTRAINTS" "$TORCH"
"$VENV/bin/pip" install --quiet -c "$CONSTRAINTS" "$TORCH" "${PEERS[@]}" pyarrow psutil
"$VENV/bin/python" -c "import flaml, autogluon.tabular, torch; print('torch', torch.__version__)"
# xgboost's Linux wheel asks for nvidia-nccl-cu12, which it opens only for multi-GPU training
# (dlopen since 2.1): on CPU it is dead weight, so it goes.
"$VENV/bin/pip" uninstall --quiet --yes nvidia-nccl-cu12 2>/dev/null || true
# The list first, then grep: with pipefail, `pip list | grep -q` fails when grep stops early.
INSTALLED="$("$VENV/bin/pip" list 2>/dev/null)"
if grep -qi '^nvidia-' <<<"$INSTALLED"; then
    echo "peers env pulled CUDA wheels (nvidia-*): check $CONSTRAINTS" >&2
    exit 1
fi
touch "$STAMP"
echo "peers env ready: $VENV"
