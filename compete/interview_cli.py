"""`compete interview`: the Gradio mock interview and its terminal companions (review, report,
calibrate, verify-bank). Each command parses, calls interview.* and renders; interview and
gradio are imported inside the commands so `compete --help` stays light."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from compete.errors import CompeteError, NotFoundError, UsageError
from compete.invocation import settings
from compete.render import emit_json, err, out

interview_app = typer.Typer(
    help="The mock interview on Transformer failure modes and fine-tuning: run without a "
    "command to open the Gradio app; review, report, calibrate and verify-bank work in the "
    "terminal.",
    add_completion=False,
    rich_markup_mode=None,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
UserOpt = Annotated[str, typer.Option("--user", "-u", help="Whose sessions and reviews.")]
BankOpt = Annotated[
    Path | None,
    typer.Option(
        "--bank",
        help="An item bank folder (topics.yaml and item files; default: the bundled bank).",
        exists=True,
        file_okay=False,
    ),
]
SECRET_FILE = "interview_secret"


@contextmanager
def _interview_errors() -> Iterator[None]:
    """interview's errors become the CLI's one-line errors (their messages say what to do)."""
    from interview.errors import InterviewError

    try:
        yield
    except InterviewError as error:
        raise CompeteError(" ".join(str(error).split())) from error


def _store() -> Any:
    from interview.store import InterviewStore

    return InterviewStore.open(settings().interview_db_url)


def _bank(folder: Path | None) -> Any:
    from interview.bank import BANK_DIR, load_bank

    return load_bank(folder or BANK_DIR)


def _topics(raw: list[str] | None, bank: Any) -> list[str] | None:
    """`--topics a,b --topics c` -> [a, b, c], each checked against the bank."""
    names = [t.strip() for value in raw or [] for t in value.split(",") if t.strip()]
    unknown = [t for t in names if t not in bank.topics]
    if unknown:
        raise UsageError(f"unknown topic(s) {', '.join(unknown)}; known: {', '.join(bank.topics)}")
    return names or None


def _auth(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user.strip() or not password:
        raise UsageError("--auth takes USER:PASS, for example --auth alice:s3cret")
    return user.strip(), password


def _judge(url: str | None, model: str, key: str | None) -> Any:
    """The optional LLM judge for free text, or None."""
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter(f"--judge {url!r} is not an http(s) URL", param_hint="--judge")
    from interview.judge import Judge

    return Judge(url, model, api_key=key)


def _browser_secret(home: Path) -> str:
    """The key that encrypts the session id kept in each browser: kept in COMPETE_HOME so a
    reload after a restart still finds (and resumes) the open session."""
    path = home / SECRET_FILE
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    home.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(value, encoding="utf-8")
    return value


@interview_app.callback(invoke_without_command=True)
def interview(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 7860,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (0.0.0.0 for a network).")
    ] = "127.0.0.1",
    auth: Annotated[
        str | None,
        typer.Option(help="USER:PASS: require a login; the login name becomes the user."),
    ] = None,
    topics: Annotated[
        list[str] | None,
        typer.Option(help="Topics to offer, comma-separated or repeated (default: all)."),
    ] = None,
    focus: Annotated[
        str,
        typer.Option(
            help="The start screen's default when no topic is picked: auto proposes the "
            "person's two weakest or least-measured topics (a precise estimate on each); all "
            "asks about every topic offered (a rough survey).",
        ),
    ] = "auto",
    bank_dir: BankOpt = None,
    judge: Annotated[
        str | None,
        typer.Option(
            help="An OpenAI-compatible endpoint (e.g. http://127.0.0.1:8000/v1) whose LLM "
            "re-reads free-text answers; it can only lower a grade. Off by default."
        ),
    ] = None,
    judge_model: Annotated[str, typer.Option(help="The judge's model name.")] = "default",
    judge_key: Annotated[
        str | None, typer.Option(envvar="COMPETE_JUDGE_KEY", help="The judge's API key.")
    ] = None,
) -> None:
    """Open the Gradio mock interview: choose topics, answer in a text box or a code editor,
    see feedback and test output, watch a per-topic ability chart and end on a report.
    Sessions are stored, so a reload or a restart resumes them."""
    if ctx.invoked_subcommand is not None:
        return

    login = _auth(auth)
    if focus not in ("auto", "all"):
        raise UsageError(f"--focus takes auto or all, not {focus!r}")
    grading_judge = _judge(judge, judge_model, judge_key)
    with _interview_errors():
        bank = _bank(bank_dir)
        offered = _topics(topics, bank)
        store = _store()
        from interview.app import build_app
        from interview.grading import Grader

        grader = Grader(judge=grading_judge)
        err.print("loading the grading models and warming the code sandboxes…")
        # The code items only: spare sandboxes start importing torch (embedding every
        # rubric too would add most of a minute to the start).
        grader.warm_up(item for item in bank.items.values() if item.kind == "code")
        demo = build_app(
            store,
            bank,
            grader,
            topics=offered,
            authenticated=login is not None,
            browser_secret=_browser_secret(settings().home),
            propose=focus == "auto",
        )
    out.print(f"mock interview on http://{host}:{port}/  (Ctrl-C stops it)")
    try:
        demo.launch(
            server_name=host,
            server_port=port,
            auth=[login] if login else None,
            quiet=True,
            show_error=False,
        )
    finally:
        store.close()


@interview_app.command("verify-bank")
def verify_bank(bank_dir: BankOpt = None, as_json: JsonOpt = False) -> None:
    """Check every item of the bank: the schema, reference solutions that pass their hidden
    tests, starters that fail them, model answers that pass their rubric and wrong answers
    that do not. Exit 1 when anything is wrong (run in CI)."""

    with _interview_errors():
        from interview.grading import Grader
        from interview.verify import verify_bank as run_verify

        bank = _bank(bank_dir)
        report = run_verify(bank, Grader())
    if as_json:
        emit_json({**_asdict(report), "ok": report.ok, "counts": report.counts()})
    else:
        out.print(report.render(), highlight=False, markup=False, soft_wrap=True)
        verdict = "[green]ok[/green]" if report.ok else "[red]FAILED[/red]"
        out.print(f"{verdict}: {len(report.problems)} item(s) with problems")
    if not report.ok:
        raise typer.Exit(1)


@interview_app.command()
def review(
    user: UserOpt,
    bank_dir: BankOpt = None,
    code_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where code items' starters are written for you to edit "
            "(default: COMPETE_HOME/interview_code)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run your due review queue in the terminal: each due item is shown, the answer is read
    from standard input (a choice's number; free text ending with an empty line; for code,
    the path of your solution file, by default the starter written for you), and the grade is
    shown. Type `skip` to skip an item, `quit` to stop. --json lists what is due and exits."""

    now = datetime.now(UTC)
    with _interview_errors():
        from interview.review import due_items

        bank = _bank(bank_dir)
        store = _store()
        try:
            due = [i for i in due_items(store, user, now) if i in bank.items]
            cards = {c.item_id: c.due for c in store.cards(user)}
            if as_json:
                emit_json(
                    {
                        "user": user,
                        "due": [
                            {"item_id": i, "topic": bank.items[i].topic, "due": cards[i]}
                            for i in due
                        ],
                        "next_due": min((d for d in cards.values() if d > now), default=None),
                    }
                )
                return
            if not due:
                later = min((d for d in cards.values() if d > now), default=None)
                when = f"; the next is due {later:%Y-%m-%d %H:%M} UTC" if later else ""
                out.print(f"nothing is due for {user}{when}")
                return
            folder = code_dir or settings().home / "interview_code"
            _run_review(store, bank, user, folder, out)
        finally:
            store.close()


