"""Extremely randomised trees (scikit-learn's ExtraTreesClassifier / ExtraTreesRegressor;
Geurts, Ernst and Wehenkel, 2006): deep trees on random split thresholds, averaged. Unlike the
boosted families they neither early-stop nor correct each other's errors, which is what an
ensemble wants beside boosted trees (AutoGluon's best_quality runs them for that).

The trees grow in chunks (warm_start) until `n_estimators`, the deadline or the forest's
memory cap: a chunk starts only when the time left covers one more at the pace so far, and
the first always grows, so a fold always has a model. Categorical columns enter as their
category codes, missing values as NaN (the trees route them natively).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pipelines.deadline import Deadline
from pipelines.models.base import Fitted, MemberFit, OneModelFamily, raw_predictions
from pipelines.threads import available_cores

if TYPE_CHECKING:
    import numpy as np
    import optuna
    import pandas as pd

    from pipelines.models.base import EpochCallback, FoldData

# AutoGluon's XT defaults (300 trees, at most 15,000 leaves a tree, no bootstrap) and
# scikit-learn's own for the rest (classification: sqrt of the columns at each split;
# regression: every column).
DEFAULTS: dict[str, Any] = {"n_estimators": 300, "max_leaf_nodes": 15000}
# Trees grown per chunk, between deadline checks.
CHUNK = 20
# A fold's forest stops growing at this size (deep trees on 40k rows take ~2-3 MB each).
MAX_FOREST_MB = 512.0
_NODE_BYTES = 64  # scikit-learn's tree node record, before its value array


def as_matrix(X: pd.DataFrame) -> np.ndarray:
    """The frame as float32 columns: categories as their codes, missing values as NaN."""
    import numpy as np
    import pandas as pd

    columns = []
    for name in X.columns:
        column = X[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy().astype(np.float32)
            codes[codes < 0] = np.nan
            columns.append(codes)
        else:
            columns.append(column.to_numpy(dtype=np.float32, na_value=np.nan))
    return np.column_stack(columns) if columns else np.empty((len(X), 0), dtype=np.float32)


def forest_megabytes(model: Any) -> float:
    """The fitted trees' size: each node's record and its value array."""
    total = 0
    for tree in model.estimators_:
        values = tree.tree_.value
        total += tree.tree_.node_count * (_NODE_BYTES + values[0].size * values.itemsize)
    return total / 2**20


class ExtraTreesFamily(OneModelFamily):
    """scikit-learn's extremely randomised trees, grown in chunks until the deadline."""

    name = "extra_trees"
    description = "Extremely randomised trees (scikit-learn), grown until the deadline"
    members = ("extra_trees",)
    min_budget = 10.0  # like lgbm: no torch, one chunk of trees per fold

    def default_params(self) -> dict[str, Any]:
        return dict(DEFAULTS)

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {
            "max_features": trial.suggest_float("max_features", 0.1, 1.0),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 16, log=True),
        }

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
        from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

        started = time.perf_counter()
        settings = {**DEFAULTS, "n_jobs": available_cores(), **(params or {})}
        settings["random_state"] = seed
        wanted = int(settings.pop("n_estimators"))
        estimator = ExtraTreesRegressor if fold.task == "regression" else ExtraTreesClassifier
        model = estimator(**settings, n_estimators=0, warm_start=True)
        X, y = as_matrix(fold.X_fit), fold.y_fit
        grown, cap = 0, wanted
        while grown < min(wanted, cap):
            began = deadline.clock()
            model.set_params(n_estimators=min(grown + CHUNK, wanted, cap))
            model.fit(X, y)
            grown = len(model.estimators_)
            pace = deadline.clock() - began  # a chunk's seconds on the deadline's clock
            size = forest_megabytes(model)
            cap = max(grown, int(MAX_FOREST_MB / max(size / grown, 1e-9)))
            left = deadline.remaining()
            if deadline.bounded and (left <= 0 or left < pace):
                break
        member = MemberFit(
            best_iteration=grown,
            params={**settings, "n_estimators": grown},
            device="cpu",
            seconds=time.perf_counter() - started,
        )
        return self.fitted(fold, model, member)

    def predict(self, fitted: Fitted, X: pd.DataFrame) -> dict[str, np.ndarray]:
        state = fitted.state
        return {self.name: raw_predictions(state.model, as_matrix(X), state.task, state.n_classes)}


FAMILY = ExtraTreesFamily()
