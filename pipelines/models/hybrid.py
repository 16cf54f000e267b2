"""The hybrid family: per fold, a network, then LightGBM on the network's category embeddings
(numeric columns kept); cross-validation blends the two by hill climbing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.deadline import Deadline
from pipelines.errors import PipelinesError
from pipelines.gbdt import lgbm_space
from pipelines.models.base import TASKS, EpochCallback, Fitted, FoldData, MemberFit, raw_predictions
from pipelines.models.lgbm import fit_booster, lgbm_settings
from pipelines.models.nn import fit_network, nn_space

if TYPE_CHECKING:
    import numpy as np
    import optuna
    import pandas as pd

# The network takes this share of a fold's time; LightGBM on its embeddings the rest, as
# boosting on a few thousand rows is far quicker than the network's epochs.
NETWORK_SHARE = 0.75


def hybrid_space(trial: optuna.Trial) -> dict[str, Any]:
    """Both spaces at once (their parameter names do not overlap), grouped as the hybrid
    model's params."""
    return {"nn": nn_space(trial), "lgbm": lgbm_space(trial)}


def split_params(params: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The hybrid's {"nn": {...}, "lgbm": {...}} as the two groups."""
    params = dict(params or {})
    unknown = set(params) - {"nn", "lgbm"}
    if unknown:
        raise PipelinesError(
            f"hybrid params take two groups, 'nn' and 'lgbm'; got also {sorted(unknown)}: "
            'pass {"nn": {...}, "lgbm": {...}}.'
        )
    return dict(params.get("nn") or {}), dict(params.get("lgbm") or {})


@dataclass(frozen=True)
class _State:
    net: Any
    embed: Any  # pipelines.nn.CategoryEmbeddingTransformer
    booster: Any
    task: str
    n_classes: int


class HybridFamily:
    """A network and LightGBM on its embeddings, fitted on the same fold and blended."""

    name = "hybrid"
    description = "the network and LightGBM on its category embeddings, blended"
    tasks = TASKS
    members = ("nn", "lgbm_emb")
    epoch_callbacks = True
    min_budget = 20.0

    def default_params(self) -> dict[str, Any]:
        from pipelines.models.lgbm import FAMILY as LGBM

        return {"nn": {}, "lgbm": LGBM.default_params()}

    def check_params(self, params: Mapping[str, Any] | None) -> None:
        split_params(params)

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        return hybrid_space(trial)

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
        from pipelines.nn import CategoryEmbeddingTransformer

        nn_params, lgbm_params = split_params(params)
        net, net_fit = fit_network(
            fold,
            nn_params,
            seed=seed,
            device=device,
            deadline=deadline.share(NETWORK_SHARE),
            callbacks=callbacks,
        )
        embed = CategoryEmbeddingTransformer(net).fit()
        settings, patience = lgbm_settings(
            lgbm_params, seed=seed, task=fold.task, n_classes=fold.n_classes, metric=fold.metric
        )
        booster, booster_fit = fit_booster(
            settings,
            patience,
            fold.task,
            embed.transform(fold.X_fit),
            fold.y_fit,
            embed.transform(fold.X_valid),
            fold.y_valid,
            deadline,
        )
        state = _State(net, embed, booster, fold.task, fold.n_classes)
        members: dict[str, MemberFit] = {"nn": net_fit, "lgbm_emb": booster_fit}
        return Fitted(state, members)

    def predict(self, fitted: Fitted, X: pd.DataFrame) -> dict[str, np.ndarray]:
        s = fitted.state
        return {
            "nn": raw_predictions(s.net, X, s.task, s.n_classes),
            "lgbm_emb": raw_predictions(s.booster, s.embed.transform(X), s.task, s.n_classes),
        }

    def result_params(self, members: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        # The params re-make this hybrid; the blend itself is in blend_weights.
        return {"nn": members["nn"], "lgbm": members["lgbm_emb"]}


FAMILY = HybridFamily()
