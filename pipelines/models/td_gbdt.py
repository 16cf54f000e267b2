"""LightGBM with the meta-tuned "TD" defaults of pytabkit (Holzmüller et al., "Better by
Default", 2024): one early-stopped booster per fold, cut at its deadline by a callback.

The settings are pytabkit's `DefaultParams.LGBM_TD_CLASS` / `LGBM_TD_REG` in the names of
LightGBM's scikit-learn API (tests/pipelines/test_pytabkit_families.py checks them against
pytabkit). They are fit by pipelines.models.lgbm's booster rather than pytabkit's
LGBM_TD_Classifier because pytabkit calls `lightgbm.train` with its own callback only: no
deadline could reach it, and importing it costs torch and Lightning (seconds) for a tree model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pipelines.deadline import Deadline
from pipelines.gbdt import DEFAULT_LGBM_PARAMS, lgbm_space
from pipelines.models.base import EpochCallback, Fitted, FoldData, OneModelFamily
from pipelines.models.lgbm import fit_lgbm

if TYPE_CHECKING:
    import optuna

# pytabkit 1.8 DefaultParams.LGBM_TD_CLASS: lr 4e-2, subsample 0.75, colsample_bytree 1.0,
# num_leaves 50, bagging_freq 1, min_data_in_leaf 40, min_sum_hessian_in_leaf 1e-7,
# max_bin 255, n_estimators 1000, early_stopping_rounds 300.
TD_CLASSIFICATION: dict[str, Any] = {
    "n_estimators": 1000,
    "learning_rate": 0.04,
    "subsample": 0.75,
    "subsample_freq": 1,
    "colsample_bytree": 1.0,
    "num_leaves": 50,
    "min_child_samples": 40,
    "min_child_weight": 1e-7,
    "max_bin": 255,
    "early_stopping_rounds": 300,
}
# pytabkit 1.8 DefaultParams.LGBM_TD_REG: lr 5e-2, subsample 0.7, colsample_bytree 1.0,
# num_leaves 100, bagging_freq 1, min_data_in_leaf 3, min_sum_hessian_in_leaf 1e-7,
# max_bin 255, n_estimators 1000, early_stopping_rounds 300.
TD_REGRESSION: dict[str, Any] = {
    "n_estimators": 1000,
    "learning_rate": 0.05,
    "subsample": 0.7,
    "subsample_freq": 1,
    "colsample_bytree": 1.0,
    "num_leaves": 100,
    "min_child_samples": 3,
    "min_child_weight": 1e-7,
    "max_bin": 255,
    "early_stopping_rounds": 300,
}
# Ours, kept under the TD values: verbosity and bit-for-bit repeatable histograms (threads
# are chosen for the fit's data by fit_booster).
_ENGINE_KEYS = ("verbose", "deterministic", "force_col_wise")
_ENGINE = {key: DEFAULT_LGBM_PARAMS[key] for key in _ENGINE_KEYS}


def td_params(task: str) -> dict[str, Any]:
    """The task's TD settings, with our engine settings."""
    return {**_ENGINE, **(TD_REGRESSION if task == "regression" else TD_CLASSIFICATION)}


class LightGBMTDFamily(OneModelFamily):
    """LightGBM with pytabkit's meta-tuned defaults, early-stopped on each fold.

    default_params stays empty: td_params(task) applies when a fold is fit, as the TD values
    differ by task. No seed_varies, so the portfolio bags its seeds: the TD settings bag rows
    (subsample below 1 at every iteration), so another seed grows other trees."""

    name = "lgbm_td"
    description = "LightGBM with the meta-tuned TD defaults (pytabkit), early-stopped"
    members = ("lgbm_td",)
    min_budget = 10.0  # the same start-up as lgbm: no torch, the first tree of each fold

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return lgbm_space(trial)

    def fit_fold(
        self,
        fold: FoldData,
        params: Mapping[str, Any] | None,
        *,
        seed: int,
        device: str,
        deadline: Deadline,
        callbacks: Sequence[EpochCallback] = (),
    ) -> Fitted:
        td = {**td_params(fold.task), **(params or {})}
        return self.fitted(fold, *fit_lgbm(fold, td, seed=seed, deadline=deadline))


FAMILY = LightGBMTDFamily()
