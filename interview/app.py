"""The Gradio mock-interview app: a thin shell that renders interview.session for a browser.

Plain functions first (`InterviewScreens` turns clicks into `Screen` value objects; the
`*_markdown` and `ability_figure` functions render them); `build_app` only wires them into a
`gr.Blocks`. Everything a user owns lives in the store and in per-tab state (`gr.State`, and
`gr.BrowserState` for the session id so a reload resumes); the store, bank and grader are
shared read-only collaborators passed in, never module globals. Nothing sent to the browser
comes from an item's rubric, reference solution or hidden tests before the item is answered:
questions are rendered from `ItemView`, answers from `Grade` (after a free-text answer graded
on its content: the ideas it missed, in words, and the model answer; never a code item's
reference or hidden tests).
"""

from __future__ import annotations

import os

# No network here, and no telemetry wanted anywhere: set before gradio reads it.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import dataclasses  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

import gradio as gr  # noqa: E402

from interview.ability import AbilityEstimate  # noqa: E402
from interview.errors import InterviewError  # noqa: E402
from interview.session import (  # noqa: E402
    OVERALL,
    RETEST_NOTE,
    InterviewSession,
    ItemView,
    Report,
    SessionConfig,
    propose_focus,
)
from interview.store import InterviewConflictError  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from interview.bank import Bank
    from interview.grading import Grade, Grader
    from interview.store import InterviewStore

STAGES = ("start", "question", "report")
AREA_TITLES = {"failure_modes": "Transformer failure modes", "fine_tuning": "Fine-tuning"}
MAX_NAME = 200  # the store's user column
STORAGE_KEY = "compete-interview-session"


@dataclass(frozen=True)
class Screen:
    """What one browser tab shows after an event: the stage, the item on screen (never its
    answer), the last grade's feedback, the running estimates, the report at the end and a
    one-line message (an error, or what just happened)."""

    stage: str = "start"
    session_id: str | None = None
    user: str | None = None
    item: ItemView | None = None
    feedback: str = ""
    estimates: tuple[AbilityEstimate, ...] = ()
    report: Report | None = None
    message: str = ""


