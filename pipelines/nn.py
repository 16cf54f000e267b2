"""PyTorch networks for tables as scikit-learn estimators, and their category-embedding transfer.

Categorical columns get entity embeddings, numeric columns periodic (PLR) or piecewise-linear
embeddings (rtdl_num_embeddings); an MLP or a TabM ensemble (tabm) sits on top. Architecture
lives in `pipelines.nn_modules`; this module owns preprocessing, training and the sklearn face.
torch is imported inside functions, so importing this module stays light.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from pipelines.errors import PipelinesError

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from pipelines.deadline import Deadline
    from pipelines.nn_modules import TabularNet

Callback = Callable[[int, float], None]

SCHEDULES = ("cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda")
PIECEWISE_BINS = 48
PREDICT_BATCH = 8192


# ---------------------------------------------------------------------------------------------
# Sizes chosen by the data
# ---------------------------------------------------------------------------------------------
def default_batch_size(n_rows: int) -> int:
    """64 for a few hundred rows up to 1024 from 100k rows: small data needs more steps."""
    for limit, size in ((1_000, 64), (5_000, 128), (20_000, 256), (100_000, 512)):
        if n_rows < limit:
            return size
    return 1024


def default_max_epochs(n_rows: int) -> int:
    """100 epochs up to 10k rows, then fewer (~18 at 300k rows) so a CPU can finish."""
    return int(np.clip(round(100 * math.sqrt(10_000 / max(n_rows, 1))), 10, 100))


# ---------------------------------------------------------------------------------------------
# Preprocessing: a table into (numbers, category codes)
# ---------------------------------------------------------------------------------------------
def _is_frame(X: Any) -> bool:
    return hasattr(X, "columns") and hasattr(X, "dtypes") and hasattr(X, "iloc")


def _is_categorical(column: pd.Series) -> bool:
    import pandas as pd

    return (
        isinstance(column.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(column)
        or pd.api.types.is_string_dtype(column)
    )


def _category_codes(column: pd.Series, categories: pd.Index) -> np.ndarray:
    """Codes 1..n into `categories`; 0 for missing and for values train never saw."""
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype) and column.cat.categories.equals(categories):
        codes = column.cat.codes.to_numpy()
    else:
        codes = categories.get_indexer(column.astype(object))  # -1: missing or unseen
    return codes.astype(np.int64) + 1


@dataclass(frozen=True)
class EncodedTable:
    """A table as tensors-to-be: `numbers` (n, n_continuous + n_indicators) float32 holds the
    quantile-normalised columns, then 0/1 missing indicators; `codes` (n, n_cat) int64."""

    numbers: np.ndarray
    codes: np.ndarray


class TableEncoder:
    """Learns from the train part how to turn a frame (or array) into an `EncodedTable`.

    Numeric columns: quantile transform to a normal, NaN -> 0 (the median) plus a missing
    indicator for each column that had NaN in train; a text column's n-gram counts are left
    out (they are for the trees; its components stay). Categorical columns (category, object or
    string dtype): codes 1..n of the train categories, 0 for missing and unseen.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def fit(self, X: pd.DataFrame | np.ndarray) -> TableEncoder:
        from sklearn.preprocessing import QuantileTransformer

        if _is_frame(X):
            import pandas as pd

            from pipelines.features import is_ngram_column

            self.columns = [c for c in X.columns if not is_ngram_column(c)]
            self.categorical = [c for c in self.columns if _is_categorical(X[c])]
            self.categories = {}
            for name in self.categorical:
                column = X[name]
                if isinstance(column.dtype, pd.CategoricalDtype):
                    self.categories[name] = column.cat.categories
                else:
                    self.categories[name] = pd.Index(sorted(column.dropna().unique(), key=str))
        else:
            self.columns = list(range(X.shape[1]))
            self.categorical, self.categories = [], {}
        self.numeric = [c for c in self.columns if c not in self.categories]
        numbers = self._numbers(X)
        missing = np.isnan(numbers)
        self.had_missing = missing.any(axis=0)
        # A column with no value at all in train carries nothing but its indicator.
        self.all_missing = missing.all(axis=0)
        numbers[:, self.all_missing] = 0.0
        self.quantiles = None
        if numbers.shape[1]:
            n = len(numbers)
            self.quantiles = QuantileTransformer(
                output_distribution="normal",
                n_quantiles=max(min(n // 30, 1000), min(n, 10)),
                subsample=1_000_000_000,
                random_state=self.seed,
            ).fit(numbers)
        return self

    @property
    def n_continuous(self) -> int:
        return len(self.numeric)

    @property
    def n_indicators(self) -> int:
        return int(self.had_missing.sum())

    def _numbers(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        if _is_frame(X):
            return X[self.numeric].to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        return np.asarray(X, dtype=np.float64).copy()

    def transform(self, X: pd.DataFrame | np.ndarray) -> EncodedTable:
        numbers = self._numbers(X)
        missing = np.isnan(numbers)
        numbers[:, self.all_missing] = 0.0
        if self.quantiles is not None:
            numbers = self.quantiles.transform(numbers)
        numbers = np.where(missing, 0.0, numbers)
        indicators = missing[:, self.had_missing].astype(np.float64)
        codes = np.zeros((len(numbers), len(self.categorical)), dtype=np.int64)
        for i, name in enumerate(self.categorical):
            codes[:, i] = _category_codes(X[name], self.categories[name])
        return EncodedTable(
            numbers=np.hstack([numbers, indicators]).astype(np.float32), codes=codes
        )


def piecewise_bins(numbers: np.ndarray, n_bins: int = PIECEWISE_BINS) -> list[torch.Tensor]:
    """Quantile bin edges per column (rtdl's compute_bins); a constant column gets one bin."""
    import torch
    from rtdl_num_embeddings import compute_bins

    X = torch.as_tensor(numbers, dtype=torch.float32)
    if len(X) < 3:  # too few rows for quantiles: one bin from the minimum to the maximum
        low, high = X.min(0).values, X.max(0).values
        return [
            torch.stack([lo, hi]) if lo < hi else torch.stack([lo - 1, lo + 1])
            for lo, hi in zip(low, high, strict=True)
        ]
    varies = [bool((X[:, j] != X[0, j]).any()) for j in range(X.shape[1])]
    computed = iter(
        compute_bins(X[:, varies], n_bins=min(n_bins, len(X) - 1)) if any(varies) else []
    )
    return [
        next(computed) if v else torch.tensor([float(X[0, j]) - 1.0, float(X[0, j]) + 1.0])
        for j, v in enumerate(varies)
    ]


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingPlan:
    """How one network is trained, resolved from the estimator's parameters and the data."""

    task: str  # binary | multiclass | regression
    batch_size: int
    max_epochs: int
    patience: int
    lr: float
    weight_decay: float
    schedule: str
    device: str
    amp_dtype: str | None  # "bfloat16" | "float16" | None (full precision)
    seed: int
    verbose: bool


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise PipelinesError(
            "device='cuda' was asked for but torch sees no CUDA GPU; use device='auto' or "
            "device='cpu'."
        )
    return device


def _amp_dtype(device: str) -> str | None:
    import torch

    if device != "cuda":
        return None
    return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"


def _autocast(plan_device: str, amp_dtype: str | None) -> contextlib.AbstractContextManager:
    import torch

    if amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=plan_device, dtype=getattr(torch, amp_dtype))


def _training_loss(task: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The mean of the members' losses; out is (batch, members, d_out)."""
    import torch.nn.functional as F

    out = out.float()
    members = out.shape[1]
    if task == "multiclass":
        return F.cross_entropy(out.flatten(0, 1), y.repeat_interleave(members))
    target = y[:, None].expand(-1, members)
    if task == "binary":
        return F.binary_cross_entropy_with_logits(out.squeeze(-1), target)
    return F.mse_loss(out.squeeze(-1), target)


def _ensemble_prediction(task: str, out: torch.Tensor) -> torch.Tensor:
    """Members averaged: probabilities (binary (n,), multiclass (n, C)) or values (n,)."""
    out = out.float()
    if task == "binary":
        return out.squeeze(-1).sigmoid().mean(1)
    if task == "multiclass":
        return out.softmax(-1).mean(1)
    return out.squeeze(-1).mean(1)


def _summed_loss(task: str, prediction: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The ensemble's loss summed over rows: log loss of averaged probabilities, or SSE."""
    eps = 1e-7
    if task == "binary":
        p = prediction.clamp(eps, 1 - eps)
        return -(y * p.log() + (1 - y) * (1 - p).log()).sum()
    if task == "multiclass":
        return -prediction.gather(1, y[:, None]).clamp_min(eps).log().sum()
    return (prediction - y).square().sum()


def predict_tensors(
    module: TabularNet,
    task: str,
    numbers: torch.Tensor,
    codes: torch.Tensor,
    amp_dtype: str | None,
) -> torch.Tensor:
    """The ensemble's predictions for whole tensors already on the module's device."""
    import torch

    module.eval()
    parts = []
    with torch.inference_mode(), _autocast(numbers.device.type, amp_dtype):
        for start in range(0, len(numbers), PREDICT_BATCH):
            end = start + PREDICT_BATCH
            parts.append(_ensemble_prediction(task, module(numbers[start:end], codes[start:end])))
    return torch.cat(parts)


@dataclass(frozen=True)
class TrainingResult:
    """What one training run learned beyond the weights: the per-epoch history."""

    history: list[dict[str, float]]
    best_epoch: int


def train_network(
    module: TabularNet,
    plan: TrainingPlan,
    train: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    valid: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    callbacks: Sequence[Callback] = (),
    deadline: Deadline | None = None,
) -> TrainingResult:
    """AdamW with a per-step cosine or one-cycle schedule, early stopping on `valid`'s loss.

    `train` and `valid` are (numbers, codes, y) tensors on the device. The best epoch's
    weights are loaded back into `module`. Each callback gets (epoch, valid_loss) after each
    epoch, 0-based; an exception raised by one stops training and propagates. Once
    `deadline` has passed (checked after each batch, as one epoch can outlast a whole budget
    on a CPU) the epoch ends there, is validated like any other, and training stops.
    """
    import torch

    device = plan.device
    numbers, codes, y = train
    n = len(y)
    steps_per_epoch = math.ceil(n / plan.batch_size)
    total_steps = steps_per_epoch * plan.max_epochs
    # fused: one CUDA kernel for every parameter's update instead of one per tensor
    optimizer = torch.optim.AdamW(
        module.parameters(),
        lr=plan.lr,
        weight_decay=plan.weight_decay,
        fused=True if device == "cuda" else None,
    )
    if plan.schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=plan.lr, total_steps=total_steps
        )
    else:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    scaler = torch.amp.GradScaler("cuda") if plan.amp_dtype == "float16" else None
    # Batches come from a seeded CPU generator, so the order repeats on any device.
    generator = torch.Generator().manual_seed(plan.seed)

    history: list[dict[str, float]] = []
    best_loss, best_epoch, best_state, waited = math.inf, -1, None, 0
    for epoch in range(plan.max_epochs):
        started = time.perf_counter()
        module.train()
        order = torch.randperm(n, generator=generator).to(device, non_blocking=True)
        total = torch.zeros((), device=device)
        seen, cut = 0, False
        for start in range(0, n, plan.batch_size):
            index = order[start : start + plan.batch_size]
            with _autocast(device, plan.amp_dtype):
                out = module(numbers[index], codes[index])
            loss = _training_loss(plan.task, out, y[index])
            optimizer.zero_grad(set_to_none=True)
            if scaler is None:
                loss.backward()
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            scheduler.step()
            total += loss.detach() * len(index)  # summed on the device: no sync per batch
            seen += len(index)
            if deadline is not None and deadline.passed():
                cut = True
                break
        prediction = predict_tensors(module, plan.task, valid[0], valid[1], plan.amp_dtype)
        valid_loss = float(_summed_loss(plan.task, prediction, valid[2])) / len(valid[2])
        train_loss = float(total) / seen
        seconds = time.perf_counter() - started
        history.append(
            {"epoch": epoch, "train_loss": train_loss, "valid_loss": valid_loss, "seconds": seconds}
        )
        if plan.verbose:
            print(
                f"epoch {epoch:3d}  train {train_loss:.5f}  valid {valid_loss:.5f}  {seconds:.2f}s"
            )
        if valid_loss < best_loss:
            best_loss, best_epoch, waited = valid_loss, epoch, 0
            best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        else:
            waited += 1
        for callback in callbacks:
            callback(epoch, valid_loss)
        if cut or waited >= plan.patience:
            break
    if best_state is None:
        raise PipelinesError(
            "Training diverged: the validation loss was never finite. Lower lr or check the "
            "target for extreme values."
        )
    module.load_state_dict(best_state)
    module.eval()
    return TrainingResult(history=history, best_epoch=best_epoch)


# ---------------------------------------------------------------------------------------------
# Estimators
# ---------------------------------------------------------------------------------------------
def _validation_split(
    n: int, fraction: float, seed: int, labels: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation row indices; stratified by `labels` when every class allows it."""
    from sklearn.model_selection import StratifiedShuffleSplit

    n_valid = min(max(round(fraction * n), 1), n - 1)
    if labels is not None:
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=n_valid, random_state=seed)
        try:
            train, valid = next(splitter.split(np.zeros(n), labels))
            return np.sort(train), np.sort(valid)
        except ValueError:  # a class with one row, or fewer rows than classes: plain split
            pass
    order = np.random.RandomState(seed).permutation(n)
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


def _take(X: Any, rows: np.ndarray) -> Any:
    return X.iloc[rows] if _is_frame(X) else X[rows]


class _TabularNet(BaseEstimator):
    """Shared fit/predict machinery; subclasses say how targets become labels and back."""

    def __init__(
        self,
        *,
        backbone: str = "tabm",
        num_embeddings: str = "periodic",
        d_embedding: int = 16,
        cat_embedding_dim: int | None = None,
        n_blocks: int = 2,
        d_block: int = 256,
        dropout: float = 0.1,
        k: int = 8,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        batch_size: int | None = None,
        max_epochs: int | None = None,
        patience: int = 8,
        schedule: str = "cosine",
        valid_fraction: float = 0.1,
        device: str = "auto",
        random_state: int | None = 0,
        verbose: bool = False,
    ) -> None:
        self.backbone = backbone
        self.num_embeddings = num_embeddings
        self.d_embedding = d_embedding
        self.cat_embedding_dim = cat_embedding_dim
        self.n_blocks = n_blocks
        self.d_block = d_block
        self.dropout = dropout
        self.k = k
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.schedule = schedule
        self.valid_fraction = valid_fraction
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # -- what subclasses provide --------------------------------------------------------------
    def _fit_target(self, y: np.ndarray) -> tuple[str, np.ndarray, int]:
        """(task, encoded y, d_out); sets the target's fitted attributes."""
        raise NotImplementedError

    def _encode_target(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # -- sklearn plumbing ---------------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        return tags

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        module = state.get("module_")
        if module is not None and any(p.device.type != "cpu" for p in module.parameters()):
            # Pickles hold CPU tensors, so a model trained on a GPU loads on any machine.
            state["module_"] = copy.deepcopy(module).cpu()
        return state

    def _check_params(self) -> None:
        from pipelines.nn_modules import BACKBONES, NUM_EMBEDDINGS

        choices = {
            "backbone": BACKBONES,
            "num_embeddings": NUM_EMBEDDINGS,
            "schedule": SCHEDULES,
            "device": DEVICES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name}={getattr(self, name)!r} is not one of {', '.join(allowed)}."
                )
        for name in ("d_embedding", "n_blocks", "d_block", "k", "patience"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer; got {getattr(self, name)}.")
        for name in ("cat_embedding_dim", "batch_size", "max_epochs"):
            value = getattr(self, name)
            if value is not None and int(value) < 1:
                raise ValueError(f"{name} must be None (chosen by data) or >= 1; got {value}.")
        if not 0.0 < self.valid_fraction < 1.0:
            raise ValueError(f"valid_fraction must lie in (0, 1); got {self.valid_fraction}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1); got {self.dropout}.")

    def _check_X(self, X: Any, *, reset: bool) -> Any:
        if _is_frame(X):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if len(X) < 1:
                raise ValueError("Found array with 0 sample(s); at least 1 is required.")
            return X
        return validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite="allow-nan")

    def _check_X_y(self, X: Any, y: Any) -> tuple[Any, np.ndarray]:
        if _is_frame(X):
            validate_data(self, X, y, skip_check_array=True)
            y = column_or_1d(y, warn=True)
            check_consistent_length(X, y)
        else:
            X, y = validate_data(
                self,
                X,
                y,
                dtype=np.float64,
                ensure_all_finite="allow-nan",
                ensure_min_samples=2,
            )
        if len(y) < 2:
            raise ValueError(f"Found 1 sample(s); {type(self).__name__} needs at least 2.")
        return X, y

    # -- fit --------------------------------------------------------------------------------
    def fit(
        self,
        X: pd.DataFrame | np.ndarray,
        y: Any,
        eval_set: tuple[Any, Any] | None = None,
        callbacks: Sequence[Callback] | None = None,
        deadline: Deadline | None = None,
    ) -> _TabularNet:
        """Train with early stopping on `eval_set` (X_valid, y_valid) or, without one, on a
        seeded (stratified) `valid_fraction` of the rows; the best epoch's weights are kept.

        X: a DataFrame (category/object/string columns get entity embeddings, the others are
        numeric, NaN allowed) or an array of numbers. `callbacks`: `cb(epoch, valid_loss)`
        after each epoch (0-based); an exception raised by one stops fit and propagates.
        `deadline` (pipelines.deadline): training stops once it passes, within the epoch,
        keeping the best epoch's weights.
        """
        import torch

        from pipelines.nn_modules import NetConfig, TabularNet, embedding_dim

        self._check_params()
        X, y = self._check_X_y(X, y)
        task, y_codes, d_out = self._fit_target(y)
        seed = (
            int(self.random_state)
            if self.random_state is not None
            else int(np.random.randint(0, 2**31 - 1))
        )

        if eval_set is not None:
            X_valid, y_valid = eval_set
            X_valid = self._check_X(X_valid, reset=False)
            y_valid = self._encode_target(column_or_1d(y_valid))
            X_train, y_train = X, y_codes
        else:
            stratify = y_codes if task != "regression" else None
            rows, valid_rows = _validation_split(len(y), self.valid_fraction, seed, stratify)
            X_train, y_train = _take(X, rows), y_codes[rows]
            X_valid, y_valid = _take(X, valid_rows), y_codes[valid_rows]

        encoder = TableEncoder(seed).fit(X_train)
        train_table, valid_table = encoder.transform(X_train), encoder.transform(X_valid)
        if task == "regression":
            # Standardised targets keep MSE and the learning rate on a common scale.
            self.y_mean_ = float(np.mean(y_train))
            self.y_scale_ = float(np.std(y_train)) or 1.0
            y_train = (y_train - self.y_mean_) / self.y_scale_
            y_valid = (y_valid - self.y_mean_) / self.y_scale_

        cardinalities = tuple(len(encoder.categories[c]) + 1 for c in encoder.categorical)
        config = NetConfig(
            n_continuous=encoder.n_continuous,
            n_indicators=encoder.n_indicators,
            cat_cardinalities=cardinalities,
            cat_dims=tuple(
                int(self.cat_embedding_dim) if self.cat_embedding_dim else embedding_dim(n)
                for n in cardinalities
            ),
            d_out=d_out,
            backbone=self.backbone,
            num_embeddings=self.num_embeddings,
            d_embedding=int(self.d_embedding),
            n_blocks=int(self.n_blocks),
            d_block=int(self.d_block),
            dropout=float(self.dropout),
            k=int(self.k),
        )
        device = _resolve_device(self.device)
        n_train = len(y_train)
        plan = TrainingPlan(
            task=task,
            batch_size=min(int(self.batch_size or default_batch_size(n_train)), n_train),
            max_epochs=int(self.max_epochs or default_max_epochs(n_train)),
            patience=int(self.patience),
            lr=float(self.lr),
            weight_decay=float(self.weight_decay),
            schedule=self.schedule,
            device=device,
            amp_dtype=_amp_dtype(device),
            seed=seed,
            verbose=bool(self.verbose),
        )
        y_dtype = torch.int64 if task == "multiclass" else torch.float32

        def tensors(table: EncodedTable, target: np.ndarray) -> tuple[torch.Tensor, ...]:
            return (
                torch.as_tensor(table.numbers, device=device),
                torch.as_tensor(table.codes, device=device),
                torch.as_tensor(target, dtype=y_dtype, device=device),
            )

        # fork_rng: seeding for init and dropout leaves the caller's global RNG untouched.
        with torch.random.fork_rng(
            devices=[torch.cuda.current_device()] if device == "cuda" else []
        ):
            torch.manual_seed(seed)
            bins = None
            if config.num_embeddings == "piecewise" and config.n_continuous:
                bins = piecewise_bins(train_table.numbers[:, : config.n_continuous])
            module = TabularNet(config, bins).to(device)
            result = train_network(
                module,
                plan,
                tensors(train_table, y_train),
                tensors(valid_table, y_valid),
                callbacks=list(callbacks or ()),
                deadline=deadline,
            )

        self.encoder_ = encoder
        self.config_ = config
        self.plan_ = plan
        self.module_ = module
        self.device_ = device
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.n_epochs_ = len(result.history)
        return self

    # -- predict ------------------------------------------------------------------------------
    def _predict_raw(self, X: Any) -> np.ndarray:
        """Ensemble predictions: probabilities (binary (n,), multiclass (n, C)) or values."""
        import torch

        check_is_fitted(self, "module_")
        X = self._check_X(X, reset=False)
        table = self.encoder_.transform(X)
        # A model trained on a GPU predicts on the CPU where no GPU is left.
        device = "cuda" if self.device_ == "cuda" and torch.cuda.is_available() else "cpu"
        module = self.module_.to(device)
        prediction = predict_tensors(
            module,
            self.plan_.task,
            torch.as_tensor(table.numbers, device=device),
            torch.as_tensor(table.codes, device=device),
            self.plan_.amp_dtype if device == "cuda" else None,
        )
        return prediction.cpu().numpy().astype(np.float64)

    # -- embeddings ---------------------------------------------------------------------------
    def category_embeddings(self) -> dict[str, tuple[list[Any], np.ndarray]]:
        """Each categorical column's categories and their learned vectors (n_categories, dim),
        rows in the order of the categories (the missing/unseen row 0 left out)."""
        check_is_fitted(self, "module_")
        tables = self._embedding_tables()
        return {
            name: (list(self.encoder_.categories[name]), table[1:])
            for name, table in tables.items()
        }

    def _embedding_tables(self) -> dict[str, np.ndarray]:
        """Full tables, row 0 (missing/unseen) first; TabM shares one table across members."""
        embeddings = self.module_.cat_embeddings
        if embeddings is None:
            return {}
        return {
            name: table.weight.detach().float().cpu().numpy().copy()
            for name, table in zip(self.encoder_.categorical, embeddings.tables, strict=True)
        }


class TabularNetClassifier(ClassifierMixin, _TabularNet):
    """A table classifier: entity + numeric embeddings into an MLP or TabM ensemble.

    Binary targets train with BCE on one logit, multiclass with cross-entropy; TabM averages
    its k members' losses in training and their probabilities at inference.
    """

    def _fit_target(self, y: np.ndarray) -> tuple[str, np.ndarray, int]:
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"The target has 1 class ({self.classes_[0]!r}); a classifier needs at least "
                "2 classes."
            )
        binary = len(self.classes_) == 2
        codes = self._encode_target(y)
        return ("binary" if binary else "multiclass"), codes, (1 if binary else len(self.classes_))

    def _encode_target(self, y: np.ndarray) -> np.ndarray:
        codes = np.searchsorted(self.classes_, y)
        codes = np.clip(codes, 0, len(self.classes_) - 1)
        unknown = self.classes_[codes] != y
        if np.any(unknown):
            raise ValueError(
                f"eval_set holds labels the training target lacks: {sorted(set(y[unknown]))}."
            )
        return codes.astype(np.float32 if len(self.classes_) == 2 else np.int64)

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """(n, n_classes) probabilities, columns in the order of `classes_`."""
        raw = self._predict_raw(X)
        if raw.ndim == 1:
            return np.column_stack([1.0 - raw, raw])
        return raw / raw.sum(axis=1, keepdims=True)  # float32 sums drift from 1 by ~1e-7

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class TabularNetRegressor(RegressorMixin, _TabularNet):
    """A table regressor: entity + numeric embeddings into an MLP or TabM ensemble.

    The target is standardised for training (MSE); predictions are on the original scale,
    the mean of TabM's k members.
    """

    def _fit_target(self, y: np.ndarray) -> tuple[str, np.ndarray, int]:
        y = np.asarray(y, dtype=np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError("The target holds NaN or infinite values; drop those rows first.")
        return "regression", y, 1

    def _encode_target(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(y, dtype=np.float64)

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        return self._predict_raw(X) * self.y_scale_ + self.y_mean_


# ---------------------------------------------------------------------------------------------
# Embedding transfer
# ---------------------------------------------------------------------------------------------
class CategoryEmbeddingTransformer(TransformerMixin, BaseEstimator):
    """A fitted network's category embeddings as numeric columns, e.g. for LightGBM.

    Each categorical column the network embedded becomes `dim` float columns `{col}__e{i}`
    (missing and unseen values get the network's missing row); other columns pass through.
    `keep_original=True` keeps the categorical column before its embedding columns.
    """

    def __init__(self, net: _TabularNet, keep_original: bool = False) -> None:
        self.net = net
        self.keep_original = keep_original

    def fit(self, X: pd.DataFrame | None = None, y: Any = None) -> CategoryEmbeddingTransformer:
        """Check that `net` is fitted and copy its embedding tables; X is not needed."""
        check_is_fitted(self.net, "module_")
        self.tables_ = self.net._embedding_tables()
        self.categories_ = {name: self.net.encoder_.categories[name] for name in self.tables_}
        names = getattr(self.net, "feature_names_in_", None)
        self.feature_names_in_ = None if names is None else np.asarray(names, dtype=object)
        self.n_features_in_ = self.net.n_features_in_
        return self

    def _output_names(self, columns: Sequence[Any]) -> list[str]:
        names: list[str] = []
        for column in columns:
            if column in self.tables_:
                if self.keep_original:
                    names.append(str(column))
                dim = self.tables_[column].shape[1]
                names.extend(f"{column}__e{i}" for i in range(dim))
            else:
                names.append(str(column))
        return names

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """X with each embedded categorical column replaced by its embedding columns."""
        import pandas as pd

        check_is_fitted(self, "tables_")
        if not _is_frame(X):
            if self.tables_:
                raise PipelinesError(
                    "CategoryEmbeddingTransformer.transform needs a DataFrame with the "
                    f"categorical columns {', '.join(map(str, self.tables_))}."
                )
            return X
        absent = [c for c in self.tables_ if c not in X.columns]
        if absent:
            raise PipelinesError(
                f"X lacks the categorical columns {', '.join(map(str, absent))} that the "
                "network embedded; pass the same columns it was trained on."
            )
        pieces: list[pd.DataFrame | pd.Series] = []
        for column in X.columns:
            if column not in self.tables_:
                pieces.append(X[column])
                continue
            if self.keep_original:
                pieces.append(X[column])
            codes = _category_codes(X[column], self.categories_[column])
            vectors = self.tables_[column][codes]
            names = [f"{column}__e{i}" for i in range(vectors.shape[1])]
            pieces.append(pd.DataFrame(vectors, columns=names, index=X.index))
        return pd.concat(pieces, axis=1)

    def get_feature_names_out(self, input_features: Sequence[Any] | None = None) -> np.ndarray:
        check_is_fitted(self, "tables_")
        if input_features is None:
            input_features = (
                self.feature_names_in_
                if self.feature_names_in_ is not None
                else [f"x{i}" for i in range(self.n_features_in_)]
            )
        return np.asarray(self._output_names(list(input_features)), dtype=object)
