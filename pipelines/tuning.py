"""Optuna search around cross-validation: storages, search spaces, and the study loop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.cv import cross_validate
from pipelines.deadline import Deadline
from pipelines.errors import PipelinesError, TuningTerminated
from pipelines.metrics import Metric, get_metric
from pipelines.models import FAMILIES, get_family
from pipelines.models.nn import nn_space
from pipelines.processes import process_alive
from pipelines.result import CVResult

if TYPE_CHECKING:
    import optuna

    from pipelines.features import Prepared

Space = Callable[["optuna.Trial"], dict[str, Any]]

RDB_SCHEMES = ("postgresql", "sqlite", "mysql")
# Network epochs are reported at step fold * EPOCH_STEPS + epoch, so folds never share a step.
EPOCH_STEPS = 10_000
# RDB studies span machines: a worker killed outright (SIGKILL, power loss) stops beating, and
# after the grace period the next worker to start a trial records its trial as FAIL.
HEARTBEAT_SECONDS = 30
GRACE_SECONDS = 120
WORKER_ATTR = "worker"  # {"host", "pid"} of the process running a trial


__all__ = ["SPACES", "describe_storage", "nn_space", "open_storage", "tune"]


class _Spaces(Mapping[str, Space]):
    """Each family's search space, read from the registry (pipelines.models) when looked up,
    so that a family whose library is missing fails only when it is tuned, not on import."""

    def __getitem__(self, name: str) -> Space:
        return FAMILIES[name].search_space

    def __iter__(self) -> Iterator[str]:
        return iter(FAMILIES)

    def __len__(self) -> int:
        return len(FAMILIES)


SPACES: Mapping[str, Space] = _Spaces()


@dataclass(frozen=True)
class TrialSummary:
    """One trial of a study: its number, state, CV score (None unless complete), params."""

    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    seconds: float | None


@dataclass(frozen=True)
class TuneResult:
    """A study after `tune`: counts over the whole study (every process), the best trial's
    params and score, and its CVResult ready to save."""

    study_name: str
    storage: str
    n_trials: int
    n_complete: int
    n_pruned: int
    n_run: int  # trials that this call ran to an end
    best_params: dict[str, Any]
    best_value: float
    best: CVResult
    trials: tuple[TrialSummary, ...]


def _is_rdb_url(url: str) -> bool:
    return "://" in url and url.split("://", 1)[0].split("+", 1)[0] in RDB_SCHEMES


def open_storage(url: str | None = None, journal_path: str | Path | None = None) -> Any:
    """An Optuna storage: an RDB storage for postgresql+psycopg:// (many machines), sqlite://
    or mysql:// URLs; otherwise a journal file, at `url` read as a path or at `journal_path`
    (one machine, many processes)."""
    import optuna

    if url is not None and _is_rdb_url(url):
        return _rdb_storage(url)
    if url is not None and "://" in url:
        raise PipelinesError(
            f"Storage URL {describe_storage(url)!r} is not supported; use postgresql+psycopg://"
            "user@host/db, sqlite:///file.db, or a journal file path."
        )
    path = Path(url) if url is not None else journal_path
    if path is None:
        raise PipelinesError("No study storage: give a storage URL or a journal file path.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))


def _rdb_storage(url: str, attempts: int = 5) -> Any:
    """RDBStorage, retried when workers starting together on an empty database race to create
    Optuna's tables (one wins; the others then find the tables and go on)."""
    import optuna
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    def make() -> Any:
        with warnings.catch_warnings():
            # Heartbeats are "experimental" in Optuna 5 but long in use; the note is noise.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS
            )

    for attempt in range(attempts - 1):
        try:
            return make()
        except (IntegrityError, ProgrammingError):
            time.sleep(0.2 * (attempt + 1))
    return make()


def describe_storage(storage: Any) -> str:
    """Where a study lives, without passwords: the URL, "journal:PATH" or "memory"."""
    import optuna

    if storage is None or isinstance(storage, optuna.storages.InMemoryStorage):
        return "memory"
    if isinstance(storage, (str, Path)):
        text = str(storage)
        if _is_rdb_url(text):
            from sqlalchemy.engine import make_url

            return make_url(text).render_as_string(hide_password=True)
        return f"journal:{text}"
    if isinstance(storage, optuna.storages.RDBStorage):
        return describe_storage(storage.url)
    if isinstance(storage, optuna.storages.JournalStorage):
        backend = getattr(storage, "_backend", None)
        path = getattr(backend, "_file_path", None)
        return f"journal:{path}" if path else "journal"
    return type(storage).__name__


