"""Feature preparation: train/test frames into model inputs, the task and the encoded target."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.errors import PipelinesError
from pipelines.text import EmbeddingTooSlow, TextEmbedder, as_text

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.schema import Schema

TASKS = ("binary", "multiclass", "regression")
MAX_INTEGER_CLASSES = 20  # an integer target with more distinct values is treated as regression

# A text column also becomes counts of its most frequent words and word pairs and triples,
# for the trees: on the fine-food reviews LightGBM reached 0.84 test AUC on them against 0.72
# on the embedding's components alone. At most MAX_NGRAMS per column, fewer on long tables
# (MAX_NGRAM_CELLS train and test values in all, float32), each in at least
# NGRAM_MIN_SHARE of the train rows (and at least 3).
MAX_NGRAMS = 2000
MAX_NGRAM_CELLS = 50_000_000
NGRAM_MIN_SHARE = 0.005
_NGRAM = re.compile(r"__ngram\d+$")


def is_ngram_column(name: Any) -> bool:
    """Whether a prepared column is an n-gram count (`{text column}__ngram{i}`)."""
    return isinstance(name, str) and _NGRAM.search(name) is not None


def without_ngrams(X: pd.DataFrame) -> pd.DataFrame:
    """The frame without its n-gram count columns: what the networks read (thousands of
    sparse counts would cost them more than the text components already say)."""
    counts = [c for c in X.columns if is_ngram_column(c)]
    return X.drop(columns=counts) if counts else X


@dataclass(frozen=True)
class Prepared:
    """Model inputs: features, the encoded target, test features and ids, the task, the classes.

    `y` is 0/1 for binary (1 = the second of the sorted labels), 0..k-1 for multiclass (codes
    into `classes`), floats for regression; `classes` is None for regression. `categorical`
    names the columns of X that are pandas categories, `numeric` the numbers (float64; a text
    column's n-gram counts float32); `schema`
    says what each input column was.
    """

    X: pd.DataFrame
    y: np.ndarray
    X_test: pd.DataFrame
    test_ids: np.ndarray
    task: str
    classes: tuple[Any, ...] | None
    schema: Schema | None = None
    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value, so that labels survive JSON."""
    return value.item() if isinstance(value, np.generic) else value


def infer_task(target: pd.Series) -> str:
    """binary for two distinct values; multiclass for labels or a few integer grades; else
    regression."""
    import pandas as pd

    values = target.dropna()
    distinct = values.nunique()
    if distinct == 2:
        return "binary"
    if distinct < 2:
        raise PipelinesError(
            f"The target {target.name!r} has {distinct} distinct value(s); nothing to learn."
        )
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "multiclass"
    numbers = values.to_numpy(dtype=float)
    integer_like = bool(np.all(numbers == np.round(numbers)))
    if integer_like and distinct <= MAX_INTEGER_CLASSES:
        return "multiclass"
    return "regression"


def encode_target(target: pd.Series, task: str) -> tuple[np.ndarray, tuple[Any, ...] | None]:
    """The target as model labels (0/1, 0..k-1 or floats) and the sorted class labels."""
    import pandas as pd

    if task == "regression":
        if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
            raise PipelinesError(
                f"Task 'regression' needs a numeric target; {target.name!r} holds "
                f"{target.dtype} values. Choose task 'binary' or 'multiclass'."
            )
        return target.to_numpy(dtype=float), None
    classes = np.array(sorted(pd.unique(target)))
    if task == "binary" and len(classes) != 2:
        raise PipelinesError(
            f"Task 'binary' needs exactly 2 distinct target values; {target.name!r} has "
            f"{len(classes)}. Choose task 'multiclass' or 'regression'."
        )
    codes = np.searchsorted(classes, target.to_numpy()).astype(np.int64)
    return codes, tuple(_plain(c) for c in classes)


def _as_category(column: pd.Series, test_column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Train and test as pandas categories with the train's categories; test values that
    train never saw cannot be scored, so they become missing values."""
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = column.cat.categories
    else:
        categories = pd.Index(sorted(column.dropna().unique(), key=str))
    dtype = pd.CategoricalDtype(categories)
    train_values = column.astype(object).astype(dtype)
    values = test_column.astype(object)
    return train_values, values.where(values.isin(categories)).astype(dtype)


def _as_numbers(column: pd.Series) -> pd.Series:
    """float64; text that is not a number (stray text in a test column) becomes NaN."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(column):
        return column.astype("float64")
    if pd.api.types.is_datetime64_any_dtype(column):
        column = column.astype("int64").where(column.notna())
    return pd.to_numeric(column, errors="coerce").astype("float64")


def _datetime_parts(
    name: str, column: pd.Series, test_column: pd.Series
) -> tuple[dict[str, pd.Series], dict[str, pd.Series]]:
    """{col}__year, __month, __day, __dayofweek, __dayofyear, __hour (when the train times of
    day vary) and __days since 1970-01-01, as floats with NaN where the date is missing."""
    import pandas as pd

    from pipelines.schema import parse_datetimes

    stamps = parse_datetimes(column)
    test_stamps = parse_datetimes(test_column)
    # column suffix -> pandas datetime attribute
    parts = {"year": "year", "month": "month", "day": "day"}
    parts |= {"dayofweek": "day_of_week", "dayofyear": "day_of_year"}
    if stamps.dt.hour.nunique() > 1:
        parts["hour"] = "hour"
    frames: tuple[dict[str, pd.Series], dict[str, pd.Series]] = ({}, {})
    for out, values in zip(frames, (stamps, test_stamps), strict=True):
        for part, attribute in parts.items():
            out[f"{name}__{part}"] = getattr(values.dt, attribute).astype("float64")
        days = (values - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
        out[f"{name}__days"] = days.astype("float64")
    return frames


def _text_components(
    name: str,
    column: pd.Series,
    test_column: pd.Series,
    embedder: TextEmbedder,
    dims: int,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """{col}__emb0.. : sentence embeddings projected on their first principal components,
    fitted on the train rows only."""
    from sklearn.decomposition import PCA

    # Each distinct text is embedded and projected once, then spread back to its rows: equal
    # texts get bit-equal components by construction, whatever BLAS does with a row's position
    # in a block or how many threads it uses (and it is faster on repetitive columns).
    texts = np.array([as_text(v) for v in [*column.tolist(), *test_column.tolist()]], object)
    unique, inverse = np.unique(texts, return_inverse=True)
    inverse = inverse.reshape(-1)
    train_inverse, test_inverse = inverse[: len(column)], inverse[len(column) :]
    try:
        unique_vectors = embedder.embed(unique.tolist())
        kind = "emb"
        n_components = min(dims, len(column), unique_vectors.shape[1])
        # Fitted on the train rows (repeats included), so frequent texts weigh as often as
        # they occur.
        pca = PCA(n_components=n_components, random_state=0).fit(unique_vectors[train_inverse])
        components = pca.transform(unique_vectors)
    except EmbeddingTooSlow:
        # The sentence model would eat the time budget: TF-IDF of hashed words and bigrams,
        # reduced the same way, costs a second and keeps most of what the words say.
        kind, components = "tfidf", _tfidf_components(unique, train_inverse, dims)
        n_components = components.shape[1]
    train_parts, test_parts = components[train_inverse], components[test_inverse]
    train_columns = {
        f"{name}__{kind}{i}": train_parts[:, i].astype("float64") for i in range(n_components)
    }
    test_columns = {
        f"{name}__{kind}{i}": test_parts[:, i].astype("float64") for i in range(n_components)
    }
    counts = _ngram_counts(unique, train_inverse, len(inverse))
    for i in range(counts.shape[1]):
        column = counts[:, i].toarray().ravel()
        train_columns[f"{name}__ngram{i}"] = column[train_inverse]
        test_columns[f"{name}__ngram{i}"] = column[test_inverse]
    return train_columns, test_columns


def _ngram_counts(unique: np.ndarray, train_inverse: np.ndarray, rows: int) -> Any:
    """Distinct texts -> counts (float32, sparse) of the n-grams (1-3 words, hashed) that the
    most train rows contain: those in at least NGRAM_MIN_SHARE of them, at most MAX_NGRAMS
    and MAX_NGRAM_CELLS / rows, the most frequent first (ties in hash order)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    counts = HashingVectorizer(
        n_features=2**20, ngram_range=(1, 3), alternate_sign=False, norm=None, dtype=np.float32
    ).transform(unique.tolist())
    # How many train rows hold each n-gram: the distinct texts weighed by their train rows.
    weight = np.bincount(train_inverse, minlength=len(unique)).astype(np.float64)
    present = counts.copy()
    present.data[:] = 1.0
    rows_with = np.asarray(present.T @ weight).ravel()
    least = max(3.0, math.ceil(NGRAM_MIN_SHARE * len(train_inverse)))
    limit = min(MAX_NGRAMS, MAX_NGRAM_CELLS // max(rows, 1))
    frequent = np.flatnonzero(rows_with >= least)
    order = frequent[np.argsort(-rows_with[frequent], kind="stable")][:limit]
    return counts[:, order].tocsc()


def _tfidf_components(unique: np.ndarray, train_inverse: np.ndarray, dims: int) -> np.ndarray:
    """Distinct texts -> their first `dims` SVD components of hashed TF-IDF (words and word
    pairs), with the IDF and the SVD fitted on the train rows."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

    counts = HashingVectorizer(
        n_features=2**18, ngram_range=(1, 2), alternate_sign=False, norm=None
    ).transform(unique.tolist())
    tfidf = TfidfTransformer(sublinear_tf=True).fit(counts[train_inverse])
    weighted = tfidf.transform(counts)
    n_components = max(1, min(dims, len(unique) - 1, weighted.shape[1] - 1))
    svd = TruncatedSVD(n_components=n_components, random_state=0).fit(weighted[train_inverse])
    return svd.transform(weighted)


def _frame(columns: dict[str, Any]) -> pd.DataFrame:
    """Columns (Series or arrays) side by side, on a fresh 0..n-1 index."""
    import pandas as pd

    return pd.DataFrame(
        {
            k: v.reset_index(drop=True) if hasattr(v, "reset_index") else v
            for k, v in columns.items()
        }
    )


def prepare_frames(
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    target: str,
    id_column: str | None,
    task: str | None = None,
    schema: Schema | None = None,
    overrides: Mapping[str, str] | None = None,
    text_embedder: TextEmbedder | None = None,
    text_dims: int = 16,
) -> Prepared:
    """Model inputs from the train and test frames, column by column as the schema says.

    The schema is inferred (with `overrides`) unless given. Numeric columns become float64;
    categorical and boolean ones pandas categories with the train's categories (unseen test
    values become NaN); datetimes numeric parts; text `text_dims` principal components of its
    sentence embeddings (`text_embedder`, by default one without a cache) and the counts of its
    frequent n-grams (`{column}__ngram{i}`, for the trees); id and constant
    columns are dropped. The target is encoded for `task` (inferred if None).
    """

    from pipelines.schema import infer_schema

    if target not in train.columns:
        raise PipelinesError(
            f"The train frame has no target column {target!r}; its columns are "
            f"{', '.join(map(str, train.columns))}."
        )
    for name, frame in (("train", train), ("test", test)):
        if id_column is not None and id_column not in frame.columns:
            raise PipelinesError(f"The {name} frame has no id column {id_column!r}.")
    missing_target = int(train[target].isna().sum())
    if missing_target:
        raise PipelinesError(
            f"The target {target!r} is missing on {missing_target} train rows; "
            "drop those rows before training."
        )
    if text_dims < 1:
        raise PipelinesError(f"text_dims must be at least 1, got {text_dims}.")
    if task is None:
        task = infer_task(train[target])
    elif task not in TASKS:
        raise PipelinesError(f"Unknown task {task!r}; expected one of {', '.join(TASKS)}.")
    y, classes = encode_target(train[target], task)

    if schema is None:
        schema = infer_schema(train, test, target=target, id_column=id_column, overrides=overrides)
    elif overrides:
        raise PipelinesError(
            "Pass either a schema or column overrides, not both; infer_schema(..., "
            "overrides=...) makes a schema with the overrides applied."
        )
    elif schema.target != target:
        raise PipelinesError(
            f"The schema was inferred for target {schema.target!r}, not {target!r}; "
            "infer it again for this target."
        )
    features = list(schema.features)
    for name, frame in (("train", train), ("test", test)):
        absent = [c for c in features if c not in frame.columns]
        if absent:
            raise PipelinesError(
                f"The {name} frame lacks feature columns {', '.join(map(str, absent))}; "
                "train and test need the same features."
            )
    if not features:
        raise PipelinesError(
            "No feature is left: every column is the target, an id or a constant "
            f"({', '.join(f'{n}: {c.kind}' for n, c in schema.columns.items())}). "
            "Give a column its kind with an override."
        )

    columns: dict[str, Any] = {}
    test_columns: dict[str, Any] = {}
    categorical: list[str] = []
    numeric: list[str] = []
    for name in features:
        kind = schema.columns[name].kind
        column, test_column = train[name], test[name]
        if kind in ("categorical", "boolean"):
            columns[name], test_columns[name] = _as_category(column, test_column)
            categorical.append(name)
            continue
        if kind == "numeric":
            parts = ({name: _as_numbers(column)}, {name: _as_numbers(test_column)})
        elif kind == "datetime":
            parts = _datetime_parts(name, column, test_column)
        else:  # text
            if text_embedder is None:
                text_embedder = TextEmbedder()
            parts = _text_components(name, column, test_column, text_embedder, text_dims)
        for key in parts[0]:
            columns[key], test_columns[key] = parts[0][key], parts[1][key]
            numeric.append(key)
    X, X_test = _frame(columns), _frame(test_columns)
    test_ids = test[id_column].to_numpy() if id_column is not None else test.index.to_numpy()
    return Prepared(
        X=X,
        y=y,
        X_test=X_test,
        test_ids=test_ids,
        task=task,
        classes=classes,
        schema=schema,
        categorical=tuple(categorical),
        numeric=tuple(numeric),
    )
