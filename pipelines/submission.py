"""Submission files: reading them safely, checking them against the sample, building them."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.errors import PipelinesError, SubmissionFormatError

if TYPE_CHECKING:
    import pandas as pd

_log = logging.getLogger(__name__)
FIRST_FEW = 5
ROWS_NOTE = "data rows counted from 1 after the header; add 1 for the spreadsheet line"


def _first_few(values: Sequence[Any]) -> str:
    shown = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values[:FIRST_FEW])
    return shown + (", ..." if len(values) > FIRST_FEW else "")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _names(columns: Sequence[Any]) -> str:
    return ", ".join(repr(str(c)) for c in columns)


def id_strings(values: Any) -> list[str]:
    """Ids as strings so that 1, 1.0 and "1" compare equal; missing ids become ""."""
    import pandas as pd

    series = pd.Series(values)
    if pd.api.types.is_float_dtype(series):
        finite = series.dropna()
        if len(finite) and np.all(np.isfinite(finite)) and np.all(finite == np.round(finite)):
            series = series.astype("Int64")
    return ["" if pd.isna(v) else str(v).strip() for v in series.tolist()]


def detect_encoding(path: str | Path) -> CsvEncoding:
    """How to decode a CSV file: UTF-8 (with or without its byte-order mark) when every byte
    allows it, else Windows-1252 (Excel's "CSV" on Western systems; Latin-1 for the five bytes
    it leaves undefined). Deterministic: no statistical guessing. Raises SubmissionFormatError
    for bytes that are not text in either (NUL bytes: UTF-16, or not a text file)."""
    import codecs

    path = Path(path)
    with open(path, "rb") as handle:
        head = handle.read(len(codecs.BOM_UTF8))
    name = "utf-8-sig" if head == codecs.BOM_UTF8 else "utf-8"
    offset = _first_undecodable(path, "utf-8", start=3 if name == "utf-8-sig" else 0)
    if offset is None:
        return CsvEncoding(name)
    if _has_nul(path):
        raise SubmissionFormatError(
            [
                f"File {str(path)!r} is not a readable CSV file: not UTF-8 from byte "
                f"offset {offset}, and it holds NUL bytes (UTF-16, or not text); try "
                "re-saving it as UTF-8, e.g. iconv -f utf-16 -t utf-8 "
                f"{path.name} > {path.stem}-utf8{path.suffix}"
            ]
        )
    fallback = "cp1252" if _first_undecodable(path, "cp1252") is None else "latin-1"
    return CsvEncoding(fallback, first_non_utf8=offset)


@dataclass(frozen=True)
class CsvEncoding:
    """The codec a CSV file is read with, and where UTF-8 first failed when it is a fallback."""

    name: str
    first_non_utf8: int | None = None

    @property
    def is_fallback(self) -> bool:
        return self.first_non_utf8 is not None


def _has_nul(path: Path, chunk: int = 1 << 20) -> bool:
    with open(path, "rb") as handle:
        while data := handle.read(chunk):
            if b"\x00" in data:
                return True
    return False


def _first_undecodable(
    path: Path, encoding: str, *, start: int = 0, chunk: int = 1 << 20
) -> int | None:
    """The byte offset of the first byte `encoding` cannot decode, or None; reads in chunks so a
    large train.csv is never held twice in memory."""
    import codecs

    decoder = codecs.getincrementaldecoder(encoding)()
    position = start
    with open(path, "rb") as handle:
        handle.seek(start)
        while True:
            data = handle.read(chunk)
            # Error positions count from the bytes the decoder still holds from the last chunk.
            held = len(decoder.getstate()[0])
            try:
                decoder.decode(data, final=not data)
            except UnicodeDecodeError as error:
                return position - held + error.start
            if not data:
                return None
            position += len(data)


def read_csv_checked(path: str | Path) -> pd.DataFrame:
    """Read a CSV file, turning a missing, empty or unparseable file into SubmissionFormatError.
    A file that is not UTF-8 is read as Windows-1252 (see `detect_encoding`) and a warning on
    the `pipelines` logger says so, naming the file and the first non-UTF-8 byte."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise SubmissionFormatError([f"File {str(path)!r} does not exist; check the path."])
    encoding = detect_encoding(path)
    if encoding.is_fallback:
        _log.warning(
            "note: %s is not UTF-8 (first non-UTF-8 byte at offset %d); read it as %s. "
            "If accents look wrong, re-save it as UTF-8, e.g. iconv -f latin1 -t utf-8",
            path,
            encoding.first_non_utf8,
            "Windows-1252" if encoding.name == "cp1252" else "Latin-1",
        )
    try:
        return pd.read_csv(path, encoding=encoding.name)
    except pd.errors.EmptyDataError:
        raise SubmissionFormatError(
            [f"File {str(path)!r} is empty; write a header line and one row per id."]
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        raise SubmissionFormatError(
            [
                f"File {str(path)!r} is not a readable CSV file ({first_line}); "
                "save it as comma-separated UTF-8 text with one header line."
            ]
        ) from None


def _column_problems(submission: pd.DataFrame, sample: pd.DataFrame) -> list[str]:
    expected = [str(c) for c in sample.columns]
    got = [str(c) for c in submission.columns]
    problems = []
    missing = [c for c in expected if c not in got]
    unexpected = [c for c in got if c not in expected]
    if missing:
        problems.append(
            f"Missing columns: {_names(missing)}; add them, named as in the sample submission."
        )
    if unexpected:
        problems.append(
            f"Unexpected columns: {_names(unexpected)}; remove them or rename them to the "
            f"sample's columns ({_names(expected)})."
        )
    duplicated = sorted({c for c in got if got.count(c) > 1})
    if duplicated:
        problems.append(f"Columns appear more than once: {_names(duplicated)}; keep one of each.")
    return problems


def _id_problems(submitted: list[str], expected: list[str]) -> list[str]:
    problems = []
    expected_set, submitted_set = set(expected), set(submitted)
    missing = [i for i in expected if i not in submitted_set]
    if missing:
        problems.append(
            f"Ids missing from the submission: {_count(len(missing), 'id')} of the sample "
            f"(first few: {_first_few(missing)}); add one row for each."
        )
    unknown = list(dict.fromkeys(i for i in submitted if i and i not in expected_set))
    if unknown:
        problems.append(
            f"Ids not in the sample: {_count(len(unknown), 'id')} (first few: "
            f"{_first_few(unknown)}); remove those rows or fix the ids."
        )
    counts = Counter(submitted)
    duplicates = [i for i in dict.fromkeys(submitted) if counts[i] > 1]
    if duplicates:
        problems.append(
            f"Duplicate ids: {_count(len(duplicates), 'id')} on more than one row (first few: "
            f"{_first_few(duplicates)}); keep exactly one row per id."
        )
    return problems


def _empty_mask(column: pd.Series) -> np.ndarray:
    import pandas as pd

    mask = column.isna().to_numpy()
    if not pd.api.types.is_numeric_dtype(column):
        blank = column.astype(str).str.strip().eq("").to_numpy()
        mask = mask | blank
    return mask


def _value_problems(submission: pd.DataFrame, sample: pd.DataFrame, *, id_column: str) -> list[str]:
    import pandas as pd

    problems = []
    for name in sample.columns:
        if name not in submission.columns or isinstance(submission[name], pd.DataFrame):
            continue
        column = submission[name]
        empty = _empty_mask(column)
        if empty.any():
            rows = (np.flatnonzero(empty) + 1).tolist()
            problems.append(
                f"Column {str(name)!r} has {_count(len(rows), 'empty or NaN value')} on data rows "
                f"{_first_few(rows)} ({ROWS_NOTE}); fill in every value."
            )
        numeric_expected = name != id_column and pd.api.types.is_numeric_dtype(sample[name])
        if numeric_expected and not pd.api.types.is_numeric_dtype(column):
            text = pd.to_numeric(column.where(~empty), errors="coerce").isna().to_numpy() & ~empty
            if text.any():
                rows = np.flatnonzero(text)
                shown = ", ".join(f"{r + 1} ({column.iloc[r]!r})" for r in rows[:FIRST_FEW])
                more = ", ..." if len(rows) > FIRST_FEW else ""
                problems.append(
                    f"Column {str(name)!r} holds text where numbers belong on "
                    f"{_count(len(rows), 'data row')}: {shown}{more} "
                    f"({ROWS_NOTE}); write numbers only."
                )
    return problems


def _shown_rows(column: pd.Series, rows: np.ndarray) -> str:
    shown = ", ".join(f"{r + 1} ({column.iloc[r]})" for r in rows[:FIRST_FEW])
    return shown + (", ..." if len(rows) > FIRST_FEW else "")


def _range_problems(
    submission: pd.DataFrame, sample: pd.DataFrame, *, id_column: str, metric: str | None
) -> list[str]:
    """Infinities anywhere, and values outside [0, 1] when the metric scores probabilities:
    Kaggle scores either as ERROR after the upload, so they are caught before it."""
    import pandas as pd

    from pipelines.metrics import get_metric

    needs_proba = metric is not None and get_metric(metric).needs_proba
    problems = []
    for name in sample.columns:
        if name == id_column or name not in submission.columns:
            continue
        column = submission[name]
        if isinstance(column, pd.DataFrame) or not pd.api.types.is_numeric_dtype(sample[name]):
            continue
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        infinite = np.flatnonzero(np.isinf(values))
        if len(infinite):
            problems.append(
                f"Column {str(name)!r} holds {_count(len(infinite), 'infinite value')} on data "
                f"rows {_shown_rows(column, infinite)} ({ROWS_NOTE}); write finite numbers."
            )
        outside = np.flatnonzero(np.isfinite(values) & ((values < 0) | (values > 1)))
        if needs_proba and len(outside):
            problems.append(
                f"Column {str(name)!r} holds {_count(len(outside), 'value')} outside [0, 1] on "
                f"data rows {_shown_rows(column, outside)} ({ROWS_NOTE}); the metric {metric} "
                "scores probabilities: submit the model's probabilities, or rescale scores into "
                "[0, 1] (ranks / n keep their order; clipping would tie them)."
            )
    return problems


def validate_submission(
    submission: pd.DataFrame,
    sample: pd.DataFrame,
    *,
    id_column: str,
    metric: str | None = None,
) -> None:
    """Raise SubmissionFormatError listing every way `submission` differs from `sample`.

    Ids compare as strings (so 1 and "1" match); column order does not matter. Infinite values
    are always refused; with a `metric` that scores probabilities, so are values outside [0, 1].
    """
    if id_column not in sample.columns:
        raise PipelinesError(
            f"The sample submission has no id column {id_column!r}; "
            f"its columns are {_names(list(sample.columns))}."
        )
    problems = _column_problems(submission, sample)
    if len(submission) != len(sample):
        problems.append(
            f"Wrong number of rows: got {len(submission)}, expected {len(sample)} "
            "(one per id of the sample submission)."
        )
    if id_column in submission.columns and submission.columns.tolist().count(id_column) == 1:
        problems += _id_problems(id_strings(submission[id_column]), id_strings(sample[id_column]))
    problems += _value_problems(submission, sample, id_column=id_column)
    problems += _range_problems(submission, sample, id_column=id_column, metric=metric)
    if problems:
        raise SubmissionFormatError(problems)


def _match_classes(columns: list[Any], classes: Sequence[Any]) -> list[Any]:
    """The sample column for each class label: exact name, any case, or a `..._LABEL` suffix."""
    matched, unmatched = [], []
    for label in classes:
        text = str(label)
        candidates = [c for c in columns if str(c) == text]
        candidates = candidates or [c for c in columns if str(c).lower() == text.lower()]
        candidates = candidates or [c for c in columns if str(c).lower().endswith(f"_{text}")]
        if len(candidates) == 1:
            matched.append(candidates[0])
        else:
            unmatched.append(text)
    if unmatched or len(set(matched)) != len(columns):
        raise SubmissionFormatError(
            [
                f"Cannot map the classes {_first_few(list(map(str, classes)))} to the sample's "
                f"columns {_names(columns)} (unmatched: {_first_few(unmatched) or 'none'}); "
                "pass classes named like the sample's columns."
            ]
        )
    return matched


def build_submission(
    sample: pd.DataFrame,
    *,
    id_column: str,
    ids: Any,
    predictions: Any,
    classes: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """A submission in the sample's format: its columns, and rows in its id order.

    One prediction column takes 1-D `predictions`; several columns (one per class) take an
    (n, k) matrix whose columns follow `classes` (or the sample's column order when None).
    """
    import pandas as pd

    if id_column not in sample.columns:
        raise PipelinesError(f"The sample submission has no id column {id_column!r}.")
    value_columns = [c for c in sample.columns if c != id_column]
    values = np.asarray(predictions)
    if len(value_columns) == 1:
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1:
            raise SubmissionFormatError(
                [
                    f"The sample has one prediction column {str(value_columns[0])!r} but the "
                    f"predictions have shape {values.shape}; pass one value per id."
                ]
            )
        values = values[:, None]
        targets = value_columns
    else:
        if values.ndim != 2 or values.shape[1] != len(value_columns):
            raise SubmissionFormatError(
                [
                    f"The sample has {len(value_columns)} prediction columns but the predictions "
                    f"have shape {values.shape}; pass an (n, {len(value_columns)}) matrix."
                ]
            )
        targets = value_columns if classes is None else _match_classes(value_columns, classes)

    given = id_strings(ids)
    if len(given) != len(values):
        raise SubmissionFormatError(
            [f"Got {len(given)} ids but {len(values)} predictions; pass one prediction per id."]
        )
    problems = _id_problems(given, id_strings(sample[id_column]))
    if problems:
        raise SubmissionFormatError(problems)
    position = {key: i for i, key in enumerate(given)}
    order = [position[key] for key in id_strings(sample[id_column])]

    frame = pd.DataFrame({id_column: sample[id_column].to_numpy()})
    for j, name in enumerate(targets):
        frame[name] = values[order, j]
    frame = frame[list(sample.columns)]
    validate_submission(frame, sample, id_column=id_column)
    return frame


def write_submission(frame: pd.DataFrame, path: str | Path) -> None:
    """Write `frame` as a CSV submission (no index), creating the folder if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
