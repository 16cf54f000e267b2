"""Charts of one competition's history: scores over time, our rank over time, CV against public,
and the public-to-private shake-up of the whole board, as one PNG (matplotlib) or one
self-contained HTML page (plotly). matplotlib and plotly are imported only when drawing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from leaderboards.errors import ChartError, ChartNameError
from leaderboards.records import History, RankedEntry, SnapshotRecord

EMPTY = "no data yet: run compete sync"
TITLES = (
    "Scores over time",
    "Our rank over time",
    "CV vs public",
    "Public vs private rank (whole board)",
)
SCORE_STYLE = {  # series -> (colour, matplotlib marker, plotly symbol)
    "CV": ("#1f77b4", "o", "circle"),
    "public": ("#ff7f0e", "s", "square"),
    "private": ("#2ca02c", "D", "diamond"),
}
BOARD_COLOUR = {"public": "#ff7f0e", "private": "#2ca02c"}
OURS = "#d62728"
OTHERS = "#9a9a9a"
FIGSIZE = (14.0, 10.0)
DPI = 110
# Beyond this many points a series is labelled only at its newest point: labels would overlap.
LABEL_ALL_UP_TO = 8
# Points all within this span (a demo, a notebook, one evening's burst) would sit on one vertical
# line of a date axis: the time panels then number them in order instead.
SHORT_SPAN = timedelta(hours=1)


# -- what is drawn: plain data, shared by both renderers -----------------------------------------


@dataclass(frozen=True)
class ScorePoint:
    submission_id: int
    at: datetime
    value: float


@dataclass(frozen=True)
class RankPoint:
    at: datetime
    rank: int
    team_count: int


@dataclass(frozen=True)
class CvPoint:
    submission_id: int
    cv: float
    public: float


@dataclass(frozen=True)
class BoardPoint:
    team_id: str
    team_name: str
    public_rank: int
    private_rank: int
    ours: bool


@dataclass(frozen=True)
class ChartData:
    competition: str
    score_label: str  # "AUC (higher is better)"
    scores: dict[str, list[ScorePoint]]  # "CV" | "public" | "private"
    ranks: dict[str, list[RankPoint]]  # "public" | "private"
    cv_public: list[CvPoint]
    slope: float | None  # public = slope * cv + intercept
    intercept: float | None
    noise_std: float | None
    board: list[BoardPoint]
    our_team: str | None

    def fitted(self, cv: float) -> float | None:
        if self.slope is None or self.intercept is None:
            return None
        return self.slope * cv + self.intercept


def metric_label(metric: str, *, greater_is_better: bool) -> str:
    """ "auc" -> "AUC (higher is better)"; names with capitals are kept as written."""
    name = metric.strip() or "score"
    if name.islower() and len(name) <= 6:
        name = name.upper()
    return f"{name} ({'higher' if greater_is_better else 'lower'} is better)"


@dataclass(frozen=True)
class TimeAxis:
    """The x axis of a time panel: dates, or (over a short span) 1, 2, 3... in time order."""

    by_order: bool
    label: str
    position: dict[Any, int]  # key (submission id, or snapshot time) -> 1-based position

    def x(self, key: Any, at: datetime) -> Any:
        return self.position[key] if self.by_order else at


def time_axis(keyed: Sequence[tuple[Any, datetime]], *, what: str, date_label: str) -> TimeAxis:
    """Dates for `keyed` (key, time) points, unless they all fall within SHORT_SPAN: then each
    distinct key's position in time order, labelled "`what` number"."""
    ordered = sorted(dict(keyed).items(), key=lambda item: (item[1], str(item[0])))
    times = [at for _, at in ordered]
    if not times or max(times) - min(times) >= SHORT_SPAN:
        return TimeAxis(by_order=False, label=date_label, position={})
    minutes = max(1, round((max(times) - min(times)).total_seconds() / 60))
    label = f"{what} number, in time order (all within {minutes} min)"
    return TimeAxis(True, label, {key: i + 1 for i, (key, _) in enumerate(ordered)})


