"""A linear model (scikit-learn): logistic regression for classes, ridge regression for values,
on one-hot categories and quantile-normalised numbers. Alone it rarely leads a tabular table,
but its errors are unlike any tree's, so an ensemble beside boosted trees often weighs it (it
is AutoGluon's "LR" model, and on churn-like tables it is close to the best single model). It
costs about a second a fold.

Preprocessing, fit on each fold's train part only: numbers get their missing values imputed by
the median (with an indicator column each) and are mapped through their quantiles onto a
normal distribution (no outlier dominates a weight; on wide tables a signed log and standard
scaling instead); categories are one-hot encoded, those
seen fewer than MIN_FREQUENCY times folded into one "infrequent" column, unseen ones all
zero. The fit itself is not interruptible; its iterations are capped instead. It runs on one
BLAS thread: the solver's many small products each wake the pool, and with OpenMP threads
waiting passively (pipelines.threads) two threads took 70 times one's time on 8k rows.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pipelines.deadline import Deadline
from pipelines.models.base import Fitted, MemberFit, OneModelFamily, raw_predictions

if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from pipelines.models.base import EpochCallback, FoldData

# C, the inverse regularisation strength (ridge regression takes alpha = 1 / C).
DEFAULTS: dict[str, Any] = {"C": 1.0}
# A category seen fewer times than this on the fold's train part joins the infrequent column.
MIN_FREQUENCY = 10
# The solver's iteration cap (lbfgs): the fit ends within it whether converged or not.
MAX_ITER = 500
# Quantiles the number columns are mapped through (fewer when a fold has fewer rows).
N_QUANTILES = 1000
# Wider tables (a text column's n-gram counts) take log1p and standard scaling instead: the
# quantile maps of 2,016 columns took 6.3 s a fold on fine_foods (3,200 rows), the log 0.2 s,
# and counts gain nothing from them.
QUANTILE_MAX_COLUMNS = 256


def signed_log1p(values: Any) -> Any:
    """sign(v) log(1 + |v|): large values and counts compressed, zero kept at zero."""
    import numpy as np

    return np.sign(values) * np.log1p(np.abs(values))


def preprocessor(X: pd.DataFrame) -> Any:
    """The fold's column transformer: quantile-normalised numbers with missing indicators,
    one-hot categories (infrequent ones folded, unseen ones ignored)."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import (
        FunctionTransformer,
        OneHotEncoder,
        QuantileTransformer,
        StandardScaler,
    )

    categorical = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    numeric = [c for c in X.columns if c not in categorical]
    if len(numeric) <= QUANTILE_MAX_COLUMNS:
        scale = QuantileTransformer(
            n_quantiles=max(min(N_QUANTILES, len(X)), 2), output_distribution="normal"
        )
    else:
        scale = make_pipeline(FunctionTransformer(signed_log1p), StandardScaler())
    numbers = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True), scale
    )
    categories = OneHotEncoder(
        handle_unknown="infrequent_if_exist", min_frequency=MIN_FREQUENCY, sparse_output=False
    )
    return ColumnTransformer(
        [("numbers", numbers, numeric), ("categories", categories, categorical)],
        remainder="drop",
        sparse_threshold=0.0,
    )


def _categories_as_strings(X: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as string categories with missing values as their own level: the
    one-hot encoder's input (it refuses mixed NaN and strings in one column)."""
    import pandas as pd

    X = X.copy()
    for name in X.columns:
        if isinstance(X[name].dtype, pd.CategoricalDtype):
            X[name] = X[name].astype(str).where(X[name].notna(), "<missing>").astype("category")
    return X


class LinearFamily(OneModelFamily):
    """Logistic or ridge regression on one-hot categories and quantile-normalised numbers."""

    name = "linear"
    description = "Logistic / ridge regression on one-hot categories (scikit-learn)"
    members = ("linear",)
    min_budget = 5.0  # no torch, a second or two a fold

    def default_params(self) -> dict[str, Any]:
        return dict(DEFAULTS)

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {"C": trial.suggest_float("C", 1e-3, 1e2, log=True)}

    def seed_varies(self, params: Mapping[str, Any] | None) -> bool:
        """Never: the solver draws nothing from the seed, so bagging seeds repeats one model."""
        return False

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
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.pipeline import make_pipeline
        from threadpoolctl import threadpool_limits

        started = time.perf_counter()
        settings = {**DEFAULTS, **(params or {})}
        strength = float(settings["C"])
        if fold.task == "regression":
            estimator = Ridge(alpha=1.0 / strength, random_state=seed)
        else:
            estimator = LogisticRegression(C=strength, max_iter=MAX_ITER, random_state=seed)
        X = _categories_as_strings(fold.X_fit)
        model = make_pipeline(preprocessor(X), estimator)
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            # The capped solver ends where it is: what it has is the fold's model.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, fold.y_fit)
        member = MemberFit(
            best_iteration=_iterations(estimator),
            params=settings,
            device="cpu",
            seconds=time.perf_counter() - started,
        )
        return self.fitted(fold, model, member)

    def predict(self, fitted: Fitted, X: pd.DataFrame) -> dict[str, Any]:
        from threadpoolctl import threadpool_limits

        state = fitted.state
        with threadpool_limits(limits=1):
            values = raw_predictions(
                state.model, _categories_as_strings(X), state.task, state.n_classes
            )
        return {self.name: values}


def _iterations(estimator: Any) -> int:
    """The solver's iterations (logistic regression), 1 for a closed-form ridge."""
    n_iter = getattr(estimator, "n_iter_", None)
    return int(max(n_iter)) if n_iter is not None else 1


FAMILY = LinearFamily()
