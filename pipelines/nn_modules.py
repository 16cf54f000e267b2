"""The tabular network: entity embeddings, numeric embeddings, an MLP or TabM backbone, a head."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import rtdl_num_embeddings
import tabm
import torch
from torch import Tensor, nn

BACKBONES = ("mlp", "tabm")
NUM_EMBEDDINGS = ("periodic", "piecewise", "none")


@dataclass(frozen=True)
class NetConfig:
    """Every architectural knob of `TabularNet`, built once from the estimator's parameters.

    Numeric inputs are `n_continuous` embedded columns followed by `n_indicators` raw 0/1
    missing-value indicators. `cat_cardinalities` count the missing row 0 of each table.
    """

    n_continuous: int
    n_indicators: int
    cat_cardinalities: tuple[int, ...]
    cat_dims: tuple[int, ...]
    d_out: int
    backbone: str = "tabm"
    num_embeddings: str = "periodic"
    d_embedding: int = 16
    n_blocks: int = 2
    d_block: int = 256
    dropout: float = 0.1
    k: int = 8

    @property
    def n_members(self) -> int:
        """How many predictions the network makes per row: k for TabM, 1 for the MLP."""
        return self.k if self.backbone == "tabm" else 1

    @property
    def embeds_numbers(self) -> bool:
        return self.num_embeddings != "none" and self.n_continuous > 0

    @property
    def d_features(self) -> list[int]:
        """The width of each feature's slice of the flat input, in input order."""
        d_number = self.d_embedding if self.embeds_numbers else 1
        return [d_number] * self.n_continuous + [1] * self.n_indicators + list(self.cat_dims)


def embedding_dim(cardinality: int) -> int:
    """fast.ai's rule of thumb for an entity embedding's width, capped at 16."""
    return max(1, min(16, round(1.6 * cardinality**0.56)))


class CategoricalEmbeddings(nn.Module):
    """One entity-embedding table per categorical column; row 0 is missing or unseen.

    (batch, n_cat) long codes -> (batch, sum(dims)): the columns' vectors side by side.
    """

    def __init__(self, cardinalities: tuple[int, ...], dims: tuple[int, ...]) -> None:
        super().__init__()
        self.tables = nn.ModuleList(
            nn.Embedding(n, d) for n, d in zip(cardinalities, dims, strict=True)
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([table(x[:, i]) for i, table in enumerate(self.tables)], dim=1)


def make_num_embeddings(config: NetConfig, bins: list[Tensor] | None) -> nn.Module | None:
    """PLR periodic or piecewise-linear embeddings, (batch, n) -> (batch, n, d_embedding)."""
    if not config.embeds_numbers:
        return None
    if config.num_embeddings == "periodic":
        return rtdl_num_embeddings.PeriodicEmbeddings(
            config.n_continuous, config.d_embedding, lite=False
        )
    if bins is None or len(bins) != config.n_continuous:
        raise ValueError("Piecewise-linear embeddings need one tensor of bin edges per column.")
    with warnings.catch_warnings():
        # A column with few distinct values has a single bin; that is fine here.
        warnings.simplefilter("ignore", UserWarning)
        # Version B starts as a linear embedding and learns the piecewise part (TabM paper).
        return rtdl_num_embeddings.PiecewiseLinearEmbeddings(
            bins, config.d_embedding, activation=False, version="B"
        )


class TabularNet(nn.Module):
    """Embeddings -> flat vector -> MLP or TabM (BatchEnsemble of k MLPs) -> linear head.

    forward(x_num (batch, n_continuous + n_indicators) float, x_cat (batch, n_cat) long)
    -> (batch, n_members, d_out) logits (or standardised values for regression).
    """

    def __init__(self, config: NetConfig, bins: list[Tensor] | None = None) -> None:
        super().__init__()
        self.config = config
        self.num_embeddings = make_num_embeddings(config, bins)
        self.cat_embeddings = (
            CategoricalEmbeddings(config.cat_cardinalities, config.cat_dims)
            if config.cat_cardinalities
            else None
        )
        d_in = sum(config.d_features)
        if config.backbone == "mlp":
            self.ensemble_view = None
            self.backbone = tabm.MLPBackbone(
                d_in=d_in, n_blocks=config.n_blocks, d_block=config.d_block, dropout=config.dropout
            )
            self.head = nn.Linear(config.d_block, config.d_out)
        else:
            self.ensemble_view = tabm.EnsembleView(k=config.k)
            # TabM's scaling init: random per feature chunk, 'normal' when numbers are embedded.
            self.backbone = tabm.make_tabm_backbone(
                d_in=d_in,
                n_blocks=config.n_blocks,
                d_block=config.d_block,
                dropout=config.dropout,
                k=config.k,
                arch_type="tabm",
                start_scaling_init="normal" if config.embeds_numbers else "random-signs",
                start_scaling_init_chunks=config.d_features,
            )
            self.head = tabm.LinearEnsemble(config.d_block, config.d_out, k=config.k)

    def forward(self, x_num: Tensor, x_cat: Tensor) -> Tensor:
        n_continuous = self.config.n_continuous
        parts = []
        if n_continuous:
            x_cont = x_num[:, :n_continuous]
            if self.num_embeddings is not None:
                x_cont = self.num_embeddings(x_cont).flatten(1)  # (batch, n * d_embedding)
            parts.append(x_cont)
        if self.config.n_indicators:
            parts.append(x_num[:, n_continuous:])
        if self.cat_embeddings is not None:
            parts.append(self.cat_embeddings(x_cat))
        x = torch.cat(parts, dim=1)  # (batch, d_in)
        if self.ensemble_view is None:
            return self.head(self.backbone(x)).unsqueeze(1)  # (batch, 1, d_out)
        x = self.ensemble_view(x)  # (batch, k, d_in): k views of the same row
        return self.head(self.backbone(x))  # (batch, k, d_out)
