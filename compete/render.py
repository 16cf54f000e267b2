"""What the CLI prints: its two consoles, JSON for scripts, and the tables every command shares."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.protocol import rich_cast
from rich.table import Table

# Wide enough for any table we print; only used to measure, never as an output width.
_UNBOUNDED = 100_000


class FitConsole(Console):
    """A Rich console that, writing to a pipe or a file (CI logs, `| less`, a test's capture),
    is as wide as what it prints: a terminal's 80-column fallback would cut table cells to
    "messa…". In a terminal it wraps to the terminal's width as usual.

    Created without a file, so it writes to whatever `sys.stdout` (or `sys.stderr`) is at the
    time of printing, which is what an in-process test runner captures; `renew` detects the
    terminal and its colours again for a new invocation."""

    def renew(self) -> None:
        """Start over as a console made now would: a module imported while attached to a
        terminal must not send colour codes into the stream of a later invocation."""
        self.__init__(stderr=self.stderr)  # type: ignore[misc]

    def print(self, *objects: Any, **kwargs: Any) -> None:
        # soft_wrap prints lines whole already; a terminal keeps its own width.
        fits = self.is_terminal or kwargs.get("soft_wrap")
        needed = 0 if fits else self._needed_width(objects, markup=kwargs.get("markup"))
        if needed <= self.width:
            super().print(*objects, **kwargs)
            return
        # Console.print caps a `width=` argument at the console's width, so widen the console
        # itself for this one call.
        saved = self._width
        self._width = needed
        try:
            super().print(*objects, **kwargs)
        finally:
            self._width = saved

    def _needed_width(self, objects: tuple[Any, ...], *, markup: bool | None) -> int:
        # Text is measured as it will be printed: with or without markup.
        options = self.options.update(max_width=_UNBOUNDED, markup=markup)
        widths = [
            Measurement.get(self, options, item).maximum
            for item in map(rich_cast, objects)
            # Renderables that cannot measure themselves (Markdown, live displays) fill any
            # width they are given; they keep the console's width.
            if isinstance(item, str) or hasattr(item, "__rich_measure__")
        ]
        return max(widths, default=0)


out = FitConsole()
err = FitConsole(stderr=True)


def emit_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=json_default))


def json_default(value: Any) -> Any:
    """What `json.dumps` cannot encode by itself: dates, paths, enums and dataclasses."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def fmt(value: Any, digits: int = 5) -> str:
    """One table cell: "-" for nothing, floats to `digits` places, dates to the minute."""
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def describe_competition(competition: Any) -> str:
    """A practice competition in one line: title, metric, task, deadline, limit and sizes."""
    fields = asdict(competition) if is_dataclass(competition) else dict(vars(competition))
    labels = {"n_train": "train_rows", "n_test": "test_rows"}  # the host's names are terse
    keep = ["title", "metric", "task", "deadline", "daily_limit", "n_train", "n_test"]
    return "  " + "  ".join(f"{labels.get(k, k)}={fmt(fields[k])}" for k in keep if k in fields)


def render_cv(cv: Any, *, title: str, members: dict[str, float] | None = None,
              weights: dict[str, float] | None = None) -> None:  # fmt: skip
    """A cross-validation result as a table, with the blend's members and weights if any."""
    table = Table("model", "metric", "CV mean", "CV std", "folds", "device", "seconds", title=title)
    table.add_row(
        cv.model, cv.metric, fmt(cv.mean), fmt(cv.std), str(len(cv.fold_scores)), cv.device,
        f"{cv.fit_seconds:.1f}",
    )  # fmt: skip
    out.print(table)
    if cv.temperature != 1.0:
        out.print(f"probabilities temperature-scaled on the OOF: T = {cv.temperature:.3f}")
    if members:
        parts = Table("member run", "CV", "weight", title="blend members")
        for member, score in members.items():
            parts.add_row(member, fmt(score), fmt((weights or {}).get(member, 0.0), 3))
        out.print(parts)


def render_portfolio(portfolio: Any, *, title: str) -> None:
    """A portfolio (pipelines.portfolio.PortfolioResult): every member with its CV, seconds,
    seeds and ensemble weight, then the final ensemble's CV and how it was made."""
    cv = portfolio.result
    table = Table("member", "family", "kind", "seeds", "CV", "seconds", "weight", title=title)
    for m in portfolio.members:
        table.add_row(
            m.name, m.family, m.kind, str(len(m.seeds)), fmt(m.score), f"{m.seconds:.1f}",
            fmt(m.weight, 3),
        )  # fmt: skip
    how = "stacker" if portfolio.method == "stack" else "hill climbing"
    table.add_row(
        "ensemble", how, "", "", fmt(cv.mean), f"{portfolio.seconds:.1f}", fmt(1.0, 3),
        style="bold",
    )  # fmt: skip
    out.print(table)
    out.print(f"{cv.metric} CV {fmt(cv.mean)} +- {fmt(cv.std)} over {len(cv.fold_scores)} folds")


def render_analysis(evidence: Any) -> None:
    """What the history says: CV against public, public noise, shake-up, final picks."""
    from leaderboards.analysis import medal, percentile

    fit, noise = evidence.fit, evidence.noise
    lines = []
    if fit.spearman is not None:
        lines.append(
            f"CV vs public over {fit.n} submissions: Spearman {fit.spearman:.2f}, "
            f"Pearson {fit.pearson:.2f}; public = {fit.slope:.3f} x CV + {fit.intercept:.3f}"
        )
        for d in fit.disagreements[:3]:
            side = "better" if d.public_better_than_predicted else "worse"
            lines.append(f"  #{d.submission_id}: public {d.public:.5f} is {side} than CV predicts "
                         f"by {abs(d.residual):.5f}")  # fmt: skip
    if noise is not None:
        lines.append(
            f"public-score noise on {noise.n_public} rows (bootstrap of the best run's OOF): "
            f"std {noise.std:.5f}, 90% of public scores within [{noise.p05:.5f}, {noise.p95:.5f}]"
        )
    shake = evidence.shakeup
    if shake is not None and shake.matched:
        lines.append(
            f"shake-up over {shake.matched} teams: Spearman {fmt(shake.spearman, 2)} between "
            f"public and private rank, mean move {shake.mean_abs_change:.1f} places"
        )
        if shake.ours is not None:
            lines.append(
                f"  we went from public rank {shake.ours.public_rank} to private "
                f"{shake.ours.private_rank} ({shake.ours.change:+d})"
            )
    prediction = evidence.private_prediction
    if prediction.verdict in {"cv", "public", "tie"}:
        lines.append(
            f"private order predicted by CV: Spearman {prediction.cv_spearman:.2f}; by public: "
            f"{prediction.public_spearman:.2f} -> trust {prediction.verdict}"
        )
    final = next((s for s in reversed(evidence.history.snapshots) if s.board == "private"), None)
    if final is not None and final.our_rank:
        won = medal(final.our_rank, final.team_count)
        lines.append(
            f"final private rank {final.our_rank} of {final.team_count} "
            f"(top {percentile(final.our_rank, final.team_count):.1f}%)"
            + (f": a {won} medal under Kaggle's rules" if won else "")
        )
    if evidence.picks.picks:
        lines.append("final-pick advice:")
        for pick in evidence.picks.picks:
            lines.append(
                f"  {pick.role}: #{pick.submission_id} {pick.message!r} (CV {fmt(pick.cv)}, "
                f"public {pick.public:.5f}, expected private {pick.expected_private:.5f})"
            )
        lines += [f"  {why}" for why in evidence.picks.reasoning]
    for line in lines:
        out.print(line, highlight=False)


def render_history(found: Any, gains: Any = ()) -> None:
    """Submissions (with each public gain and how likely it is noise) and our rank over time."""
    from leaderboards.analysis import percentile

    c = found.competition
    out.print(f"[bold]{c.name}[/bold]  metric {c.metric or '?'}  deadline {fmt(c.deadline)}")
    by_id = {g.submission_id: g for g in gains}
    table = Table(
        "#", "when", "message", "status", "CV", "public", "private", "public gain", "P(noise)",
        title="submissions",
    )  # fmt: skip
    for s in found.submissions:
        gain = by_id.get(s.id)
        table.add_row(
            str(s.id), fmt(s.submitted_at or s.created_at), s.message, s.status,
            fmt(s.cv_score), fmt(s.public_score), fmt(s.private_score),
            f"{gain.gain:+.5f}" if gain else "-",
            f"{gain.p_noise:.0%}" if gain and gain.p_noise is not None else "-",
        )  # fmt: skip
    out.print(table)
    ranks = Table("when", "board", "our rank", "teams", "top %", title="our rank over time")
    for snap in found.snapshots:
        top = percentile(snap.our_rank, snap.team_count) if snap.our_rank else None
        ranks.add_row(
            fmt(snap.taken_at), snap.board, fmt(snap.our_rank), str(snap.team_count),
            fmt(top, 1),
        )  # fmt: skip
    out.print(ranks)