def score_axis(data: ChartData) -> TimeAxis:
    points = [(p.submission_id, p.at) for ps in data.scores.values() for p in ps]
    return time_axis(points, what="submission", date_label="submitted (UTC)")


def rank_axis(data: ChartData) -> TimeAxis:
    points = [(p.at, p.at) for ps in data.ranks.values() for p in ps]
    return time_axis(points, what="snapshot", date_label="snapshot taken (UTC)")


def chart_data(
    history: History,
    *,
    metric: str,
    greater_is_better: bool,
    board_entries: dict[str, list[RankedEntry]] | None = None,
    noise_std: float | None = None,
) -> ChartData:
    """Everything the four panels show, from the history; no drawing."""
    from leaderboards.analysis import cv_vs_public

    subs = history.submissions
    # The host's time of a submission when known, else when we recorded it.
    timed = sorted(subs, key=lambda s: (s.submitted_at or s.created_at, s.id))
    scores = {
        name: [
            ScorePoint(s.id, s.submitted_at or s.created_at, value)
            for s in timed
            if (value := getattr(s, field)) is not None
        ]
        for name, field in (
            ("CV", "cv_score"),
            ("public", "public_score"),
            ("private", "private_score"),
        )
    }
    ranks = {
        board: [
            RankPoint(s.taken_at, s.our_rank, s.team_count)
            for s in history.snapshots
            if s.board == board and s.our_rank is not None
        ]
        for board in ("public", "private")
    }
    cv_public = [
        CvPoint(s.id, s.cv_score, s.public_score)
        for s in subs
        if s.cv_score is not None and s.public_score is not None
    ]
    fit = cv_vs_public(subs, greater_is_better=greater_is_better)
    our_team = _our_team(history.snapshots)
    entries = board_entries if board_entries is not None else _newest_entries(history.snapshots)
    return ChartData(
        competition=history.competition.name,
        score_label=metric_label(metric, greater_is_better=greater_is_better),
        scores=scores,
        ranks=ranks,
        cv_public=cv_public,
        slope=fit.slope,
        intercept=fit.intercept,
        noise_std=noise_std,
        board=_board_points(entries, our_team),
        our_team=our_team,
    )


def _our_team(snapshots: Sequence[SnapshotRecord]) -> str | None:
    named = [s.our_team for s in snapshots if s.our_team]
    return named[-1] if named else None


def _newest_entries(snapshots: Sequence[SnapshotRecord]) -> dict[str, list[RankedEntry]]:
    """The entries of each board's newest snapshot, where the caller loaded them."""
    newest: dict[str, list[RankedEntry]] = {}
    for snapshot in snapshots:  # oldest first: later ones win
        if snapshot.entries:
            newest[snapshot.board] = list(snapshot.entries)
    return newest


def _board_points(entries: dict[str, list[RankedEntry]], our_team: str | None) -> list[BoardPoint]:
    private = {e.team_id: e for e in entries.get("private", [])}
    wanted = our_team.casefold() if our_team else None
    points = []
    for entry in entries.get("public", []):
        other = private.get(entry.team_id)
        if other is None:
            continue
        ours = wanted is not None and (
            entry.team_id == our_team or entry.team_name.casefold() == wanted
        )
        points.append(BoardPoint(entry.team_id, entry.team_name, entry.rank, other.rank, ours))
    return points


# -- the entry point -----------------------------------------------------------------------------


