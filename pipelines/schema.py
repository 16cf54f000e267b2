"""Schema inference: what kind of column each train column is, and why."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pipelines.errors import PipelinesError

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("numeric", "categorical", "boolean", "datetime", "text", "id", "constant")
DROPPED_KINDS = ("id", "constant")

HIGH_CARDINALITY = 32  # more distinct values than this makes a categorical "high" cardinality
TEXT_MIN_WORDS = 3.0  # mean words per value from which a many-valued string column is text
TEXT_MIN_UNIQUE_RATIO = 0.1  # ...and at least this share of its values distinct
PARSE_SHARE = 0.95  # share of string values that must parse as numbers/dates to be read as such
ID_MIN_ROWS = 20  # below this many rows, all-distinct values say nothing about being an id
SAMPLE_SIZE = 2000  # string values examined for numbers, dates and words

# Names that mark an id when the values are distinct: id, ID, rownames, customer_id, PassengerId.
_ID_NAME = re.compile(
    r"^(?:id|rownames|index|uuid|row_?id|unnamed: ?0|\.\.\.1)$|[_\s.-]id$",
    re.IGNORECASE,
)
_CAMEL_ID = re.compile(r"[a-z0-9](?:Id|ID)$")
_ISO_DATE = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
    r"\s*(?:Z|UTC|[+-]\d{2}:?\d{2})?$"
)
_OTHER_DATE = re.compile(
    r"^(?:\d{1,2}/\d{1,2}/\d{2,4}|\d{4}/\d{1,2}/\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"
)


@dataclass(frozen=True)
class ColumnInfo:
    """One column's kind with the statistics behind it (on the train rows) and the reason.

    `cardinality` is "low" or "high" for categoricals, None for every other kind.
    """

    kind: str
    n_unique: int
    missing_fraction: float
    cardinality: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Schema:
    """Every train column except the target, in train order, with its kind."""

    columns: dict[str, ColumnInfo]
    target: str
    id_column: str | None = None

    @property
    def features(self) -> tuple[str, ...]:
        """The columns kept as model inputs (not ids, not constants)."""
        return tuple(n for n, c in self.columns.items() if c.kind not in DROPPED_KINDS)

    @property
    def dropped(self) -> tuple[str, ...]:
        """The id and constant columns."""
        return tuple(n for n, c in self.columns.items() if c.kind in DROPPED_KINDS)

    def of_kind(self, kind: str) -> tuple[str, ...]:
        """The columns of one kind, in train order."""
        if kind not in KINDS:
            raise PipelinesError(f"Unknown column kind {kind!r}; the kinds are {', '.join(KINDS)}.")
        return tuple(n for n, c in self.columns.items() if c.kind == kind)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; `Schema.from_dict` reads them back."""
        return {
            "target": self.target,
            "id_column": self.id_column,
            "columns": {name: asdict(info) for name, info in self.columns.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        try:
            columns = {str(n): ColumnInfo(**info) for n, info in data["columns"].items()}
            schema = cls(columns=columns, target=data["target"], id_column=data.get("id_column"))
        except (KeyError, TypeError) as error:
            raise PipelinesError(
                f"A saved schema is malformed ({error}); delete it and infer the schema again."
            ) from error
        for name, info in columns.items():
            if info.kind not in KINDS:
                raise PipelinesError(
                    f"A saved schema gives column {name!r} the unknown kind {info.kind!r}; "
                    f"the kinds are {', '.join(KINDS)}."
                )
        return schema


def _cardinality(n_unique: int) -> str:
    return "high" if n_unique > HIGH_CARDINALITY else "low"


def _is_string_like(column: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)


def _id_name(name: str) -> bool:
    return bool(_ID_NAME.search(name)) or bool(_CAMEL_ID.search(name))


def _sample(values: pd.Series) -> pd.Series:
    return values if len(values) <= SAMPLE_SIZE else values.sample(SAMPLE_SIZE, random_state=0)


def _share(mask: Any) -> float:
    return float(mask.mean()) if len(mask) else 0.0


def parse_datetimes(column: pd.Series) -> pd.Series:
    """Dates and times as naive UTC datetime64 values; what does not parse becomes NaT."""
    import pandas as pd

    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return column.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(column):
        return column
    text = column.astype("string").str.strip()
    iso = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    if _share(iso[text.notna()].notna()) < PARSE_SHARE:
        # Slashed dates and other spellings: slower, element by element.
        iso = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
    return iso.dt.tz_localize(None)


def _infer_numeric(
    name: str, values: pd.Series, n_unique: int, n_all: int, test_values: pd.Series | None
) -> tuple[str, str]:
    import pandas as pd

    numbers = values.to_numpy(dtype=float)
    integer = pd.api.types.is_integer_dtype(values) or bool((numbers == numbers.round()).all())
    if integer and n_unique == len(values) and len(values) == n_all:
        if _id_name(name):
            return "id", f"distinct integers on every row, named like an id ({name!r})"
        # A row number runs on through the test rows; a feature would repeat its values there.
        if test_values is not None and not pd.api.types.is_numeric_dtype(test_values):
            test_values = None
        both = values if test_values is None else pd.concat([values, test_values])
        distinct = test_values is not None and both.nunique() == len(both)
        span = both.max() - both.min() + 1 if len(both) else 0
        if distinct and n_all >= ID_MIN_ROWS and span == len(both):
            return "id", "distinct consecutive integers over train and test rows (a row number)"
    if n_unique == 2 and set(numbers.tolist()) <= {0.0, 1.0}:
        return "boolean", "numbers 0 and 1 only"
    if n_unique == 1:
        return "numeric", "one value plus missing values: whether it is missing is the signal"
    kind = "integers" if integer else "numbers"
    return "numeric", f"{kind} with {n_unique} distinct values"


def _infer_strings(
    name: str, values: pd.Series, n_unique: int, n_all: int, test_values: pd.Series | None
) -> tuple[str, str | None, str]:
    """(kind, cardinality, reason) for a text column."""
    import pandas as pd

    strings = _sample(values).astype(str).str.strip()
    if n_unique == 2:
        first, second = sorted(map(str, values.unique()))[:2]
        return "boolean", None, f"two values: {first!r} and {second!r}"
    if _share(pd.to_numeric(strings, errors="coerce").notna()) >= PARSE_SHARE:
        return "numeric", None, "strings that hold numbers (the rest read as missing)"
    dated = strings.str.match(_ISO_DATE) | strings.str.match(_OTHER_DATE)
    if _share(dated) >= PARSE_SHARE and _share(parse_datetimes(strings).notna()) >= PARSE_SHARE:
        return "datetime", None, "strings that hold dates"
    words = float(strings.str.split().str.len().mean())
    distinct_ratio = n_unique / len(values)
    every_row_distinct = n_unique == len(values) and len(values) == n_all
    if every_row_distinct and test_values is not None:
        every_row_distinct = not test_values.dropna().isin(values).any()
    if every_row_distinct and words < TEXT_MIN_WORDS:
        if _id_name(name):
            return "id", None, f"a distinct value on every row, named like an id ({name!r})"
        if n_all >= ID_MIN_ROWS:
            return "id", None, "a distinct short code on every row"
    if (
        words >= TEXT_MIN_WORDS
        and n_unique > HIGH_CARDINALITY
        and distinct_ratio >= TEXT_MIN_UNIQUE_RATIO
    ):
        return "text", None, f"{words:.1f} words per value and {n_unique} distinct values"
    cardinality = _cardinality(n_unique)
    return "categorical", cardinality, f"{n_unique} distinct labels ({cardinality} cardinality)"


def _infer_column(
    name: str, column: pd.Series, test_column: pd.Series | None
) -> tuple[str, str | None, str]:
    import pandas as pd

    values = column.dropna()
    n_unique = int(values.nunique())
    if n_unique == 0:
        return "constant", None, "all values are missing"
    if n_unique == 1 and len(values) == len(column):
        value = values.iloc[0]
        value = value.item() if hasattr(value, "item") else value  # np.int64(3) reads as 3
        return "constant", None, f"the same value ({value!r}) on every row"
    test_values = test_column.dropna() if test_column is not None else None
    if pd.api.types.is_bool_dtype(column):
        return "boolean", None, "true/false values"
    if pd.api.types.is_datetime64_any_dtype(column):
        return "datetime", None, "a date/time column"
    if isinstance(column.dtype, pd.CategoricalDtype):
        cardinality = _cardinality(n_unique)
        return "categorical", cardinality, f"a pandas category with {n_unique} labels"
    if pd.api.types.is_numeric_dtype(column):
        kind, reason = _infer_numeric(name, values, n_unique, len(column), test_values)
        return kind, None, reason
    if _is_string_like(column):
        return _infer_strings(name, values, n_unique, len(column), test_values)
    cardinality = _cardinality(n_unique)
    return "categorical", cardinality, f"{column.dtype} values read as {n_unique} labels"


def _check_overrides(
    overrides: Mapping[str, str], names: list[str], target: str, id_column: str | None
) -> None:
    for name, kind in overrides.items():
        if name == target:
            raise PipelinesError(
                f"Column {name!r} is the target; it cannot be given a kind. Remove it from "
                "the column overrides."
            )
        if name not in names:
            raise PipelinesError(
                f"The column override names {name!r}, which the train frame does not have; "
                f"its columns are {', '.join(names)}."
            )
        if kind not in KINDS:
            raise PipelinesError(
                f"The column override for {name!r} asks for kind {kind!r}; the kinds are "
                f"{', '.join(KINDS)}."
            )
        if name == id_column and kind != "id":
            raise PipelinesError(
                f"Column {name!r} is the id column; it cannot be a {kind} feature. Remove the "
                "override or choose another id column."
            )


def infer_schema(
    train: pd.DataFrame,
    test: pd.DataFrame | None,
    *,
    target: str,
    id_column: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> Schema:
    """The kind of every train column but the target, from the train values.

    Ids must also be distinct from the test values; `overrides` ({column: kind}) win over
    the inference. Pure: reads the frames, changes nothing.
    """
    names = [str(n) for n in train.columns if n != target]
    if target not in train.columns:
        raise PipelinesError(
            f"The train frame has no target column {target!r}; its columns are "
            f"{', '.join(map(str, train.columns))}."
        )
    if id_column is not None and id_column not in train.columns:
        raise PipelinesError(f"The train frame has no id column {id_column!r}.")
    overrides = dict(overrides or {})
    _check_overrides(overrides, names, target, id_column)
    columns: dict[str, ColumnInfo] = {}
    for name in names:
        column = train[name]
        n_unique = int(column.nunique())
        missing = float(column.isna().mean()) if len(column) else 1.0
        if name == id_column:
            kind, cardinality, reason = "id", None, "the id column"
        else:
            test_column = test[name] if test is not None and name in test.columns else None
            kind, cardinality, reason = _infer_column(name, column, test_column)
        if name in overrides and overrides[name] != kind:
            reason = f"set by override (inferred {kind}: {reason})"
            kind = overrides[name]
            cardinality = _cardinality(n_unique) if kind == "categorical" else None
        columns[name] = ColumnInfo(
            kind=kind,
            n_unique=n_unique,
            missing_fraction=round(missing, 6),
            cardinality=cardinality,
            reason=reason,
        )
    return Schema(columns=columns, target=target, id_column=id_column)
