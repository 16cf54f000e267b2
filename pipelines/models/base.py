"""The model-family interface: what cross-validation hands a family for one fold, and what the
family hands back."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pipelines.deadline import Deadline

if TYPE_CHECKING:
    import numpy as np
    import optuna
    import pandas as pd

    from pipelines.metrics import Metric

EpochCallback = Callable[[int, float], None]
TASKS = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class FoldData:
    """One fold: the rows to fit on, the rows to early-stop and score on, and the task.
    `y` are encoded targets (classes 0..k-1); `n_classes` is 0 for regression. Regression
    targets are already in the metric's training space (log1p for RMSLE, pipelines.targets):
    a family fits them as given and never transforms them again."""

    X_fit: pd.DataFrame
    y_fit: np.ndarray
    X_valid: pd.DataFrame
    y_valid: np.ndarray
    task: str
    n_classes: int
    metric: Metric


@dataclass(frozen=True)
class MemberFit:
    """What one member of a family learned on a fold, beyond its weights."""

    best_iteration: int  # trees or the best epoch
    params: dict[str, Any]  # settings that re-make the member
    device: str
    seconds: float = 0.0  # fitting time


@dataclass(frozen=True)
class Fitted:
    """A family's fitted fold: `state` is the family's own (what its `predict` reads),
    `members` describes each member by name, in the family's member order."""

    state: Any
    members: Mapping[str, MemberFit]


@runtime_checkable
class ModelFamily(Protocol):
    """One kind of model behind cross-validation, tuning, the CLI and the benchmarks.

    A family with several `members` (the hybrid) predicts each of them; cross-validation
    blends them by hill climbing on their out-of-fold predictions. `epoch_callbacks` says
    whether `fit_fold` calls the epoch callbacks (networks) or not (trees), so tuning knows
    what to prune on.
    """

    name: str
    description: str
    tasks: tuple[str, ...]
    members: tuple[str, ...]
    epoch_callbacks: bool
    # The shortest wall budget (seconds) a whole `compete train` of this family can keep on a
    # small table: interpreter, imports, data, and the first tree or batch of every fold.
    min_budget: float

    def default_params(self) -> dict[str, Any]:
        """The settings a run starts from; `params` given to fit_fold override them."""
        ...

    def check_params(self, params: Mapping[str, Any] | None) -> None:
        """Raise PipelinesError for params of the wrong shape, before any fold is fit."""
        ...

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        """The params that Optuna samples for one trial."""
        ...

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
        """Fit on fold.X_fit, early-stopped on fold.X_valid, stopping cleanly at `deadline`
        with the best model so far (at least one tree or epoch always runs)."""
        ...

    def predict(self, fitted: Fitted, X: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each member's raw outputs: values (regression), P(positive) (binary) or (n, k)
        probabilities over every class (multiclass)."""
        ...

    def result_params(self, members: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        """The params that re-make this family, from its members' params."""
        ...


def raw_predictions(
    model: Any, X: pd.DataFrame, task: str, n_classes: int, classes: np.ndarray | None = None
) -> np.ndarray:
    """A scikit-learn estimator's values (regression), P(positive) (binary), or (n, k)
    probabilities spread over all k classes even when a fold's train part lacked some.
    `classes` names the class of each probability column when the model was fit on
    renumbered labels; by default the model's own `classes_`."""
    import numpy as np

    if task == "regression":
        return np.asarray(model.predict(X), dtype=float)
    proba = np.asarray(model.predict_proba(X))
    if task == "binary":
        return proba[:, 1]
    full = np.zeros((len(X), n_classes))
    full[:, np.asarray(model.classes_ if classes is None else classes, dtype=int)] = proba
    return full


@dataclass(frozen=True)
class ModelState:
    """A one-model family's fitted fold: the estimator, and the task and class count that
    its predictions are read with."""

    model: Any
    task: str
    n_classes: int


class OneModelFamily:
    """What the families of one estimator share: their one member is named like the family,
    it takes the estimator's own defaults and checks unless a family says otherwise, and a
    `ModelState` is predicted through `raw_predictions`. A family sets its name, description,
    members, min_budget, search space and fit_fold, and overrides what differs."""

    name: str
    tasks = TASKS
    epoch_callbacks = False

    def default_params(self) -> dict[str, Any]:
        return {}  # the estimator's own defaults

    def check_params(self, params: Mapping[str, Any] | None) -> None:
        return None  # the estimator names its own unknown or bad settings when it fits

    def fitted(self, fold: FoldData, model: Any, member: MemberFit) -> Fitted:
        """The fold's model as this family's Fitted, read back by `predict`."""
        return Fitted(ModelState(model, fold.task, fold.n_classes), {self.name: member})

    def predict(self, fitted: Fitted, X: pd.DataFrame) -> dict[str, np.ndarray]:
        state = fitted.state
        return {self.name: raw_predictions(state.model, X, state.task, state.n_classes)}

    def result_params(self, members: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        return members[self.name]