def render_charts(
    history: History,
    *,
    metric: str,
    greater_is_better: bool,
    out: Path,
    board_entries: dict[str, list[RankedEntry]] | None = None,
    noise_std: float | None = None,
) -> list[Path]:
    """Write the four panels to `out`: a `.png` (matplotlib, no GUI) or an `.html` page that
    works offline (plotly.js inline). `out` without a suffix writes both, `out.png` and
    `out.html`. Returns the paths written. `board_entries` ({"public": [...], "private": [...]})
    feeds the whole-board panel; without it the snapshots' loaded entries are used."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix in (".png", ".html", ".htm"):
        targets = [out]
    elif suffix == "":
        targets = [out.with_suffix(".png"), out.with_suffix(".html")]
    else:
        raise ChartNameError(f"cannot write charts to {out}: name a .png or .html file")
    data = chart_data(
        history,
        metric=metric,
        greater_is_better=greater_is_better,
        board_entries=board_entries,
        noise_std=noise_std,
    )
    for target in targets:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ChartError(f"cannot write charts to {target}: {error.strerror}") from None
        if target.suffix.lower() == ".png":
            _write_png(data, target)
        else:
            _write_html(data, target)
    return targets


# -- matplotlib ----------------------------------------------------------------------------------


def draw_figure(data: ChartData) -> Any:
    """The four panels as a matplotlib Figure (2 x 2 axes, in TITLES order)."""
    # A bare Figure (no pyplot) draws with Agg and touches no GUI or global figure registry.
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    axes = fig.subplots(2, 2)
    fig.suptitle(f"{data.competition}: {data.score_label}", fontsize=15, fontweight="bold")
    _mpl_scores(axes[0][0], data)
    _mpl_ranks(axes[0][1], data)
    _mpl_cv_public(axes[1][0], data)
    _mpl_board(axes[1][1], data)
    return fig


def _write_png(data: ChartData, out: Path) -> None:
    draw_figure(data).savefig(out, format="png", dpi=DPI)


def _mpl_empty(ax: Any) -> None:
    ax.text(
        0.5, 0.5, EMPTY, transform=ax.transAxes, ha="center", va="center",
        fontsize=12, color="#555555", style="italic",
    )  # fmt: skip
    ax.set_xticks([])
    ax.set_yticks([])


def _mpl_time_axis(ax: Any, axis: TimeAxis) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel(axis.label)
    if axis.by_order:
        ax.set_xlim(0.5, len(axis.position) + 0.9)  # room for the newest point's label
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        return
    locator = AutoDateLocator(maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _mpl_scores(ax: Any, data: ChartData) -> None:
    ax.set_title(TITLES[0], fontsize=13)
    ax.set_xlabel("submitted (UTC)")
    ax.set_ylabel(data.score_label)
    if not any(data.scores.values()):
        _mpl_empty(ax)
        return
    axis = score_axis(data)
    for name, points in data.scores.items():
        if not points:
            continue
        colour, marker, _ = SCORE_STYLE[name]
        ax.plot(
            [axis.x(p.submission_id, p.at) for p in points], [p.value for p in points],
            marker=marker, color=colour, label=f"{name} ({len(points)})", linewidth=1.5,
            markersize=7,
        )  # fmt: skip
    _mpl_time_axis(ax, axis)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=10)


def _mpl_ranks(ax: Any, data: ChartData) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.set_title(TITLES[1], fontsize=13)
    ax.set_xlabel("snapshot taken (UTC)")
    ax.set_ylabel("our rank (1 = top)")
    if not any(data.ranks.values()):
        _mpl_empty(ax)
        return
    axis = rank_axis(data)
    for board, points in data.ranks.items():
        if not points:
            continue
        colour = BOARD_COLOUR[board]
        ax.plot(
            [axis.x(p.at, p.at) for p in points], [p.rank for p in points], marker="o",
            color=colour, label=f"{board} board", linewidth=2, markersize=8,
        )  # fmt: skip
        shown = points if len(points) <= LABEL_ALL_UP_TO else points[-1:]
        for p in shown:
            ax.annotate(
                f"#{p.rank} of {p.team_count}", (axis.x(p.at, p.at), p.rank),
                textcoords="offset points", xytext=(6, 8), fontsize=9, color=colour,
                fontweight="bold",
            )  # fmt: skip
    worst = max(p.rank for points in data.ranks.values() for p in points)
    pad = max(1.0, 0.12 * worst)
    ax.set_ylim(worst + pad, 1 - pad)  # inverted: rank 1 at the top; room for the labels
    ax.margins(x=0.1)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}" if v >= 1 else ""))
    _mpl_time_axis(ax, axis)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=10)


def _mpl_cv_public(ax: Any, data: ChartData) -> None:
    ax.set_title(TITLES[2], fontsize=13)
    ax.set_xlabel(f"CV {data.score_label}")
    ax.set_ylabel(f"public {data.score_label}")
    if not data.cv_public:
        _mpl_empty(ax)
        return
    cv = [p.cv for p in data.cv_public]
    public = [p.public for p in data.cv_public]
    low, high = min(cv), max(cv)
    pad = (high - low) * 0.05 or abs(low) * 0.01 or 0.01
    xs = [low - pad, high + pad]
    if data.slope is not None:
        ys = [data.fitted(x) for x in xs]
        ax.plot(xs, ys, color="#444444", linewidth=1.5, label="fit (Theil-Sen)")
        if data.noise_std:
            ax.fill_between(
                xs, [y - data.noise_std for y in ys], [y + data.noise_std for y in ys],
                color="#888888", alpha=0.18, label=f"±{data.noise_std:.3g} public noise",
            )  # fmt: skip
    ax.scatter(
        cv, public, s=60, color=SCORE_STYLE["public"][0], edgecolor="black", zorder=3,
        label="our submissions",
    )  # fmt: skip
    for p in data.cv_public:
        ax.annotate(
            f"#{p.submission_id}", (p.cv, p.public), textcoords="offset points", xytext=(5, 5),
            fontsize=9,
        )  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=10)


def _mpl_board(ax: Any, data: ChartData) -> None:
    ax.set_title(TITLES[3], fontsize=13)
    ax.set_xlabel("public rank (1 = top)")
    ax.set_ylabel("private rank (1 = top)")
    if not data.board:
        _mpl_empty(ax)
        return
    others = [p for p in data.board if not p.ours]
    ours = [p for p in data.board if p.ours]
    top = max(max(p.public_rank, p.private_rank) for p in data.board)
    ax.plot([1, top], [1, top], color="#444444", linestyle="--", linewidth=1, label="no change")
    small = len(others) > 300  # a big board is a cloud: smaller, fainter dots
    ax.scatter(
        [p.public_rank for p in others], [p.private_rank for p in others], s=6 if small else 18,
        color=OTHERS, alpha=0.5 if small else 0.7, label=f"other teams ({len(others)})",
    )  # fmt: skip
    for p in ours:
        ax.scatter(
            [p.public_rank], [p.private_rank], s=260, marker="*", color=OURS,
            edgecolor="black", zorder=4, label=f"us: {p.team_name}",
        )  # fmt: skip
        ax.annotate(
            f"{p.team_name}\npublic #{p.public_rank} → private #{p.private_rank}",
            (p.public_rank, p.private_rank), textcoords="offset points", xytext=(10, -4),
            fontsize=10, color=OURS, fontweight="bold", va="top", zorder=5,
            bbox={"facecolor": "white", "edgecolor": OURS, "alpha": 0.85},  # over a dense board
        )  # fmt: skip
    margin = max(1.0, 0.04 * top)
    ax.set_xlim(1 - margin, top + margin)
    ax.set_ylim(top + margin, 1 - margin)  # inverted: rank 1 at the top
    # Off the diagonal corners are where few teams land: room for the key and the legend.
    ax.text(
        0.98, 0.97, "above the line: rose after the deadline\nbelow the line: fell",
        transform=ax.transAxes, ha="right", va="top", fontsize=9, zorder=5,
        bbox={"facecolor": "white", "edgecolor": "#cccccc", "alpha": 0.9},
    )  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=10, framealpha=0.9)


# -- plotly --------------------------------------------------------------------------------------


def _write_html(data: ChartData, out: Path) -> None:
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=2, cols=2, subplot_titles=TITLES, horizontal_spacing=0.09, vertical_spacing=0.13
    )
    _plotly_scores(fig, data)
    _plotly_ranks(fig, data)
    _plotly_cv_public(fig, data)
    _plotly_board(fig, data)
    fig.update_layout(
        title={"text": f"{data.competition}: {data.score_label}", "x": 0.5},
        height=int(FIGSIZE[1] * 90),
        template="plotly_white",
        legend={"orientation": "h", "y": -0.08},
        hovermode="closest",
    )
    fig.write_html(out, include_plotlyjs=True, full_html=True, config={"displaylogo": False})


def _plotly_empty(fig: Any, row: int, col: int) -> None:
    import plotly.graph_objects as go

    # An axis pair with no trace is not drawn at all: give it an invisible one.
    fig.add_trace(
        go.Scatter(x=[None], y=[None], showlegend=False, hoverinfo="skip"), row=row, col=col
    )
    index = (row - 1) * 2 + col
    x_axis = fig.layout["xaxis" if index == 1 else f"xaxis{index}"]
    y_axis = fig.layout["yaxis" if index == 1 else f"yaxis{index}"]
    fig.add_annotation(
        text=EMPTY, xref="paper", yref="paper", x=sum(x_axis.domain) / 2,
        y=sum(y_axis.domain) / 2, xanchor="center", yanchor="middle", showarrow=False,
        font={"size": 14, "color": "#555555"},
    )  # fmt: skip
    hidden = {"showticklabels": False, "showgrid": False, "zeroline": False}
    fig.update_xaxes(**hidden, row=row, col=col)
    fig.update_yaxes(**hidden, row=row, col=col)


def _plotly_scores(fig: Any, data: ChartData) -> None:
    import plotly.graph_objects as go

    fig.update_xaxes(title_text="submitted (UTC)", row=1, col=1)
    fig.update_yaxes(title_text=data.score_label, row=1, col=1)
    if not any(data.scores.values()):
        _plotly_empty(fig, 1, 1)
        return
    axis = score_axis(data)
    when = "" if axis.by_order else "<br>%{x|%Y-%m-%d %H:%M}"
    for name, points in data.scores.items():
        if not points:
            continue
        colour, _, symbol = SCORE_STYLE[name]
        fig.add_trace(
            go.Scatter(
                x=[axis.x(p.submission_id, p.at) for p in points], y=[p.value for p in points],
                mode="lines+markers", name=name,
                marker={"symbol": symbol, "size": 9, "color": colour},
                line={"color": colour}, customdata=[p.submission_id for p in points],
                hovertemplate=f"{name}: %{{y:.6g}}<br>submission #%{{customdata}}{when}"
                "<extra></extra>",
            ),
            row=1, col=1,
        )  # fmt: skip
    _plotly_time_axis(fig, axis, row=1, col=1)


def _plotly_time_axis(fig: Any, axis: TimeAxis, *, row: int, col: int) -> None:
    if axis.by_order:
        fig.update_xaxes(
            title_text=axis.label, tickmode="linear", tick0=1, dtick=1,
            range=[0.5, len(axis.position) + 0.5], row=row, col=col,
        )  # fmt: skip


def _plotly_ranks(fig: Any, data: ChartData) -> None:
    import plotly.graph_objects as go

    fig.update_xaxes(title_text="snapshot taken (UTC)", row=1, col=2)
    fig.update_yaxes(title_text="our rank (1 = top)", autorange="reversed", row=1, col=2)
    if not any(data.ranks.values()):
        _plotly_empty(fig, 1, 2)
        return
    axis = rank_axis(data)
    when = "" if axis.by_order else "<br>%{x|%Y-%m-%d %H:%M}"
    for board, points in data.ranks.items():
        if not points:
            continue
        colour = BOARD_COLOUR[board]
        labels = [
            f"#{p.rank}/{p.team_count}" if len(points) <= LABEL_ALL_UP_TO or i == len(points) - 1
            else ""
            for i, p in enumerate(points)
        ]  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=[axis.x(p.at, p.at) for p in points], y=[p.rank for p in points],
                mode="lines+markers+text",
                name=f"{board} board rank", text=labels, textposition="top center",
                cliponaxis=False,
                marker={"size": 10, "color": colour}, line={"color": colour, "width": 2},
                customdata=[p.team_count for p in points],
                hovertemplate=f"{board} board: rank %{{y}} of %{{customdata}} teams"
                f"{when}<extra></extra>",
            ),
            row=1, col=2,
        )  # fmt: skip
    _plotly_time_axis(fig, axis, row=1, col=2)


def _plotly_cv_public(fig: Any, data: ChartData) -> None:
    import plotly.graph_objects as go

    fig.update_xaxes(title_text=f"CV {data.score_label}", row=2, col=1)
    fig.update_yaxes(title_text=f"public {data.score_label}", row=2, col=1)
    if not data.cv_public:
        _plotly_empty(fig, 2, 1)
        return
    cv = [p.cv for p in data.cv_public]
    low, high = min(cv), max(cv)
    pad = (high - low) * 0.05 or abs(low) * 0.01 or 0.01
    xs = [low - pad, high + pad]
    if data.slope is not None:
        ys = [data.fitted(x) for x in xs]
        if data.noise_std:
            band = data.noise_std
            fig.add_trace(
                go.Scatter(
                    x=xs + xs[::-1], y=[y + band for y in ys] + [y - band for y in ys[::-1]],
                    mode="lines", fill="toself", fillcolor="rgba(136,136,136,0.2)",
                    line={"width": 0},
                    name=f"±{band:.3g} public noise", hoverinfo="skip",
                ),
                row=2, col=1,
            )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=xs, y=ys, mode="lines", name="fit (Theil-Sen)",
                line={"color": "#444444", "width": 2}, hoverinfo="skip",
            ),
            row=2, col=1,
        )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=cv, y=[p.public for p in data.cv_public], mode="markers+text",
            name="our submissions", text=[f"#{p.submission_id}" for p in data.cv_public],
            textposition="top right", cliponaxis=False,
            marker={"size": 11, "color": SCORE_STYLE["public"][0],
                    "line": {"color": "black", "width": 1}},
            hovertemplate="submission %{text}<br>CV %{x:.6g}<br>public %{y:.6g}<extra></extra>",
        ),
        row=2, col=1,
    )  # fmt: skip


def _plotly_board(fig: Any, data: ChartData) -> None:
    import plotly.graph_objects as go

    fig.update_xaxes(title_text="public rank (1 = top)", row=2, col=2)
    fig.update_yaxes(title_text="private rank (1 = top)", autorange="reversed", row=2, col=2)
    if not data.board:
        _plotly_empty(fig, 2, 2)
        return
    others = [p for p in data.board if not p.ours]
    ours = [p for p in data.board if p.ours]
    top = max(max(p.public_rank, p.private_rank) for p in data.board)
    fig.add_trace(
        go.Scatter(
            x=[1, top], y=[1, top], mode="lines", name="no change",
            line={"color": "#444444", "dash": "dash", "width": 1}, hoverinfo="skip",
        ),
        row=2, col=2,
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=[p.public_rank for p in others], y=[p.private_rank for p in others],
            mode="markers", name="other teams", marker={"size": 6, "color": OTHERS},
            text=[p.team_name for p in others],
            hovertemplate="%{text}<br>public #%{x} → private #%{y}<extra></extra>",
        ),
        row=2, col=2,
    )  # fmt: skip
    fig.add_annotation(
        text="above the line: rose after the deadline<br>below the line: fell",
        xref="x4 domain", yref="y4 domain", x=0.99, y=0.99, xanchor="right", yanchor="top",
        showarrow=False, align="right", bgcolor="rgba(255,255,255,0.85)", font={"size": 11},
    )  # fmt: skip
    if ours:
        fig.add_trace(
            go.Scatter(
                x=[p.public_rank for p in ours], y=[p.private_rank for p in ours],
                mode="markers+text", name=f"us: {ours[0].team_name}",
                text=[p.team_name for p in ours], textposition="middle right",
                textfont={"color": OURS, "size": 13},
                marker={"size": 18, "symbol": "star", "color": OURS,
                        "line": {"color": "black", "width": 1}},
                hovertemplate="us: %{text}<br>public #%{x} → private #%{y}<extra></extra>",
            ),
            row=2, col=2,
        )  # fmt: skip
