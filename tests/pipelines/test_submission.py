"""Submission files: every problem reported at once, and building files in the sample's format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipelines.errors import PipelinesError, SubmissionFormatError
from pipelines.submission import (
    CsvEncoding,
    build_submission,
    detect_encoding,
    read_csv_checked,
    validate_submission,
    write_submission,
)


def _problems(submission: pd.DataFrame, sample: pd.DataFrame, id_column: str = "id") -> list[str]:
    with pytest.raises(SubmissionFormatError) as caught:
        validate_submission(submission, sample, id_column=id_column)
    return caught.value.problems


@pytest.fixture
def sample() -> pd.DataFrame:
    return pd.DataFrame({"id": [10, 11, 12, 13], "target": [0.5, 0.5, 0.5, 0.5]})


def test_a_matching_submission_passes_with_string_ids_and_any_column_order(sample):
    submission = pd.DataFrame({"target": [0.1, 0.2, 0.3, 0.4], "id": ["13", "12", "11", "10"]})
    validate_submission(submission, sample, id_column="id")


def test_every_problem_is_listed_at_once(sample):
    submission = pd.DataFrame(
        {"id": [10, 11, 11, 99, 98], "target": [0.1, np.nan, "abc", 0.3, 0.4], "extra": 1}
    )
    problems = _problems(submission, sample)
    text = "\n".join(problems)
    assert "Unexpected columns: 'extra'" in text
    assert "got 5, expected 4" in text
    assert "Ids missing from the submission: 2 ids" in text and "'12', '13'" in text
    assert "Ids not in the sample: 2 ids" in text and "'99', '98'" in text
    assert "Duplicate ids: 1 id" in text and "'11'" in text
    # NaN on the second data row, text on the third: 1-based data rows, convention stated.
    assert any("empty or NaN" in p and "data rows 2 " in p and "header" in p for p in problems)
    assert any("text where numbers belong" in p and "3 ('abc')" in p for p in problems)
    assert len(problems) == 7


def test_missing_columns_are_named(sample):
    problems = _problems(pd.DataFrame({"id": [10, 11, 12, 13]}), sample)
    assert problems == ["Missing columns: 'target'; add them, named as in the sample submission."]


def test_blank_strings_count_as_empty_values():
    sample = pd.DataFrame({"id": ["a", "b"], "label": ["x", "y"]})
    problems = _problems(pd.DataFrame({"id": ["a", "b"], "label": ["x", "  "]}), sample)
    assert len(problems) == 1 and "'label'" in problems[0] and "data rows 2 " in problems[0]


def test_numbers_written_as_text_are_accepted(sample):
    submission = pd.DataFrame({"id": [10, 11, 12, 13], "target": ["0.1", "1e-3", "2", "-4"]})
    validate_submission(submission, sample, id_column="id")


def test_an_unknown_id_column_is_a_usage_error(sample):
    with pytest.raises(PipelinesError, match="no id column 'Id'"):
        validate_submission(sample, sample, id_column="Id")


def test_read_csv_checked_explains_empty_unreadable_and_absent_files(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "broken.csv").write_text('id,target\n1,0.5\n"2,0.5\n')
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00id,target\n\x81\x82,1\n")
    for name, words in [
        ("empty.csv", "is empty"),
        ("broken.csv", "not a readable CSV"),
        ("binary.csv", "not a readable CSV"),
        ("absent.csv", "does not exist"),
    ]:
        with pytest.raises(SubmissionFormatError, match=words):
            read_csv_checked(tmp_path / name)


def test_build_write_read_validate_round_trip(tmp_path, sample):
    frame = build_submission(
        sample, id_column="id", ids=["12", "10", "13", "11"], predictions=[0.2, 0.0, 0.3, 0.1]
    )
    assert frame["id"].tolist() == [10, 11, 12, 13]
    assert frame["target"].tolist() == [0.0, 0.1, 0.2, 0.3]
    write_submission(frame, tmp_path / "out" / "submission.csv")
    again = read_csv_checked(tmp_path / "out" / "submission.csv")
    validate_submission(again, sample, id_column="id")
    pd.testing.assert_frame_equal(again, frame)


def test_build_maps_class_probabilities_to_the_sample_columns():
    sample = pd.DataFrame({"id": [1, 2], "Class_1": 0.5, "Class_2": 0.5, "Class_3": 0.0})
    proba = np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])  # columns follow classes [3, 1, 2]
    frame = build_submission(
        sample, id_column="id", ids=[2, 1], predictions=proba, classes=[3, 1, 2]
    )
    assert list(frame.columns) == ["id", "Class_1", "Class_2", "Class_3"]
    assert frame.loc[0, ["Class_1", "Class_2", "Class_3"]].tolist() == [0.3, 0.1, 0.6]
    assert frame.loc[1, ["Class_1", "Class_2", "Class_3"]].tolist() == [0.2, 0.7, 0.1]


def test_build_refuses_predictions_that_do_not_fit_the_sample(sample):
    with pytest.raises(SubmissionFormatError, match="Ids missing"):
        build_submission(sample, id_column="id", ids=[10, 11, 12, 99], predictions=[0, 0, 0, 0])
    with pytest.raises(SubmissionFormatError, match="one prediction column"):
        build_submission(sample, id_column="id", ids=[10, 11, 12, 13], predictions=np.ones((4, 3)))
    with pytest.raises(SubmissionFormatError, match="Cannot map the classes"):
        wide = pd.DataFrame({"id": [1], "cat": 0.5, "dog": 0.5})
        build_submission(wide, id_column="id", ids=[1], predictions=[[0.5, 0.5]], classes=[0, 1])


# --- properties: valid submissions always pass, any single corruption is always reported ---


@st.composite
def samples(draw) -> pd.DataFrame:
    n = draw(st.integers(min_value=1, max_value=25))
    if draw(st.booleans()):
        ids: list = draw(st.lists(st.integers(-1000, 10**6), min_size=n, max_size=n, unique=True))
    else:
        ids = draw(
            st.lists(
                st.text("abcdefxyz0123456789_-", min_size=1, max_size=8),
                min_size=n,
                max_size=n,
                unique=True,
            )
        )
    n_columns = draw(st.integers(min_value=1, max_value=4))
    columns = {f"p{j}": np.full(n, 0.5) for j in range(n_columns)}
    return pd.DataFrame({"id": ids, **columns})


@st.composite
def valid_submissions(draw) -> tuple[pd.DataFrame, pd.DataFrame]:
    sample = draw(samples())
    order = draw(st.permutations(range(len(sample))))
    value = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
    submission = sample.iloc[list(order)].reset_index(drop=True)
    for name in sample.columns[1:]:
        submission[name] = draw(st.lists(value, min_size=len(sample), max_size=len(sample)))
    if draw(st.booleans()):
        submission["id"] = submission["id"].astype(str)
    columns = draw(st.permutations(list(submission.columns)))
    return sample, submission[list(columns)]


@settings(max_examples=100, deadline=None)
@given(valid_submissions())
def test_valid_submissions_always_pass(pair):
    sample, submission = pair
    validate_submission(submission, sample, id_column="id")


CORRUPTIONS = ["drop_row", "duplicate_id", "nan", "text", "rename_column"]


@settings(max_examples=150, deadline=None)
@given(valid_submissions(), st.sampled_from(CORRUPTIONS), st.data())
def test_any_single_corruption_is_reported(pair, corruption, data):
    sample, submission = pair
    submission = submission.copy()
    row = data.draw(st.integers(0, len(submission) - 1), label="row")
    value_columns = [c for c in submission.columns if c != "id"]
    column = data.draw(st.sampled_from(value_columns), label="column")
    if corruption == "drop_row":
        submission = submission.drop(index=row)
        expected = ["got", "Ids missing"]
    elif corruption == "duplicate_id":
        if len(submission) < 2:
            submission = pd.concat([submission, submission])
            expected = ["Duplicate ids", "got"]
        else:
            other = (row + 1) % len(submission)
            submission["id"] = submission["id"].astype(object)
            submission.loc[other, "id"] = submission.loc[row, "id"]
            expected = ["Duplicate ids", "Ids missing"]
    elif corruption == "nan":
        submission.loc[row, column] = np.nan
        expected = [f"Column '{column}' has 1 empty or NaN value on data rows {row + 1} "]
    elif corruption == "text":
        submission[column] = submission[column].astype(object)
        submission.loc[row, column] = "oops"
        expected = [f"Column '{column}' holds text", f"{row + 1} ('oops')"]
    else:
        submission = submission.rename(columns={column: column + "_renamed"})
        expected = [f"Missing columns: '{column}'", f"Unexpected columns: '{column}_renamed'"]
    text = "\n".join(_problems(submission, sample))
    for words in expected:
        assert words in text


# --- properties: infinities always, and values outside [0, 1] for probability metrics ---

OUT_OF_RANGE = st.one_of(
    st.floats(min_value=1.0, exclude_min=True, allow_infinity=False),
    st.floats(max_value=0.0, exclude_max=True, allow_infinity=False),
    st.sampled_from([np.inf, -np.inf]),
)


@st.composite
def probability_submissions(draw) -> tuple[pd.DataFrame, pd.DataFrame]:
    sample = draw(samples())
    submission = sample.copy()
    for name in sample.columns[1:]:
        submission[name] = draw(
            st.lists(st.floats(0.0, 1.0), min_size=len(sample), max_size=len(sample))
        )
    return sample, submission


@settings(max_examples=100, deadline=None)
@given(probability_submissions(), st.sampled_from(["auc", "logloss", "multiclass_logloss"]))
def test_probabilities_within_0_and_1_pass_for_probability_metrics(pair, metric):
    sample, submission = pair
    validate_submission(submission, sample, id_column="id", metric=metric)


@settings(max_examples=150, deadline=None)
@given(probability_submissions(), OUT_OF_RANGE, st.data())
def test_one_value_outside_0_and_1_is_named_by_row_and_column(pair, value, data):
    sample, submission = pair
    row = data.draw(st.integers(0, len(submission) - 1), label="row")
    column = data.draw(st.sampled_from(list(submission.columns[1:])), label="column")
    submission.loc[row, column] = value
    (problem,) = _problems_for(submission, sample, metric="auc")
    kind = "infinite value" if np.isinf(value) else "outside [0, 1]"
    assert f"Column '{column}' holds 1 " in problem and kind in problem
    assert f"data rows {row + 1} (" in problem


@settings(max_examples=100, deadline=None)
@given(valid_submissions(), st.sampled_from([np.inf, -np.inf]), st.data())
def test_infinities_are_refused_whatever_the_metric(pair, value, data):
    sample, submission = pair
    submission = submission.reset_index(drop=True)
    row = data.draw(st.integers(0, len(submission) - 1), label="row")
    column = data.draw(st.sampled_from([c for c in submission.columns if c != "id"]))
    submission.loc[row, column] = value
    for metric in (None, "rmse", "auc"):
        problems = _problems_for(submission, sample, metric=metric)
        assert any(f"Column '{column}' holds 1 infinite value" in p for p in problems)


def test_values_outside_0_and_1_pass_when_the_metric_scores_values(sample):
    submission = sample.assign(target=[-3.0, 0.5, 7.0, 1e6])
    for metric in (None, "rmse", "mae", "r2"):
        validate_submission(submission, sample, id_column="id", metric=metric)
    problems = _problems_for(submission, sample, metric="logloss")
    assert problems == [
        "Column 'target' holds 3 values outside [0, 1] on data rows 1 (-3.0), 3 (7.0), "
        "4 (1000000.0) (data rows counted from 1 after the header; add 1 for the spreadsheet "
        "line); the metric logloss scores probabilities: submit the model's probabilities, or "
        "rescale scores into [0, 1] (ranks / n keep their order; clipping would tie them)."
    ]


def _problems_for(submission: pd.DataFrame, sample: pd.DataFrame, *, metric) -> list[str]:
    with pytest.raises(SubmissionFormatError) as caught:
        validate_submission(submission, sample, id_column="id", metric=metric)
    return caught.value.problems


# --- encodings: UTF-8 (with or without BOM) as is, Windows-1252/Latin-1 read correctly ---

CITIES = ["Café", "Zürich", "São Paulo", "Montréal", "Kraków"]


def test_a_latin1_file_is_read_correctly_with_a_note(tmp_path, caplog):
    path = tmp_path / "train.csv"
    frame = pd.DataFrame({"id": [1, 2, 3, 4], "city": ["Café", "Zürich", "São Paulo", "Oslo"]})
    path.write_bytes(frame.to_csv(index=False).encode("latin-1"))
    with caplog.at_level("WARNING", logger="pipelines"):
        read = read_csv_checked(path)
    pd.testing.assert_frame_equal(read, frame)
    # "id,city\n1,Caf" is 13 bytes: the é is the first byte that is not UTF-8.
    assert detect_encoding(path) == CsvEncoding("cp1252", first_non_utf8=13)
    (note,) = caplog.messages
    assert str(path) in note and "offset 13" in note and "Windows-1252" in note
    assert "iconv -f latin1 -t utf-8" in note


def test_windows_1252_punctuation_and_utf8_bom_are_read_as_written(tmp_path, caplog):
    text = "id,note\n1,“quoted” – 5 €\n2,plain\n"
    (tmp_path / "cp1252.csv").write_bytes(text.encode("cp1252"))
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (tmp_path / "utf8.csv").write_bytes(text.encode("utf-8"))
    with caplog.at_level("WARNING", logger="pipelines"):
        for name in ("cp1252.csv", "bom.csv", "utf8.csv"):
            read = read_csv_checked(tmp_path / name)
            assert read.columns.tolist() == ["id", "note"], name
            assert read["note"].tolist() == ["“quoted” – 5 €", "plain"], name
    assert len(caplog.messages) == 1 and "cp1252.csv" in caplog.messages[0]  # only the fallback
    assert detect_encoding(tmp_path / "bom.csv").name == "utf-8-sig"


def test_utf16_is_refused_naming_the_offset_and_iconv(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_bytes("id,city\n1,Zürich\n".encode("utf-16"))
    with pytest.raises(SubmissionFormatError) as caught:
        read_csv_checked(path)
    (problem,) = caught.value.problems
    assert "wide.csv" in problem and "offset 0" in problem and "NUL bytes" in problem
    assert "iconv -f utf-16 -t utf-8" in problem


def test_the_offset_is_exact_across_chunk_boundaries(tmp_path):
    from pipelines.submission import _first_undecodable

    path = tmp_path / "long.csv"
    # A valid two-byte "é" split across the 1000-byte chunk boundary, then a Latin-1 "é".
    path.write_bytes(b"a" * 999 + "é".encode() + b"x" * 10 + "é".encode("latin-1"))
    assert _first_undecodable(path, "utf-8", chunk=1000) == 1011
    assert _first_undecodable(path, "utf-8") == 1011


LATIN1_TEXT = st.text(
    alphabet=st.characters(
        codec="latin-1", exclude_categories=("Cc", "Cs", "Zl", "Zp"), exclude_characters=',"'
    ),
    min_size=1,
    max_size=12,
    # At least one accented letter: never a number or an NA word, always non-ASCII bytes.
).filter(lambda s: s.strip() == s and any(not c.isascii() and c.isalpha() for c in s))


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


@settings(max_examples=60, deadline=None)
@given(st.lists(LATIN1_TEXT, min_size=1, max_size=8), st.sampled_from(["latin-1", "utf-8"]))
def test_any_latin1_text_round_trips_in_either_encoding(tmp_path_factory, values, encoding):
    path = tmp_path_factory.mktemp("enc") / "data.csv"
    frame = pd.DataFrame({"id": range(len(values)), "name": values})
    data = frame.to_csv(index=False).encode(encoding)
    # Latin-1 bytes that are valid UTF-8 too ("Â\xa0" is the UTF-8 of "\xa0") read as UTF-8:
    # no reader can tell them apart, so they are no case of this property.
    assume(encoding == "utf-8" or not _decodes(data, "utf-8"))
    path.write_bytes(data)
    read = read_csv_checked(path)
    assert read["name"].astype(str).tolist() == values
