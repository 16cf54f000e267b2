"""pipelines: the ML core (schema, features, metrics, folds, models, cross-validation, tuning,
blending, submissions); no CLI, no DB."""

import os

# OpenMP threads spin while they wait by default, and spinning threads take the cores from
# everything else that runs: beside one busy process, LightGBM's 5-fold CV on diamonds took
# 28.7 s instead of 6.1 s (2 cores), and a 60 s portfolio cut its first member. Passive waiting
# is set before any OpenMP runtime (LightGBM, torch, XGBoost, CatBoost) loads; a user's own
# setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