def _run_review(store: Any, bank: Any, user: str, folder: Path, out: Any) -> None:
    from rich.markdown import Markdown

    from interview.grading import Grader
    from interview.session import RETEST_NOTE, InterviewSession

    session = InterviewSession.start(store, bank, Grader(), user=user, mode="review")
    while (view := session.current()) is not None:
        out.rule(f"{view.number} of {view.max_items} · {view.topic_title} · {view.level}")
        out.print(Markdown(view.prompt))
        if view.kind == "choice":
            for number, option in enumerate(view.options, start=1):
                out.print(f"  {number}. {option}", highlight=False)
            answer = _ask(out, f"your choice (1-{len(view.options)}), skip or quit: ")
        elif view.kind == "free_text":
            answer = _ask_text(out)
        else:
            answer = _ask_code(out, view, folder)
        if answer is None or answer == "quit":
            session.finish()
            out.print(f"stopped after {session.answered} item(s); the rest stays due")
            if session.answered:
                out.print(RETEST_NOTE, highlight=False)
            return
        if answer == "skip":
            session.skip()
            out.print("skipped: it counts as a miss and comes back tomorrow")
            continue
        if view.kind == "choice":
            answer = _choice_index(answer, len(view.options))
            if answer is None:
                out.print("[red]type one of the option numbers[/red]")
                continue
        grade = session.answer(answer)
        colour = "green" if grade.passed else "red"
        out.print(f"[{colour}]score {grade.score:.2f}[/{colour}]", highlight=False)
        out.print(grade.feedback, highlight=False, markup=False)
    report = session.report()
    out.rule("done")
    for item_id, topic, due in sorted(report.next_reviews, key=lambda r: r[2]):
        out.print(f"{item_id} ({topic}) is due again {due:%Y-%m-%d %H:%M} UTC", highlight=False)
    out.print(RETEST_NOTE, highlight=False)


