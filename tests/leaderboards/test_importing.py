"""Importing what the Kaggle client saved: leaderboard downloads and submission lists, read from
real files and fed into a real SQLite store."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime

import pytest

from leaderboards.errors import ImportFormatError, StoreError
from leaderboards.importing import (
    board_of_download,
    read_leaderboard_download,
    read_submissions_csv,
)
from leaderboards.store import Store

HOST = "kaggle"
HEADER = "Rank,TeamId,TeamName,LastSubmissionDate,Score,SubmissionCount,TeamMemberUserNames"
PUBLIC = f"""{HEADER}
1,101,Top Team,2024-01-31 23:59:59,0.91234,40,alice
2,102,"Comma, Inc",2024-01-30T10:00:00Z,0.90100,12,bob
2,103,Gradient Pilgrims,2024-01-29T08:30:00.123456,0.90100,7,me
4,104,Late Joiner,2024-01-28,0.88000,1,carol
5,105,Quiet,01/27/2024 11:00:00,0.87000,3,dave
"""
PRIVATE = f"""{HEADER}
1,103,Gradient Pilgrims,2024-01-29 08:30:00,0.90500,7,me
2,101,Top Team,2024-01-31 23:59:59,0.90400,40,alice
3,104,Late Joiner,2024-01-28,0.89000,1,carol
4,102,"Comma, Inc",2024-01-30T10:00:00+02:00,0.88000,12,bob
5,105,Quiet,,0.80000,3,dave
"""
SUBMISSIONS = """fileName,date,description,status,publicScore,privateScore
blend.csv,2024-01-29 08:30:00,hill climb blend,SubmissionStatus.COMPLETE,0.90100,0.90500
lgbm.csv,2024-01-20 12:00:00,lgbm 5 folds,complete,0.88500,0.88800
broken.csv,2024-01-21 09:15:00,wrong columns,ERROR,,
late.csv,2024-02-01T00:00:00Z,after the deadline,pending,None,None
"""


def zipped(tmp_path, name: str, member: str, text: str):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, text)
    return path


@pytest.fixture
def store(tmp_path):
    opened = Store.open(f"sqlite:///{tmp_path / 'history.sqlite'}")
    opened.ensure_competition("titanic", host=HOST, metric="accuracy")
    yield opened
    opened.close()


def test_reads_a_zipped_public_board_in_rank_order(tmp_path):
    path = zipped(tmp_path, "titanic.zip", "titanic-publicleaderboard-2024-02-01.csv", PUBLIC)
    entries = read_leaderboard_download(path)
    assert [e.team_id for e in entries] == ["101", "102", "103", "104", "105"]
    assert entries[1].team_name == "Comma, Inc"
    assert entries[0].score_raw == "0.91234" and entries[0].score == pytest.approx(0.91234)
    assert [e.submission_date for e in entries] == [
        datetime(2024, 1, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2024, 1, 30, 10, 0, tzinfo=UTC),
        datetime(2024, 1, 29, 8, 30, 0, 123456, tzinfo=UTC),
        datetime(2024, 1, 28, tzinfo=UTC),
        datetime(2024, 1, 27, 11, 0, tzinfo=UTC),
    ]
    assert board_of_download(path) == "public"


def test_reads_a_plain_private_csv_sorted_by_rank_column(tmp_path):
    shuffled = PRIVATE.splitlines()
    text = "\n".join([shuffled[0], *reversed(shuffled[1:])]) + "\n"
    path = tmp_path / "titanic-privateleaderboard-2024-02-01.csv"
    path.write_text(text)
    entries = read_leaderboard_download(path)
    assert [e.team_name for e in entries][:2] == ["Gradient Pilgrims", "Top Team"]
    assert entries[3].submission_date == datetime(2024, 1, 30, 8, 0, tzinfo=UTC)  # +02:00
    assert entries[4].submission_date is None
    assert board_of_download(path) == "private"


def test_lenient_columns_bom_and_no_rank(tmp_path):
    path = tmp_path / "board.csv"
    path.write_text("\ufeffteam_name ,SCORE\nzeta,0.5\nalpha,0.7\n", encoding="utf-8")
    entries = read_leaderboard_download(path)
    assert [(e.team_id, e.team_name, e.score_raw) for e in entries] == [
        ("zeta", "zeta", "0.5"),
        ("alpha", "alpha", "0.7"),
    ]
    assert entries[0].submission_date is None
    assert board_of_download(path) is None


def test_board_of_download_names(tmp_path):
    assert board_of_download(tmp_path / "x-publicleaderboard.csv") == "public"
    assert board_of_download(tmp_path / "x_private_leaderboard.csv") == "private"
    assert board_of_download(tmp_path / "private.csv") == "private"
    assert board_of_download(tmp_path / "privateer-results.csv") is None


def test_leaderboards_feed_the_store_with_ties(tmp_path, store):
    public = zipped(tmp_path, "pub.zip", "titanic-publicleaderboard.csv", PUBLIC)
    private = zipped(tmp_path, "priv.zip", "titanic-privateleaderboard.csv", PRIVATE)
    taken = datetime(2024, 2, 1, tzinfo=UTC)
    for path in (public, private):
        store.add_snapshot(
            "titanic", host=HOST, board=board_of_download(path), taken_at=taken,
            entries=read_leaderboard_download(path), our_team="Gradient Pilgrims",
        )  # fmt: skip
    history = store.history("titanic", host=HOST)
    ranks = {s.board: (s.our_rank, s.team_count) for s in history.snapshots}
    assert ranks == {"public": (2, 5), "private": (1, 5)}  # tied second on public
    public_snapshot = next(s for s in history.snapshots if s.board == "public")
    stored = store.snapshot_entries(public_snapshot.id)
    assert [e.rank for e in stored] == [1, 2, 2, 4, 5]
    # Importing the same download again stores nothing new.
    store.add_snapshot(
        "titanic", host=HOST, board="public", taken_at=taken,
        entries=read_leaderboard_download(public), our_team="Gradient Pilgrims",
    )  # fmt: skip
    assert store.count("leaderboard_snapshots") == 2


def test_reads_submissions_with_stable_refs(tmp_path):
    path = tmp_path / "subs.csv"
    path.write_text(SUBMISSIONS)
    subs = read_submissions_csv(path)
    assert [s.file_name for s in subs] == ["blend.csv", "lgbm.csv", "broken.csv", "late.csv"]
    assert [s.status for s in subs] == ["COMPLETE", "COMPLETE", "ERROR", "PENDING"]
    assert subs[0].public_score_raw == "0.90100" and subs[0].private_score_raw == "0.90500"
    assert subs[3].public_score_raw == "" and subs[3].private_score_raw == ""
    assert subs[3].date == datetime(2024, 2, 1, tzinfo=UTC)
    assert len({s.ref for s in subs}) == 4
    assert [s.ref for s in read_submissions_csv(path)] == [s.ref for s in subs]


def test_submissions_keep_a_given_ref_and_skip_client_noise(tmp_path):
    path = tmp_path / "subs.csv"
    path.write_text(
        "Warning: Looks like you're using an outdated API Version\n"
        "ref,fileName,date,description,status,publicScore,privateScore\n"
        "12345,a.csv,2024-01-01 00:00:00,first,COMPLETE,0.5,\n"
        "\n"
        "Next Page Token = abc\n"
    )
    [sub] = read_submissions_csv(path)
    assert (sub.ref, sub.description, sub.private_score_raw) == ("12345", "first", "")


def test_submissions_feed_the_store_and_reimport_changes_nothing(tmp_path, store):
    path = tmp_path / "subs.csv"
    path.write_text(SUBMISSIONS)
    first = store.reconcile_submissions("titanic", host=HOST, remote=read_submissions_csv(path))
    assert first.added == 4
    again = store.reconcile_submissions("titanic", host=HOST, remote=read_submissions_csv(path))
    assert (again.added, again.updated) == (0, 0)
    history = store.history("titanic", host=HOST)
    by_name = {s.file_name: s for s in history.submissions}
    assert by_name["blend.csv"].public_score == pytest.approx(0.901)
    assert by_name["blend.csv"].private_score == pytest.approx(0.905)
    assert by_name["blend.csv"].status == "complete"
    assert by_name["broken.csv"].status == "error"
    assert by_name["late.csv"].status == "pending" and by_name["late.csv"].public_score is None
    # history is oldest first: the host's dates became the rows' times
    assert [s.file_name for s in history.submissions] == [
        "lgbm.csv", "broken.csv", "blend.csv", "late.csv",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.zip", None, r"empty\.zip: the zip holds no CSV file \(it holds notes\.txt\)"),
        ("two.zip", "two", r"several CSV files"),
        ("noscore.csv", "Rank,TeamId,TeamName\n1,1,a\n", r"noscore\.csv: no Score column"),
        ("text.csv", "hello world\n", r"text\.csv: no header line"),
        ("blank.csv", "", r"blank\.csv: no header line .*the file is empty"),
        ("rank.csv", "Rank,TeamName,Score\nfirst,a,0.5\n", r"rank\.csv, line 2: rank 'first'"),
        (
            "date.csv",
            "TeamName,Score,LastSubmissionDate\na,0.5,yesterday\n",
            r"date\.csv, line 2: cannot read the date 'yesterday'",
        ),
    ],
)
def test_malformed_leaderboards_say_what_is_wrong(tmp_path, name, content, message):
    path = tmp_path / name
    if name == "empty.zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("notes.txt", "nothing here")
    elif name == "two.zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("a-publicleaderboard.csv", PUBLIC)
            archive.writestr("b-publicleaderboard.csv", PUBLIC)
    else:
        path.write_text(content)
    with pytest.raises(ImportFormatError, match=message) as caught:
        read_leaderboard_download(path)
    assert isinstance(caught.value, StoreError)


def test_malformed_submissions_say_what_is_wrong(tmp_path):
    path = tmp_path / "subs.csv"
    path.write_text("fileName,date,description,status\na.csv,2024-01-01,m,COMPLETE\n")
    with pytest.raises(ImportFormatError, match=r"subs\.csv: no publicScore column"):
        read_submissions_csv(path)
    with pytest.raises(ImportFormatError, match=r"missing\.csv: no such file"):
        read_submissions_csv(tmp_path / "missing.csv")
    damaged = zipped(tmp_path, "damaged.zip", "x-publicleaderboard.csv", PUBLIC)
    raw = damaged.read_bytes()
    at = raw.index(b"Top Team")
    damaged.write_bytes(raw[:at] + b"Tip" + raw[at + 3 :])  # the CRC no longer matches
    with pytest.raises(ImportFormatError, match=r"damaged\.zip: a damaged zip file"):
        read_leaderboard_download(damaged)
