"""The RealMLP family: pytabkit's RealMLP-TD (Holzmüller et al., "Better by Default", 2024), an
MLP with tuned defaults, fit on each fold's rows and checkpointed at its best epoch on the
fold's valid rows.

Deadline. RealMLP's learning rate, dropout and weight decay follow schedules over `n_epochs`,
and pytabkit offers no hook into its Lightning loop, only a hard time limit
(`time_to_fit_in_seconds`, Lightning's Timer) that would cut the schedule half way. So the
epochs are sized to the time left: the seconds per epoch (per row) and the start-up cost are
measured (a one-epoch fit, the probe, when nothing is known yet; afterwards from every fit,
kept per table shape and settings), and the fit gets as many epochs, up to its own, as end
before the deadline; the schedule then compresses over them. The Timer stays as a guard at
the deadline itself. A one-epoch probe is a complete model: when no more time is left, it is
the fold's model.

Device. "cuda" (or "auto" with a GPU) runs it on cuda:0. pytabkit offers no mixed precision for
RealMLP (only for TabM) and turns TF32 off itself for exact rounding, so none is forced here.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.deadline import Deadline
from pipelines.errors import PipelinesError
from pipelines.features import without_ngrams
from pipelines.models.base import Fitted, MemberFit, OneModelFamily, raw_predictions

if TYPE_CHECKING:
    import numpy as np
    import optuna
    import pandas as pd

    from pipelines.metrics import Metric
    from pipelines.models.base import EpochCallback, FoldData

TD_EPOCHS = 256  # RealMLP-TD's own schedule length
# Settings this family sets itself; a user's params may not (they would break the fold loop).
RESERVED = frozenset(
    {"device", "random_state", "n_cv", "n_refit", "n_repeats", "val_fraction", "tmp_folder",
     "verbosity", "val_metric_name", "train_metric_name"}
)  # fmt: skip
# A safety margin on the measured pace: the machine is shared and epochs vary.
PACE_MARGIN = 1.25

# The validation metric RealMLP picks its best epoch by (pytabkit's names, all minimized), and
# whether label smoothing stays on: pytabkit advises it off for probability metrics.
_VAL_METRICS: dict[str, tuple[str, bool]] = {
    "auc": ("1-auc_ovr", False),
    "logloss": ("cross_entropy", False),
    "multiclass_logloss": ("cross_entropy", False),
    "mae": ("mae", True),
}


def realmlp_space(trial: optuna.Trial) -> dict[str, Any]:
    """A small space around RealMLP-TD, after the paper's HPO space: width and depth, the
    learning rate, dropout, weight decay, and the numeric embedding."""
    return {
        "hidden_width": trial.suggest_categorical("hidden_width", [256, 384, 512]),
        "n_hidden_layers": trial.suggest_int("n_hidden_layers", 2, 4),
        "hidden_sizes": "rectangular",
        "lr": trial.suggest_float("lr", 2e-2, 3e-1, log=True),
        "p_drop": trial.suggest_categorical("p_drop", [0.0, 0.15, 0.3]),
        "wd": trial.suggest_categorical("wd", [0.0, 2e-2]),
        "num_emb_type": trial.suggest_categorical("num_emb_type", ["none", "pbld", "pl"]),
        "plr_sigma": trial.suggest_float("plr_sigma", 0.05, 0.5, log=True),
    }


def validation_metric(metric: Metric, task: str) -> tuple[str, dict[str, Any]]:
    """pytabkit's validation metric closest to the competition metric, and the settings that
    go with it."""
    name, smoothing = _VAL_METRICS.get(
        metric.name, ("rmse", True) if task == "regression" else ("class_error", True)
    )
    return name, ({} if smoothing or task == "regression" else {"use_ls": False})


def resolve_device(device: str) -> str:
    """pytabkit's device: "cuda:0" for "cuda" (or "auto" with a GPU), else "cpu"."""
    if device == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda:0"
    if device == "cuda":
        raise PipelinesError("device 'cuda' was asked for but torch sees no GPU; use auto or cpu.")
    return "cpu"


@dataclass
class _Pace:
    """Fitting cost on one table shape: fixed start-up seconds and seconds per row-epoch."""

    startup: float
    per_row_epoch: float

    def epochs_within(self, seconds: float, rows: int) -> int:
        return int((seconds / PACE_MARGIN - self.startup) / max(self.per_row_epoch * rows, 1e-9))