def _ask(out: Any, prompt: str) -> str | None:
    out.print(prompt, end="")
    line = sys.stdin.readline()
    return None if not line else line.strip()


def _ask_text(out: Any) -> str | None:
    out.print("your answer (end with an empty line; skip or quit on the first line):")
    lines: list[str] = []
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        if not line.strip():
            if lines:
                break
            continue
        lines.append(line.rstrip("\n"))
        if len(lines) == 1 and lines[0].strip() in {"skip", "quit"}:
            return lines[0].strip()
    return "\n".join(lines) if lines else None


def _ask_code(out: Any, view: Any, folder: Path) -> str | None:
    folder.mkdir(parents=True, exist_ok=True)
    starter = folder / f"{view.id}.py"
    if not starter.exists():
        starter.write_text(view.starter, encoding="utf-8")
    for name, source in view.context.items():
        out.print(f"--- {name} (read-only) ---", highlight=False)
        out.print(source, highlight=False, markup=False)
    out.print(f"edit {starter} (the starter), then press Enter;", highlight=False)
    answer = _ask(out, "or type another file's path, skip or quit: ")
    if answer in (None, "skip", "quit"):
        return answer
    path = Path(answer).expanduser() if answer else starter
    if not path.is_file():
        raise UsageError(f"no file {path}: give the path of your solution")
    return path.read_text(encoding="utf-8")


def _choice_index(answer: str, n_options: int) -> int | None:
    if answer.isdigit() and 1 <= int(answer) <= n_options:
        return int(answer) - 1
    return None