class InterviewScreens:
    """The app's logic without Gradio: each method takes what the browser sent and returns
    the next Screen. Every call resumes the session from the store, so two tabs, a reload
    or a restarted server all see the same state. `user`, when given (an authenticated
    name), must own the session."""

    def __init__(
        self,
        store: InterviewStore,
        bank: Bank,
        grader: Grader,
        config: SessionConfig = SessionConfig(),
    ) -> None:
        self.store = store
        self.bank = bank
        self.grader = grader
        self.config = config

    def start(
        self,
        user: str,
        topics: Sequence[str] | None = None,
        *,
        propose_among: Sequence[str] | None = None,
    ) -> Screen:
        """Start a session on `topics`; with none and `propose_among` given, on the person's
        weakest or least-measured topics of those (interview.session.propose_focus)."""
        name = " ".join((user or "").split())
        if not name:
            return Screen(message="Enter your name to start (it keeps your progress).")
        if len(name) > MAX_NAME:
            return Screen(message=f"Use a name of at most {MAX_NAME} characters.")
        proposed = ""
        try:
            if not topics and propose_among:
                topics = propose_focus(self.store, self.bank, name, among=propose_among)
                titles = " and ".join(self.bank.topics[t].title for t in topics)
                proposed = f" on {titles} (proposed: your weakest or least-measured topics)"
            session = InterviewSession.start(
                self.store,
                self.bank,
                self.grader,
                user=name,
                topics=list(topics) if topics else None,
                config=self.config,
            )
        except InterviewError as error:
            return Screen(user=name, message=_one_line(error))
        return self._screen(session, message=f"Started a session for {name}{proposed}.")

    def open(self, session_id: str | None, user: str | None = None) -> Screen:
        """The screen of a stored session (on page load); the start screen when there is
        none. An authenticated user without a session id gets their newest open one."""
        session = None
        try:
            if session_id:
                session = self._resume(session_id, user)
            if session is None and user:
                session = InterviewSession.latest_open(self.store, self.bank, self.grader, user)
        except InterviewError:
            session = None
        if session is None:
            return Screen(user=user)
        if session.finished:
            return self._screen(session)
        return self._screen(session, message="Resumed your open session.")

    def answer(
        self,
        session_id: str | None,
        *,
        choice: str | int | None = None,
        text: str | None = None,
        code: str | None = None,
        user: str | None = None,
    ) -> Screen:
        """Grade the answer to the item on screen: `choice` (an option's position as shown,
        which the session maps back to the bank's option) for a choice item, `text` for free
        text, `code` for a code item; the others are ignored."""
        session, problem = self._open_session(session_id, user)
        if session is None:
            return problem
        view = session.current()
        response = {"choice": choice, "free_text": text, "code": code}.get(view.kind)
        if response is None or str(response).strip() == "":
            what = "Pick an option" if view.kind == "choice" else "Write an answer"
            return self._screen(session, message=f"{what} first, or press Skip.")
        try:
            grade = session.answer(response)
        except InterviewConflictError:  # another tab answered this position first
            return dataclasses.replace(
                self.open(session.id, user),
                message="That item was answered in another tab; here is the current one.",
            )
        except InterviewError as error:
            return self._screen(session, message=f"Could not grade it: {_one_line(error)}")
        return self._screen(session, feedback=feedback_markdown(grade, view))

    def skip(self, session_id: str | None, user: str | None = None) -> Screen:
        session, problem = self._open_session(session_id, user)
        if session is None:
            return problem
        session.skip()
        return self._screen(
            session, feedback="**Skipped.** It counts as a miss and comes back in review."
        )

    def finish(self, session_id: str | None, user: str | None = None) -> Screen:
        session, problem = self._open_session(session_id, user)
        if session is None:
            return problem
        session.finish()
        return self._screen(session, message="Session finished early.")

    # -- inside ------------------------------------------------------------------------------

    def _resume(self, session_id: str, user: str | None) -> InterviewSession | None:
        session = InterviewSession.resume(self.store, self.bank, self.grader, session_id)
        if user is not None and session.user != user:
            return None  # another person's session id: never show it
        return session

    def _open_session(
        self, session_id: str | None, user: str | None
    ) -> tuple[InterviewSession | None, Screen]:
        if not session_id:
            return None, Screen(user=user, message="No session yet: choose topics and Start.")
        try:
            session = self._resume(session_id, user)
        except InterviewError as error:
            return None, Screen(user=user, message=_one_line(error))
        if session is None:
            return None, Screen(user=user, message="That session is not yours: start one.")
        if session.finished:
            return None, self._screen(session, message="This session is over: see its report.")
        return session, Screen()

    def _screen(
        self, session: InterviewSession, *, feedback: str = "", message: str = ""
    ) -> Screen:
        item = session.current()
        estimates = tuple(session.estimates().values())
        return Screen(
            stage="question" if item else "report",
            session_id=session.id,
            user=session.user,
            item=item,
            feedback=feedback,
            estimates=estimates,
            report=None if item else session.report(),
            message=message,
        )


# -- rendering (plain functions of value objects) ----------------------------------------------


def question_header(item: ItemView) -> str:
    return (
        f"### Question {item.number} of {item.max_items}\n"
        f"**{item.topic_title}** · {item.level} · "
        f"{ {'choice': 'multiple choice', 'free_text': 'explain', 'code': 'code'}[item.kind] }"
    )


def context_markdown(context: dict[str, str]) -> str:
    """The read-only files a code item ships with, as fenced code blocks."""
    return "\n\n".join(
        f"**`{name}`**\n\n```{'python' if name.endswith('.py') else ''}\n{source.rstrip()}\n```"
        for name, source in context.items()
    )