# Pace by (columns, device, settings), measured in this process: later folds of a table (and
# later trials) plan their epochs from what earlier fits took.
_PACES: dict[tuple[Any, ...], _Pace] = {}


def _learn_pace(
    key: tuple[Any, ...], probe: tuple[int, float] | None, fit: tuple[int, float], rows: int
) -> None:
    """Update the pace from (epochs, seconds) of the fold's probe and fit. With both, start-up
    and per-epoch cost separate; with one, the start-up is the one known before (at most half
    the fit: on a busy machine a measurement may shrink it), or half the fit."""
    epochs, seconds = fit
    if probe is not None and epochs > probe[0] and seconds > probe[1]:
        per_epoch = (seconds - probe[1]) / (epochs - probe[0])
        startup = max(probe[1] - per_epoch * probe[0], 0.0)
    else:
        known = _PACES.get(key)
        startup = min(known.startup if known else seconds / 2, seconds / 2)
        per_epoch = (seconds - startup) / max(epochs, 1)
    _PACES[key] = _Pace(startup, per_epoch / max(rows, 1))


def model_inputs(X: pd.DataFrame, medians: pd.Series) -> pd.DataFrame:
    """The frame RealMLP reads: pandas categories stay categories (pytabkit one-hot encodes or
    embeds them), numeric NaN become the fit rows' medians (RealMLP takes no missing
    numbers; a column missing everywhere becomes 0); a text column's n-gram counts are left
    to the trees."""
    X = without_ngrams(X)
    if len(medians) == 0:
        return X
    X = X.copy()
    X[medians.index] = X[medians.index].fillna(medians).fillna(0.0)
    return X


def _estimator(task: str) -> type:
    from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor

    return RealMLP_TD_Regressor if task == "regression" else RealMLP_TD_Classifier


def _fit_once(
    fold: FoldData,
    X_fit: pd.DataFrame,
    X_valid: pd.DataFrame,
    settings: dict[str, Any],
    n_epochs: int,
    limit: float | None,
) -> tuple[Any, float]:
    estimator = _estimator(fold.task)  # imported before the clock starts: the pace is the fit's
    started = time.perf_counter()
    model = estimator(**{**settings, "n_epochs": n_epochs})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's deprecation and data-loader notes
        model.fit(
            X_fit,
            fold.y_fit,
            X_val=X_valid,
            y_val=fold.y_valid,
            time_to_fit_in_seconds=None if limit is None else max(limit, 0.01),
        )
    return model, time.perf_counter() - started


def best_epoch(model: Any) -> int:
    """The epoch RealMLP kept (its best on the valid rows), counted from 0 as the nn family
    does; pytabkit counts from 1, its 0 being the initial weights (also reported as 0)."""
    params = getattr(model.alg_interface_, "fit_params", None) or [{}]
    stop = params[0].get("stop_epoch", 0)
    stop = next(iter(stop.values())) if isinstance(stop, dict) else stop
    return max(int(stop) - 1, 0)


def epochs_run(model: Any) -> int:
    """The epochs RealMLP trained (fewer than planned when the time guard stopped it)."""
    module = getattr(model.alg_interface_, "model", None)
    return int(getattr(getattr(module, "progress", None), "epoch", 0) or 0)


