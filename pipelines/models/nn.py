"""The network family: entity and numeric embeddings into an MLP or TabM (pipelines.nn), one
per fold, stopped at the end of the epoch that passes its deadline."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.deadline import Deadline
from pipelines.errors import PipelinesError
from pipelines.models.base import Fitted, MemberFit, OneModelFamily, raw_predictions

if TYPE_CHECKING:
    import numpy as np
    import optuna
    import pandas as pd

    from pipelines.models.base import EpochCallback, FoldData


def nn_space(trial: optuna.Trial) -> dict[str, Any]:
    """Network parameters sampled by `trial` (pipelines.nn.TabularNet*); epochs and batch size
    stay with the data-driven defaults and early stopping."""
    return {
        "backbone": trial.suggest_categorical("backbone", ["tabm", "mlp"]),
        "num_embeddings": trial.suggest_categorical(
            "num_embeddings", ["periodic", "piecewise", "none"]
        ),
        "d_embedding": trial.suggest_int("d_embedding", 8, 32, step=8),
        "n_blocks": trial.suggest_int("n_blocks", 1, 4),
        "d_block": trial.suggest_int("d_block", 64, 512, step=64),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "lr": trial.suggest_float("lr", 1e-4, 5e-3, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
    }


def resolve_device(device: str) -> str:
    """ "auto" as "cuda" when torch sees a GPU, else "cpu"; "cuda" without a GPU is refused."""
    if device == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise PipelinesError("device 'cuda' was asked for but torch sees no GPU; use auto or cpu.")
    return "cpu"


def fit_network(
    fold: FoldData,
    params: Mapping[str, Any] | None,
    *,
    seed: int,
    device: str,
    deadline: Deadline,
    callbacks: Sequence[EpochCallback] = (),
) -> tuple[Any, MemberFit]:
    """A network early-stopped on the fold's valid rows; `callbacks` run after each epoch, and
    training stops at `deadline` (within an epoch) keeping the best epoch's weights."""
    from pipelines.nn import TabularNetClassifier, TabularNetRegressor
    from pipelines.result import json_value

    started = time.perf_counter()
    estimator = TabularNetRegressor if fold.task == "regression" else TabularNetClassifier
    net = estimator(**{"random_state": seed, **(params or {}), "device": resolve_device(device)})
    net.fit(
        fold.X_fit,
        fold.y_fit,
        eval_set=(fold.X_valid, fold.y_valid),
        callbacks=list(callbacks),
        deadline=deadline if deadline.bounded else None,
    )
    return net, MemberFit(
        best_iteration=int(net.best_epoch_),
        params=json_value(net.get_params()),
        device=str(net.device_),
        seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class _State:
    net: Any
    task: str
    n_classes: int


class NetworkFamily(OneModelFamily):
    """A tabular network (pipelines.nn) per fold; `device` places it. Its default params are
    the estimator's own, sized by the data."""

    name = "nn"
    description = "a network on category and numeric embeddings (an MLP or TabM)"
    members = ("nn",)
    epoch_callbacks = True
    min_budget = 20.0

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return nn_space(trial)

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
        net, member = fit_network(
            fold, params, seed=seed, device=device, deadline=deadline, callbacks=callbacks
        )
        return Fitted(_State(net, fold.task, fold.n_classes), {"nn": member})

    def predict(self, fitted: Fitted, X: pd.DataFrame) -> dict[str, np.ndarray]:
        state = fitted.state
        return {"nn": raw_predictions(state.net, X, state.task, state.n_classes)}


FAMILY = NetworkFamily()