def feedback_markdown(grade: Grade, question: ItemView | None = None) -> str:
    """What the candidate sees about one graded answer: which question it answers (the screen
    already shows the next one), the score, and for free text the ideas missed in words, the
    contradictions, why points were cut and the model answer; for code the hidden tests'
    verdicts."""
    verdict = "passed" if grade.passed else "not yet"
    lines = [f"### Last answer: {grade.score:.2f} ({verdict})"]
    if question is not None:
        lines.append(
            f"**Feedback on question {question.number}** ({question.topic_title}): "
            f"{_cell(_first_sentence(question.prompt))}"
        )
    if grade.kind == "choice":
        lines.append(grade.feedback)
    if grade.kind == "free_text":
        lines += [f"**Note:** {_cell(note)}" for note in grade.notes if "judge" not in note]
        if grade.concepts_found:
            lines.append("**Covered:** " + "; ".join(grade.concepts_found))
        if grade.missed_ideas:
            lines.append(
                "**Missing** (what a strong answer also says):\n\n"
                + "\n".join(f"- {_cell(idea)}" for idea in grade.missed_ideas)
            )
        elif grade.concepts_missed and not grade.model_answer:
            lines.append("**Missing:** " + "; ".join(grade.concepts_missed))
        if grade.contradictions:
            lines.append(
                "**Contradicted:**\n\n"
                + "\n".join(
                    f"- you wrote “{_cell(claim)}”, but: {_cell(idea)}"
                    for claim, idea in grade.contradictions
                )
            )
        if grade.misconceptions:
            lines.append("**Misconceptions:** " + "; ".join(grade.misconceptions))
        lines += [_cell(note) for note in grade.notes if "judge" in note]
        if grade.model_answer:
            lines.append(f"**A strong answer:** {_cell(grade.model_answer)}")
    if grade.kind == "code":
        passed = sum(t.passed for t in grade.tests)
        lines.append(f"**Hidden tests:** {passed}/{len(grade.tests)} passed")
        if grade.tests:
            rows = ["| test | verdict | message |", "|---|---|---|"]
            rows += [
                f"| `{t.name}` | {'pass' if t.passed else 'FAIL'} | {_cell(t.message)} |"
                for t in grade.tests
            ]
            lines.append("\n".join(rows))
        if grade.error:
            lines.append(f"**Sandbox verdict:** {_cell(grade.error)}")
    return "\n\n".join(lines)


def abilities_markdown(estimates: Sequence[AbilityEstimate], bank: Bank) -> str:
    """Each topic's running ability as θ ± SE with its band."""
    if not estimates:
        return ""
    rows = ["| topic | ability θ ± SE | band | items |", "|---|---|---|---|"]
    rows += [
        f"| {_title(e.topic, bank)} | {round(e.theta, 2) + 0.0:+.2f} ± {e.se:.2f} | {e.band} "
        f"| {e.n_items} |"
        for e in estimates
    ]
    return "\n".join(rows)


def report_markdown(report: Report, bank: Bank) -> str:
    """The end of a session: abilities with SE and bands, strengths, weak spots, reviews."""
    lines = [
        f"## Report for {report.user}",
        f"{report.answered} item(s) answered. Overall: **{report.overall.describe()}**.",
        "θ is on the bank's scale (an easy item has difficulty −1, a hard one +1.2); "
        "the ± is one standard error, so a wide ± means the band is a guess.",
    ]
    if report.retests:
        lines.append(f"**{report.retests} re-test(s) of items answered before.** {RETEST_NOTE}")
    if report.abilities:
        lines.append("### Abilities\n\n" + abilities_markdown(report.abilities, bank))
    strengths = ", ".join(_title(t, bank) for t in report.strengths)
    weak = ", ".join(_title(t, bank) for t in report.weak_spots)
    lines.append(f"**Strengths:** {strengths or 'none clearly above θ = +0.5 yet'}")
    lines.append(f"**Weak spots:** {weak or 'none clearly below θ = −0.5'}")
    if report.next_reviews:
        rows = ["| item | topic | due |", "|---|---|---|"]
        rows += [
            f"| `{item_id}` | {_title(topic, bank)} | {due:%Y-%m-%d %H:%M} UTC |"
            for item_id, topic, due in sorted(report.next_reviews, key=lambda r: r[2])
        ]
        lines.append("### Next reviews\n\n" + "\n".join(rows))
    return "\n\n".join(lines)