def fit_realmlp(
    fold: FoldData, params: Mapping[str, Any] | None, *, seed: int, device: str, deadline: Deadline
) -> tuple[Any, MemberFit, pd.Series]:
    """RealMLP-TD on the fold's fit rows, its best epoch chosen on the valid rows, with as many
    epochs as end before `deadline` (see the module's note); at least one epoch runs."""
    from pipelines.result import json_value

    started = time.perf_counter()
    place = resolve_device(device)
    medians = without_ngrams(fold.X_fit).select_dtypes("number").median()
    X_fit, X_valid = model_inputs(fold.X_fit, medians), model_inputs(fold.X_valid, medians)
    val_metric, extra = validation_metric(fold.metric, fold.task)
    user = dict(params or {})
    epochs = int(user.pop("n_epochs", TD_EPOCHS))
    settings = {
        **extra,
        **user,
        "device": place,
        "random_state": seed,
        "verbosity": 0,
        "val_metric_name": val_metric,
        # One thread: RealMLP's 256-wide layers gain little from a second, and on a busy
        # machine two threads ran a small fold 6x slower than one (measured).
        "n_threads": user.get("n_threads", 1),
    }
    rows = len(X_fit)
    key = (tuple(X_fit.columns), place, repr(sorted(user.items())), fold.task)
    probe: tuple[int, float] | None = None
    model = None
    if deadline.bounded and epochs > 1:
        if key not in _PACES:
            # Nothing known yet: a one-epoch fit measures the pace and is the fallback model.
            model, seconds = _fit_once(fold, X_fit, X_valid, settings, 1, None)
            probe = (1, seconds)
            _learn_pace(key, None, probe, rows)
        epochs = max(min(epochs, _PACES[key].epochs_within(deadline.remaining(), rows)), 1)
    if model is None or epochs > 1:
        limit = None  # one epoch always runs to its end
        if deadline.bounded and epochs > 1:
            # The guard (Lightning's Timer) starts after pytabkit's start-up: keep that back,
            # but never cut before the first epoch's end.
            pace = _PACES[key]
            limit = max(deadline.remaining() - pace.startup, pace.per_row_epoch * rows)
        model, seconds = _fit_once(fold, X_fit, X_valid, settings, epochs, limit)
        # A fit the guard cut short ran fewer epochs than planned: learn from those.
        _learn_pace(key, probe, (min(epochs_run(model), epochs) or epochs, seconds), rows)
    else:
        epochs = 1
    return (
        model,
        MemberFit(
            best_iteration=best_epoch(model),
            params=json_value({**user, "n_epochs": epochs}),
            device="cuda" if place.startswith("cuda") else "cpu",
            seconds=time.perf_counter() - started,
        ),
        medians,
    )


@dataclass(frozen=True)
class _State:
    model: Any
    medians: pd.Series
    task: str
    n_classes: int


class RealMLPFamily(OneModelFamily):
    """pytabkit's RealMLP-TD per fold, on CUDA when present, epochs sized to the deadline.
    Its default params are RealMLP-TD's own (pytabkit's DefaultParams), 256 epochs."""

    name = "realmlp"
    description = "RealMLP-TD (pytabkit), an MLP with meta-tuned defaults"
    members = ("realmlp",)
    # pytabkit's Lightning loop has no hook for per-epoch callbacks: tuning prunes per fold.
    epoch_callbacks = False
    # Its epochs are planned to end at the deadline it is given (the portfolio caps that step).
    fills_deadline = True
    # Measured on the 600-row churn practice set (tests/compete/test_budget.py), 5 folds:
    # importing pytabkit (torch, Lightning) takes 5 s on a quiet machine, 11 s on a busy one,
    # then a probe epoch and a fit per fold. Load 3 on 2 cores: `--budget 12s` wrote
    # submission.csv at 11.4 s, 20s at 16.0 s; load 6-8: 30s at 25-30 s (all within
    # budget x 1.05 + 5). 20 s leaves the import room on a busy machine.
    min_budget = 20.0

    def check_params(self, params: Mapping[str, Any] | None) -> None:
        reserved = sorted(RESERVED & set(params or {}))
        if reserved:
            raise PipelinesError(
                f"realmlp params {', '.join(reserved)} are set per fold by the family; "
                "remove them (use --device for the device and --seed for the seed)."
            )
        epochs = (params or {}).get("n_epochs", TD_EPOCHS)
        if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
            raise PipelinesError(f"realmlp n_epochs must be a whole number >= 1, got {epochs!r}.")

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return realmlp_space(trial)

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
        model, member, medians = fit_realmlp(
            fold, params, seed=seed, device=device, deadline=deadline
        )
        return Fitted(_State(model, medians, fold.task, fold.n_classes), {"realmlp": member})

    def predict(self, fitted: Fitted, X: pd.DataFrame) -> dict[str, np.ndarray]:
        state = fitted.state
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = raw_predictions(
                state.model, model_inputs(X, state.medians), state.task, state.n_classes
            )
        return {"realmlp": raw}


FAMILY = RealMLPFamily()