@interview_app.command()
def report(
    user: UserOpt,
    session_id: Annotated[
        str | None, typer.Option("--session", help="A session id (default: the latest).")
    ] = None,
    bank_dir: BankOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The report of your latest session (or --session): each topic's ability with its SE
    and band, strengths, weak spots and next review dates, with your accumulated progress
    over every session."""

    with _interview_errors():
        from interview.grading import Grader
        from interview.session import OVERALL, InterviewSession, progress

        bank = _bank(bank_dir)
        store = _store()
        try:
            if session_id is None:
                found = [s for s in store.list_sessions(user) if store.session_responses(s.id)]
                if not found:
                    raise NotFoundError(
                        f"{user} has no answered session yet: run `compete interview` first"
                    )
                session_id = found[-1].id
            session = InterviewSession.resume(store, bank, Grader(), session_id)
            if session.user != user:
                raise NotFoundError(f"session {session_id} is not {user}'s")
            found_report = session.report()
            overall = progress(store, bank, user)
        finally:
            store.close()
    if as_json:
        emit_json(
            {
                "report": found_report,
                "progress": {("overall" if t == OVERALL else t): e for t, e in overall.items()},
            }
        )
        return
    _render_report(found_report, overall, bank, out)


def _render_report(found: Any, overall: dict[str, Any], bank: Any, out: Any) -> None:
    from rich.table import Table

    from interview.session import RETEST_NOTE

    title = bank.topics
    status = "finished" if found.finished_at else "open"
    out.print(
        f"{found.user}: session {found.session_id} ({status}), {found.answered} item(s); "
        f"overall {found.overall.describe()}",
        highlight=False,
    )
    if found.retests:
        out.print(f"{found.retests} re-test(s) of items answered before. {RETEST_NOTE}")
    table = Table("topic", "θ", "SE", "band", "items", title="this session")
    for e in found.abilities:
        topic = title[e.topic].title if e.topic in title else e.topic
        table.add_row(topic, f"{e.theta:+.2f}", f"{e.se:.2f}", e.band, str(e.n_items))
    out.print(table)
    out.print("strengths: " + (", ".join(found.strengths) or "none clearly above θ = +0.5"))
    out.print("weak spots: " + (", ".join(found.weak_spots) or "none clearly below θ = −0.5"))
    if found.next_reviews:
        reviews = Table("item", "topic", "due (UTC)", title="next reviews")
        for item_id, topic, due in sorted(found.next_reviews, key=lambda r: r[2]):
            reviews.add_row(item_id, topic, f"{due:%Y-%m-%d %H:%M}")
        out.print(reviews)
    progress_table = Table("topic", "θ", "SE", "band", "items", title="progress, all sessions")
    for topic, e in overall.items():
        name = title[topic].title if topic in title else "overall"
        progress_table.add_row(name, f"{e.theta:+.2f}", f"{e.se:.2f}", e.band, str(e.n_items))
    out.print(progress_table)


@interview_app.command()
def calibrate(
    min_responses: Annotated[
        int, typer.Option(min=2, help="Answers an item needs before its (a, b) are fitted.")
    ] = 30,
    bank_dir: BankOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Refit items' 2PL parameters (discrimination a, difficulty b) from stored answers by
    marginal maximum likelihood; items with fewer answers keep their priors."""

    with _interview_errors():
        from interview.calibrate import calibrate as run_calibrate

        bank = _bank(bank_dir)
        store = _store()
        try:
            found = run_calibrate(store, bank, min_responses=min_responses)
        finally:
            store.close()
    if as_json:
        emit_json({**_asdict(found), "fitted": found.fitted, "kept": found.kept})
        return
    from rich.table import Table

    out.print(
        f"{found.n_responses} stored answer(s); {found.fitted} item(s) fitted, {found.kept} "
        f"kept their priors (an item needs {found.min_responses} answers, a topic two such "
        "items)"
    )
    if found.fitted:
        table = Table("item", "topic", "a", "b", "prior a", "prior b", "answers")
        for i in found.items:
            if i.calibrated:
                table.add_row(
                    i.item_id, i.topic, f"{i.a:.2f}", f"{i.b:+.2f}", f"{i.prior_a:.2f}",
                    f"{i.prior_b:+.2f}", str(i.n_responses),
                )  # fmt: skip
        out.print(table)


def _asdict(value: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(value)