def ability_figure(estimates: Sequence[AbilityEstimate], bank: Bank) -> Figure | None:
    """θ ± SE per topic as horizontal error bars over the bands (matplotlib's object API, no
    pyplot: no global figure state shared between users' threads)."""
    shown = [e for e in estimates if e.topic != OVERALL]
    if not shown:
        return None
    from matplotlib.figure import Figure

    from interview.ability import BANDS

    fig = Figure(figsize=(7, 0.6 * len(shown) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    lower = -4.0
    shades = ("#f4d6d6", "#f7ead2", "#e4efdc", "#d5e8f4", "#e2dcf0")
    for (upper, words), shade in zip(BANDS, shades, strict=True):
        right = min(upper, 4.0)
        ax.axvspan(lower, right, color=shade, zorder=0)
        middle = (max(lower, -3.0) + min(right, 3.0)) / 2  # of the part on the axis
        ax.text(middle, len(shown) - 0.45, words, ha="center", fontsize=8)
        lower = right
    y = list(range(len(shown)))
    ax.errorbar(
        [e.theta for e in shown],
        y,
        xerr=[e.se for e in shown],
        fmt="o",
        color="#1f3b73",
        capsize=4,
        zorder=2,
    )
    ax.set_yticks(y, [f"{_title(e.topic, bank)} ({e.n_items})" for e in shown])
    ax.set_xlim(-3, 3)
    ax.set_ylim(-0.6, len(shown) - 0.2)
    ax.set_xlabel("ability θ (± 1 SE); in brackets: items answered")
    return fig


def _title(topic: str, bank: Bank) -> str:
    if topic == OVERALL:
        return "overall"
    found = bank.topics.get(topic)
    return found.title if found else topic


def _first_sentence(text: str, limit: int = 160) -> str:
    """The start of a question's prompt, enough to recognise it."""
    import re

    flat = " ".join(text.split())
    first = re.split(r"(?<=[.?!])\s+", flat, maxsplit=1)[0]
    return first if len(first) <= limit else first[: limit - 1].rsplit(" ", 1)[0] + "…"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


# -- the Blocks shell ------------------------------------------------------------------------


def build_app(
    store: InterviewStore,
    bank: Bank,
    grader: Grader,
    *,
    config: SessionConfig = SessionConfig(),
    topics: Sequence[str] | None = None,
    authenticated: bool = False,
    grading_concurrency: int = 4,
    browser_secret: str | None = None,
    propose: bool = True,
) -> gr.Blocks:
    """The interview as a Blocks app. `topics` limits the topics offered (default: every
    topic with items); `authenticated`: the app is launched with `auth=`, so the login name
    is the user and the name box is hidden; `grading_concurrency`: how many answers are
    graded at once (a code item runs for seconds, other users' clicks go on meanwhile);
    `browser_secret`: the key that encrypts the session id kept in the browser, stable
    across restarts so a reload after a crash resumes (a random one otherwise); `propose`:
    the start screen's default, with no topic picked, is the person's two weakest or
    least-measured topics (False: every topic offered)."""
    screens = InterviewScreens(store, bank, grader, config)
    offered = [t for t in (topics or bank.topics) if t in bank.topics and bank.by_topic(t)]
    areas: dict[str, list[tuple[str, str]]] = {}
    for topic_id in offered:
        topic = bank.topics[topic_id]
        areas.setdefault(topic.area, []).append((topic.title, topic.id))

    with gr.Blocks(title="Mock interview", analytics_enabled=False) as demo:
        session_id = gr.State(None)
        saved = gr.BrowserState(None, storage_key=STORAGE_KEY, secret=browser_secret)
        gr.Markdown(
            "# Mock interview: Transformer failure modes and fine-tuning\n"
            "Each answer updates your ability per topic (θ with its standard error). "
            "Your session is saved: reload the page to come back to it."
        )
        status = gr.Markdown("", elem_id="status")
        with gr.Column(visible=True, elem_id="start-panel") as start_panel:
            name = gr.Textbox(
                label="Your name",
                placeholder="a name that keeps your progress",
                visible=not authenticated,
                elem_id="user-name",
            )
            # one group per area, in a fixed order (empty ones hidden), so the start
            # event's inputs are always (name, failure_modes, fine_tuning)
            boxes = [
                gr.CheckboxGroup(
                    choices=areas.get(area, []),
                    value=[value for _, value in areas.get(area, [])] if topics else [],
                    label=title,
                    info="Pick one to three topics for a precise estimate on each.",
                    visible=bool(areas.get(area)),
                    elem_id=f"topics-{area}",
                )
                for area, title in AREA_TITLES.items()
            ]
            propose_box = gr.Checkbox(
                value=propose,
                label="Propose for me: with no topic picked, the two where my ability is "
                "weakest or least measured (unticked: every topic, a wide but rough survey)",
                elem_id="propose",
            )
            start_button = gr.Button("Start", variant="primary", elem_id="start")
        with gr.Column(visible=False, elem_id="question-panel") as question_panel:
            header = gr.Markdown("", elem_id="question-header")
            prompt = gr.Markdown("", elem_id="prompt")
            with gr.Accordion("Files you may read", open=True, visible=False) as files:
                context = gr.Markdown("", elem_id="context")
            choice = gr.Radio([], label="Your choice", visible=False, elem_id="choice")
            text = gr.Textbox(
                label="Your answer (a few sentences, at most 2,000 characters)",
                lines=6,
                placeholder="The cause, why it produces this symptom, and how you would check "
                "or fix it.",
                visible=False,
                elem_id="free-text",
            )
            code = gr.Code(
                language="python",
                label="Your code (saved as solution.py; hidden tests import from it)",
                interactive=True,
                visible=False,
                elem_id="code",
            )
            with gr.Row():
                submit_button = gr.Button("Submit", variant="primary", elem_id="submit")
                skip_button = gr.Button("Skip", elem_id="skip")
                finish_button = gr.Button("Finish now", variant="stop", elem_id="finish")
        feedback = gr.Markdown("", elem_id="feedback")
        with gr.Row():
            abilities = gr.Markdown("", elem_id="abilities")
            chart = gr.Plot(label="Ability per topic", visible=False, format="png")
        with gr.Column(visible=False, elem_id="report-panel") as report_panel:
            report = gr.Markdown("", elem_id="report")
            again_button = gr.Button("New interview", elem_id="again")

        outputs = [
            session_id,
            saved,
            status,
            start_panel,
            question_panel,
            report_panel,
            header,
            prompt,
            files,
            context,
            choice,
            text,
            code,
            feedback,
            abilities,
            chart,
            report,
        ]

        def render(screen: Screen) -> tuple[Any, ...]:
            item = screen.item
            kind = item.kind if item else None
            return (
                screen.session_id,
                screen.session_id,
                screen.message,
                gr.update(visible=screen.stage == "start"),
                gr.update(visible=screen.stage == "question"),
                gr.update(visible=screen.stage == "report"),
                question_header(item) if item else "",
                item.prompt if item else "",
                gr.update(visible=bool(item and item.context)),
                context_markdown(item.context) if item else "",
                gr.update(
                    choices=[(o, str(i)) for i, o in enumerate(item.options)] if item else [],
                    value=None,
                    visible=kind == "choice",
                ),
                gr.update(value="", visible=kind == "free_text"),
                gr.update(value=item.starter if item else "", visible=kind == "code"),
                screen.feedback,
                # the report repeats the table at the end
                "" if screen.report else abilities_markdown(screen.estimates, bank),
                gr.update(
                    value=ability_figure(screen.estimates, bank), visible=bool(screen.estimates)
                ),
                report_markdown(screen.report, bank) if screen.report else "",
            )

        def login(request: gr.Request | None) -> str | None:
            return getattr(request, "username", None) if authenticated else None

        def on_start(
            user: str,
            modes: list[str],
            tuning: list[str],
            propose_for_me: bool | None = None,
            request: gr.Request | None = None,
        ) -> tuple[Any, ...]:
            picked = [*(modes or []), *(tuning or [])]
            if picked or not (propose if propose_for_me is None else propose_for_me):
                return render(screens.start(login(request) or user, picked or list(offered)))
            return render(screens.start(login(request) or user, propose_among=offered))

        def on_answer(
            current: str | None, picked: str | None, written: str, program: str, request: gr.Request
        ) -> tuple[Any, ...]:
            return render(
                screens.answer(
                    current, choice=picked, text=written, code=program, user=login(request)
                )
            )

        def on_skip(current: str | None, request: gr.Request) -> tuple[Any, ...]:
            return render(screens.skip(current, login(request)))

        def on_finish(current: str | None, request: gr.Request) -> tuple[Any, ...]:
            return render(screens.finish(current, login(request)))

        def on_load(stored: str | None, request: gr.Request) -> tuple[Any, ...]:
            return render(screens.open(stored, login(request)))

        def on_again(request: gr.Request) -> tuple[Any, ...]:
            return render(Screen(user=login(request)))

        start_button.click(
            on_start,
            [name, *boxes, propose_box],
            outputs,
            api_name="start",
            concurrency_limit=None,
        )
        submit_button.click(
            on_answer,
            [session_id, choice, text, code],
            outputs,
            api_name="answer",
            concurrency_limit=grading_concurrency,
            concurrency_id="grading",
        )
        skip_button.click(on_skip, [session_id], outputs, api_name="skip", concurrency_limit=None)
        finish_button.click(
            on_finish, [session_id], outputs, api_name="finish", concurrency_limit=None
        )
        again_button.click(on_again, None, outputs, api_visibility="private")
        demo.load(on_load, [saved], outputs, api_visibility="private")
    demo.queue(default_concurrency_limit=max(8, grading_concurrency))
    return demo
