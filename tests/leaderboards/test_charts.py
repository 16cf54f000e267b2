"""Charts of a real history: a PNG that is a picture, an HTML page that works offline."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from leaderboards.charts import TITLES, chart_data, render_charts
from leaderboards.errors import ChartError
from leaderboards.records import LeaderboardEntry, RemoteSubmission
from leaderboards.store import Store

HOST = "practice"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
US = "Gradient Pilgrims"
CV = [0.801, 0.812, 0.809, 0.825, 0.831, 0.828]
PUBLIC = [0.795, 0.806, 0.811, 0.817, 0.826, 0.819]
PRIVATE = [0.790, 0.803, 0.801, 0.821, 0.823, 0.824]


def board(n: int, our_position: int, seed: int) -> list[LeaderboardEntry]:
    """`n` teams, best first, with us at `our_position`; team ids stable across boards."""
    import random

    order = list(range(1, n + 1))
    random.Random(seed).shuffle(order)
    teams = [t for t in order if t != 7]  # team 7 is us
    teams.insert(our_position - 1, 7)
    return [
        LeaderboardEntry(
            team_id=str(t),
            team_name=US if t == 7 else f"team {t}",
            score_raw=f"{0.85 - i * 0.002:.5f}",
            submission_date=T0,
        )  # fmt: skip
        for i, t in enumerate(teams)
    ]


@pytest.fixture
def store(tmp_path):
    opened = Store.open(f"sqlite:///{tmp_path / 'history.sqlite'}")
    opened.ensure_competition("churn", host=HOST, metric="auc")
    yield opened
    opened.close()


@pytest.fixture
def filled(store):
    remote = []
    for i, (cv, public, private) in enumerate(zip(CV, PUBLIC, PRIVATE, strict=True)):
        row = store.begin_submission(
            "churn", host=HOST, file_path=f"/ws/submissions/s{i}.csv", file_hash=f"{i:064x}",
            file_name=f"s{i}.csv", message=f"lgbm try {i}", cv_score=cv,
        )  # fmt: skip
        store.complete_submission(row.id, remote_ref=f"ref{i}")
        remote.append(
            RemoteSubmission(
                ref=f"ref{i}",
                file_name=f"s{i}.csv",
                description=f"lgbm try {i}",
                date=T0 + timedelta(hours=6 * i),
                status="COMPLETE",
                error=None,
                public_score_raw=f"{public}",
                private_score_raw=f"{private}",
            )  # fmt: skip
        )
    store.reconcile_submissions("churn", host=HOST, remote=remote)
    snaps = {}
    for day, (public_at, private_at) in enumerate([(12, 9), (8, 5), (6, 3)]):
        taken = T0 + timedelta(days=day + 1)
        snaps["public"] = store.add_snapshot(
            "churn", host=HOST, board="public", taken_at=taken,
            entries=board(30, public_at, seed=day), our_team=US,
        )  # fmt: skip
        snaps["private"] = store.add_snapshot(
            "churn", host=HOST, board="private", taken_at=taken,
            entries=board(30, private_at, seed=100 + day), our_team=US,
        )  # fmt: skip
    entries = {b: store.snapshot_entries(s.id) for b, s in snaps.items()}
    return store.history("churn", host=HOST), entries


def test_chart_data_reads_the_history(filled):
    history, entries = filled
    data = chart_data(
        history, metric="auc", greater_is_better=True, board_entries=entries, noise_std=0.004
    )
    assert data.score_label == "AUC (higher is better)"
    assert [len(data.scores[k]) for k in ("CV", "public", "private")] == [6, 6, 6]
    assert [p.rank for p in data.ranks["public"]] == [12, 8, 6]
    assert [p.rank for p in data.ranks["private"]] == [9, 5, 3]
    assert all(p.team_count == 30 for p in data.ranks["public"])
    assert len(data.cv_public) == 6 and data.slope is not None and data.slope > 0
    assert len(data.board) == 30
    ours = [p for p in data.board if p.ours]
    assert [(p.team_name, p.public_rank, p.private_rank) for p in ours] == [(US, 6, 3)]


def test_png_is_a_real_picture(filled, tmp_path):
    from matplotlib.image import imread

    history, entries = filled
    out = tmp_path / "charts" / "churn.png"
    written = render_charts(
        history, metric="auc", greater_is_better=True, out=out, board_entries=entries,
        noise_std=0.004,
    )  # fmt: skip
    assert written == [out]
    raw = out.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(raw) > 20_000
    height, width, channels = imread(out).shape
    assert (width, height) == (14 * 110, 10 * 110) and channels in (3, 4)


def test_html_is_self_contained_and_has_the_four_panels(filled, tmp_path):
    history, entries = filled
    out = tmp_path / "churn.html"
    render_charts(history, metric="rmse", greater_is_better=False, out=out, board_entries=entries)
    html = out.read_text(encoding="utf-8")
    for title in TITLES:
        assert title in html
    assert US in html
    assert "RMSE (lower is better)" in html
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, flags=re.IGNORECASE)
    assert "Plotly.newPlot" in html and len(html) > 1_000_000  # plotly.js is inline


def test_no_suffix_writes_both(filled, tmp_path):
    history, entries = filled
    written = render_charts(
        history, metric="auc", greater_is_better=True, out=tmp_path / "both",
        board_entries=entries,
    )  # fmt: skip
    assert [p.name for p in written] == ["both.png", "both.html"]
    assert all(p.stat().st_size > 20_000 for p in written)


def test_empty_history_renders_placeholders(store, tmp_path):
    history = store.history("churn", host=HOST)
    data = chart_data(history, metric="auc", greater_is_better=True)
    assert not any(data.scores.values()) and not data.board and data.slope is None
    png, html = tmp_path / "empty.png", tmp_path / "empty.html"
    render_charts(history, metric="auc", greater_is_better=True, out=png)
    render_charts(history, metric="auc", greater_is_better=True, out=html)
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert html.read_text(encoding="utf-8").count("no data yet: run compete sync") == 4


def test_unknown_suffix_is_a_clear_error(store, tmp_path):
    history = store.history("churn", host=HOST)
    with pytest.raises(ChartError, match=r"\.png or \.html"):
        render_charts(history, metric="auc", greater_is_better=True, out=tmp_path / "c.pdf")


def test_one_submission_and_one_snapshot_draw_without_warnings(store, tmp_path):
    import warnings

    store.reconcile_submissions(
        "churn", host=HOST,
        remote=[RemoteSubmission("r1", "a.csv", "m", T0, "COMPLETE", None, "0.8", "")],
    )  # fmt: skip
    store.add_snapshot(
        "churn", host=HOST, board="public", taken_at=T0,
        entries=[LeaderboardEntry("1", US, "0.8")], our_team=US,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. matplotlib's date locator on a zero-width span
        [png] = render_charts(
            store.history("churn", host=HOST), metric="auc", greater_is_better=True,
            out=tmp_path / "one.png",
        )  # fmt: skip
    assert png.stat().st_size > 20_000


def _burst(store, n: int, step: timedelta) -> None:
    """`n` submissions and public snapshots `step` apart, as the demo or a notebook makes them."""
    remote = [
        RemoteSubmission(
            f"b{i}",
            f"b{i}.csv",
            f"try {i}",
            T0 + i * step,
            "COMPLETE",
            None,
            f"{0.80 + 0.01 * i:.3f}",
            "",
        )  # fmt: skip
        for i in range(n)
    ]
    for i in range(n):
        row = store.begin_submission(
            "churn", host=HOST, file_path=f"/ws/b{i}.csv", file_hash=f"{i:064x}",
            file_name=f"b{i}.csv", message=f"try {i}", cv_score=0.81 + 0.01 * i,
        )  # fmt: skip
        store.complete_submission(row.id, remote_ref=f"b{i}")
    store.reconcile_submissions("churn", host=HOST, remote=remote)
    for i in range(n):
        store.add_snapshot(
            "churn", host=HOST, board="public", taken_at=T0 + i * step + timedelta(seconds=5),
            entries=board(20, 10 - i, seed=i), our_team=US,
        )  # fmt: skip


def _time_panels(store):
    from leaderboards.charts import draw_figure

    data = chart_data(store.history("churn", host=HOST), metric="auc", greater_is_better=True)
    scores, ranks = draw_figure(data).axes[:2]
    return scores, ranks


def test_submissions_within_minutes_are_plotted_by_their_order(store, tmp_path):
    _burst(store, 5, timedelta(seconds=40))  # all five within 3 minutes
    scores, ranks = _time_panels(store)
    assert scores.get_xlabel().startswith("submission number, in time order")
    assert ranks.get_xlabel().startswith("snapshot number, in time order")
    for ax in (scores, ranks):
        assert ax.get_xlim() == (0.5, 5.9)
        for line in ax.get_lines():
            assert list(line.get_xdata()) == [1, 2, 3, 4, 5]
    # Each submission's CV and public score share its number.
    cv, public = (line for line in scores.get_lines())
    assert list(cv.get_ydata()) == pytest.approx([0.81, 0.82, 0.83, 0.84, 0.85])
    assert list(public.get_ydata()) == pytest.approx([0.80, 0.81, 0.82, 0.83, 0.84])
    [png] = render_charts(
        store.history("churn", host=HOST), metric="auc", greater_is_better=True,
        out=tmp_path / "burst.png",
    )  # fmt: skip
    assert png.stat().st_size > 20_000


def test_a_long_span_keeps_dates(filled):
    history, entries = filled
    from leaderboards.charts import draw_figure

    data = chart_data(history, metric="auc", greater_is_better=True, board_entries=entries)
    scores, ranks = draw_figure(data).axes[:2]
    assert scores.get_xlabel() == "submitted (UTC)"
    assert ranks.get_xlabel() == "snapshot taken (UTC)"
    for ax in (scores, ranks):
        for line in ax.get_lines():
            assert all(isinstance(x, datetime) for x in line.get_xdata())
    (cv, *_), times = scores.get_lines(), [s.submitted_at for s in history.submissions]
    assert list(cv.get_xdata()) == sorted(times)


def test_html_time_axes_follow_the_same_rule(store, tmp_path):
    _burst(store, 4, timedelta(seconds=30))
    out = tmp_path / "burst.html"
    render_charts(store.history("churn", host=HOST), metric="auc", greater_is_better=True, out=out)
    text = out.read_text()
    assert "submission number, in time order" in text and "snapshot number" in text