def _default_pruner(model: str) -> optuna.pruners.BasePruner:
    import optuna

    # Trees report once per fold: never prune on the first fold alone. Networks report per
    # epoch: let the first epochs pass, as their loss falls fast from any start.
    warmup = 3 if get_family(model).epoch_callbacks else 1
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup)


def _merge(fixed: Mapping[str, Any] | None, sampled: dict[str, Any]) -> dict[str, Any]:
    """Sampled params over fixed ones; nested groups (the hybrid's "nn"/"lgbm") merge too."""
    merged = dict(fixed or {})
    for key, value in sampled.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _summary(trial: optuna.trial.FrozenTrial) -> TrialSummary:
    seconds = trial.duration.total_seconds() if trial.duration is not None else None
    return TrialSummary(
        number=trial.number,
        state=trial.state.name,
        value=trial.value if trial.state.name == "COMPLETE" else None,
        params=dict(trial.params),
        seconds=seconds,
    )


def tune(
    data: Prepared,
    *,
    model: str,
    metric: str | Metric,
    folds: np.ndarray,
    study_name: str,
    n_trials: int | None = None,
    timeout: float | None = None,
    storage: Any = None,
    seed: int = 0,
    device: str = "auto",
    params: Mapping[str, Any] | None = None,
    space: Space | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    on_trial: Callable[[TrialSummary], None] | None = None,
    budget: Deadline | None = None,
) -> TuneResult:
    """Run (or resume) the Optuna study `study_name` over `model`'s search space, scored by
    cross-validation on `folds`.

    `storage`: an Optuna storage, a URL/path for `open_storage`, or None (in memory).
    `n_trials` caps the trials of the whole study, counted across every process that joins it
    (a resumed study runs only the rest); failed trials (a process stopped mid-trial) do not
    count, so the study still gets `n_trials` complete or pruned ones. `timeout` (seconds)
    stops starting new trials, and once it has passed a running trial is pruned at its next
    fold (LightGBM) or epoch (network) as soon as the study has a complete trial, so a run
    overshoots by one fold or epoch at most.
    Sampling is TPE seeded with `seed`; a median pruner reads the running mean of the fold
    scores (LightGBM) or each epoch's validation loss (networks). `params` are fixed settings
    under the sampled ones (e.g. fewer trees in a quick study); `space` replaces SPACES[model].
    Each trial's CV summary and params go into its user attrs; `on_trial` sees each trial that
    this call ends. A failing trial is recorded as FAIL and its error raised; so is the running
    trial when SIGTERM arrives (TuningTerminated). Trials left RUNNING by a process that died
    are recorded as FAIL before each new trial (`fail_abandoned_trials`).
    """
    import optuna

    get_family(model)  # an unknown model is refused before the study is made
    # `budget`, the deadline of the whole call, bounds the refit of a best trial made elsewhere;
    # the timeout defaults to the time left before it. A trial's folds share the time left
    # before the timeout (cross_validate's deadline), so even a first trial, never pruned,
    # ends near it with every fold fitted.
    if timeout is None and budget is not None and budget.bounded:
        timeout = budget.remaining()
    if n_trials is None and timeout is None:
        raise PipelinesError("tune needs n_trials or timeout (or both) to know when to stop.")
    if n_trials is not None and n_trials < 1:
        raise PipelinesError(f"n_trials must be at least 1, got {n_trials}.")
    metric = get_metric(metric) if isinstance(metric, str) else metric
    space = space or SPACES[model]
    if isinstance(storage, (str, Path)):
        description, storage = describe_storage(storage), open_storage(str(storage))
    else:
        description = describe_storage(storage)
        storage = storage or optuna.storages.InMemoryStorage()
    direction = "maximize" if metric.greater_is_better else "minimize"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction=direction,
        load_if_exists=True,
        pruner=pruner or _default_pruner(model),
    )
    if study.direction.name.lower() != direction:
        raise PipelinesError(
            f"Study {study_name!r} in {description} was made to {study.direction.name.lower()}, "
            f"but {metric.name!r} must {direction}: use another study name."
        )
    # The seed moves on by the trials already made, so a resumed study samples afresh and a
    # fresh one repeats exactly.
    existing = len(study.get_trials(deepcopy=False))
    study.sampler = optuna.samplers.TPESampler(seed=seed + existing)

    # The timeout runs on the budget's clock (time.monotonic unless a test scripts one).
    clock = budget.clock if budget is not None else time.monotonic
    deadline = Deadline.never() if timeout is None else Deadline.after(timeout, clock)
    best: tuple[int, CVResult] | None = None
    n_run = 0
    termination = _Termination()
    with _on_sigterm(termination):
        while not deadline.passed():
            termination.check()
            # Trials left RUNNING by a killed process would never end: fail them first.
            fail_abandoned_trials(study)
            if n_trials is not None and _counted(study) >= n_trials:
                break
            with warnings.catch_warnings():
                # Optuna warns that heartbeats are meant for optimize(); `_heartbeat` beats here.
                warnings.filterwarnings("ignore", message="Heartbeat of storage")
                trial = study.ask()
            if n_trials is not None and _counted(study, below=trial.number) >= n_trials:
                # Trial numbers are handed out under a lock on the study, so another process
                # filled the budget between the check and ask: hand this trial back untouched
                # (WAITING, a resume runs it) rather than run past n_trials or leave a FAIL.
                storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.WAITING)
                break
            trial.set_user_attr(WORKER_ATTR, {"host": socket.gethostname(), "pid": os.getpid()})
            with _heartbeat(storage, trial._trial_id):
                result = _run_trial(
                    trial, study, data, model, metric, folds, params, space, seed, device,
                    deadline, termination,
                )  # fmt: skip
            n_run += 1
            frozen = storage.get_trial(trial._trial_id)
            if on_trial is not None:
                on_trial(_summary(frozen))
            if result is not None and (best is None or metric.is_better(result.mean, best[1].mean)):
                best = (trial.number, result)

    finished = study.get_trials(deepcopy=False)
    complete = [t for t in finished if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise PipelinesError(
            f"Study {study_name!r} has no complete trial yet ({len(finished)} trials); give it "
            "more trials or a longer timeout."
        )
    best_trial = study.best_trial
    best_params = dict(best_trial.user_attrs["params"])
    if best is not None and best[0] == best_trial.number:
        best_result = best[1]
    else:
        # The best trial ran in another process or an earlier call: make its predictions again.
        best_result = cross_validate(
            data,
            model=model,
            metric=metric,
            folds=folds,
            params=best_params,
            seed=seed,
            device=device,
            deadline=budget,
        )
    return TuneResult(
        study_name=study_name,
        storage=description,
        n_trials=len(finished),
        n_complete=len(complete),
        n_pruned=sum(t.state == optuna.trial.TrialState.PRUNED for t in finished),
        n_run=n_run,
        best_params=best_params,
        best_value=float(best_trial.value),
        best=best_result,
        trials=tuple(_summary(t) for t in finished),
    )


def _counted(study: optuna.Study, below: int | None = None) -> int:
    """Trials that count against the budget: those that ended with a score or were pruned, and
    those running now (numbered below `below`, when given). A FAIL gave nothing, whether its
    process was stopped or its params were bad (that error stops `tune` anyway), so it does not
    use up the budget; nor does a trial waiting to be run."""
    import optuna

    state = optuna.trial.TrialState
    counted = (state.COMPLETE, state.PRUNED, state.RUNNING)
    return sum(
        t.state in counted and (below is None or t.number < below)
        for t in study.get_trials(deepcopy=False)
    )


def fail_abandoned_trials(study: optuna.Study) -> list[int]:
    """Record as FAIL the RUNNING trials whose process is gone, and return their numbers.

    With an RDB storage this is Optuna's heartbeat (`fail_stale_trials`: no beat within the
    grace period, from any machine). A journal file has no heartbeat but serves one machine,
    so there a trial whose process (its WORKER_ATTR) no longer runs on this host is stale."""
    import optuna
    from optuna.storages import RDBStorage

    storage = study._storage
    running = optuna.trial.TrialState.RUNNING
    before = {t.number for t in study.get_trials(deepcopy=False, states=(running,))}
    if isinstance(storage, RDBStorage) and storage.get_heartbeat_interval():
        optuna.storages.fail_stale_trials(study)
    else:
        host = socket.gethostname()
        for trial in study.get_trials(deepcopy=False, states=(running,)):
            worker = trial.user_attrs.get(WORKER_ATTR) or {}
            pid = worker.get("pid")
            if worker.get("host") != host or not pid or process_alive(int(pid)):
                continue
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                storage.set_trial_user_attr(trial._trial_id, "stopped", "its process ended")
                storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
    still = {t.number for t in study.get_trials(deepcopy=False, states=(running,))}
    return sorted(before - still)


class _Termination:
    """SIGTERM while tuning. Inside a trial's cross-validation it raises at once, and the trial
    is told FAIL on the way out; elsewhere (a storage write) it is remembered and raised at the
    next trial boundary, so a write is never cut in half."""

    def __init__(self) -> None:
        self.requested = False
        self.in_trial = False

    def handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        if self.in_trial:
            self.raise_now()

    def raise_now(self) -> None:
        raise TuningTerminated(
            "tuning stopped by SIGTERM; the running trial is recorded as FAIL and does not count "
            "against --trials: run the same command again to resume the study"
        )

    def check(self) -> None:
        if self.requested:
            self.raise_now()


@contextlib.contextmanager
def _on_sigterm(termination: _Termination) -> Iterator[None]:
    # Signal handlers can only be set from the main thread; elsewhere SIGTERM keeps its default.
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, termination.handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _heartbeat(storage: Any, trial_id: int) -> Iterator[None]:
    """Beat for the trial while it runs, when the storage keeps heartbeats (RDB)."""
    from optuna.storages import RDBStorage

    interval = storage.get_heartbeat_interval() if isinstance(storage, RDBStorage) else None
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            storage.record_heartbeat(trial_id)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"optuna-heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _run_trial(
    trial: optuna.Trial,
    study: optuna.Study,
    data: Prepared,
    model: str,
    metric: Metric,
    folds: np.ndarray,
    fixed: Mapping[str, Any] | None,
    space: Space,
    seed: int,
    device: str,
    deadline: Deadline | None = None,
    termination: _Termination | None = None,
) -> CVResult | None:
    """Cross-validate one trial's params, feeding the pruner; tell the study how it ended.
    Past `deadline` the trial is pruned at its next fold or epoch, unless the
    study has no complete trial yet (then it runs on, so that the study has a result).
    Returns the CVResult of a complete trial, None for a pruned one."""
    import optuna

    def out_of_time(where: str) -> None:
        if deadline is None or not deadline.passed():
            return
        complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if complete:
            trial.set_user_attr("stopped", "timeout")
            raise optuna.TrialPruned(f"{where}: the timeout has passed")

    params = _merge(fixed, space(trial))
    trial.set_user_attr("params", params)
    fold_scores: list[float] = []
    sign = 1.0 if study.direction == optuna.study.StudyDirection.MINIMIZE else -1.0

    def on_fold(fold: int, n_folds: int, score: float) -> None:
        fold_scores.append(score)
        if not get_family(model).epoch_callbacks:
            trial.report(float(np.mean(fold_scores)), step=fold)
            if trial.should_prune():
                raise optuna.TrialPruned(f"fold {fold}: running mean {np.mean(fold_scores):g}")
        out_of_time(f"fold {fold}")

    def on_epoch(epoch: int, valid_loss: float) -> None:
        # The loss falls as the model improves; flip it for a study that maximizes.
        trial.report(sign * valid_loss, step=len(fold_scores) * EPOCH_STEPS + epoch)
        if trial.should_prune():
            raise optuna.TrialPruned(f"fold {len(fold_scores)} epoch {epoch}: loss {valid_loss:g}")
        out_of_time(f"fold {len(fold_scores)} epoch {epoch}")

    started = time.perf_counter()
    termination = termination or _Termination()
    try:
        termination.in_trial = True
        termination.check()  # a SIGTERM that came while the trial was being set up
        result = cross_validate(
            data,
            model=model,
            metric=metric,
            folds=folds,
            params=params,
            seed=seed,
            device=device,
            on_fold=on_fold,
            callbacks=[on_epoch] if get_family(model).epoch_callbacks else None,
            deadline=deadline or Deadline.never(),
        )
    except optuna.TrialPruned:
        termination.in_trial = False
        trial.set_user_attr(
            "cv", {"fold_scores": fold_scores, "seconds": time.perf_counter() - started}
        )
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return None
    except BaseException as error:
        termination.in_trial = False
        if isinstance(error, TuningTerminated):
            trial.set_user_attr("stopped", "SIGTERM")
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        raise
    termination.in_trial = False
    summary = result.summary()
    trial.set_user_attr(
        "cv",
        {
            k: summary[k]
            for k in ("mean", "std", "fold_scores", "fit_seconds", "best_iterations", "device")
        },
    )
    study.tell(trial, result.mean)
    return result
