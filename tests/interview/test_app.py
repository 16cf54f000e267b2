"""The Gradio app driven by gradio_client: a full short interview, two concurrent users who
never see each other's state, grading that does not block other users, and no hidden
material (rubric, model answer, reference, hidden tests) in anything the server sends."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from gradio_client import Client

from interview.app import (
    InterviewScreens,
    build_app,
    context_markdown,
    feedback_markdown,
    question_header,
    report_markdown,
)
from interview.bank import load_bank
from interview.grading import Grader
from interview.session import SessionConfig
from interview.store import InterviewStore

BANK = Path(__file__).with_name("app_bank")
# Every hidden field of the test bank carries this marker; the candidate-visible ones do not.
HIDDEN = "HIDDEN-"
CORRECT_CODE = "def causal_mask(n):\n    return [[j <= i for j in range(n)] for i in range(n)]\n"
# A correct solution that takes a few seconds: grading it must not hold up other users.
SLOW_CODE = "import time\ntime.sleep(8)\n" + CORRECT_CODE
# The outputs of every public endpoint, in order (see interview.app.build_app).
SESSION, STATUS, HEADER, PROMPT, CONTEXT, CHOICE, TEXT, CODE = range(8)
FEEDBACK, ABILITIES, CHART, REPORT = range(8, 12)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def bank():
    return load_bank(BANK)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("app") / "interview.sqlite"
    with InterviewStore.open(f"sqlite:///{path}") as opened:
        yield opened


@pytest.fixture(scope="module")
def url(store, bank):
    # Five items per session: every item of the "masking" topic (choice, free text, code).
    demo = build_app(
        store, bank, Grader(), config=SessionConfig(max_items=5, min_items=5, se_target=0.01)
    )
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def _client(url: str) -> Client:
    return Client(url, verbose=False, download_files=False)


def _text(screens: list[tuple]) -> str:
    """Every output as JSON but the chart's PNG (whose base64 may spell any short word)."""
    return json.dumps([[v for k, v in enumerate(o) if k != CHART] for o in screens])


def _kind(outputs: tuple) -> str | None:
    if outputs[CHOICE]["visible"]:
        return "choice"
    if outputs[TEXT]["visible"]:
        return "free_text"
    if outputs[CODE]["visible"]:
        return "code"
    return None


def _answer(client: Client, outputs: tuple, *, code: str = CORRECT_CODE) -> tuple:
    """Answer the item on screen: the first option, a too-short text (graded without the
    embedding model), or `code`."""
    kind = _kind(outputs)
    return client.predict(
        "0" if kind == "choice" else None,
        "mask before softmax" if kind == "free_text" else "",
        code if kind == "code" else "",
        api_name="/answer",
    )


def test_only_the_interview_endpoints_are_public(url):
    info = _client(url).view_api(print_info=False, return_format="dict")
    assert set(info["named_endpoints"]) == {"/start", "/answer", "/skip", "/finish"}
    assert not info["unnamed_endpoints"]


def test_a_full_interview_ends_on_a_report_and_never_leaks_hidden_material(url, store):
    client = _client(url)
    seen = [client.predict("alice", ["masking"], [], api_name="/start")]
    kinds = []
    while _kind(seen[-1]):
        kinds.append(_kind(seen[-1]))
        assert seen[-1][HEADER].startswith(f"### Question {len(kinds)} of 5")
        if kinds[-1] == "code":
            assert "causal_mask" in seen[-1][CODE]["value"]  # the starter
            assert "Rows are query positions" in seen[-1][CONTEXT]  # the read-only file
        seen.append(_answer(client, seen[-1]))
        assert seen[-1][FEEDBACK].startswith("### Last answer:")
        if kinds[-1] == "code":
            assert "**Hidden tests:** 3/3 passed" in seen[-1][FEEDBACK]
            assert "`no_future` | pass" in seen[-1][FEEDBACK]
        if kinds[-1] == "free_text":
            assert "too short" in seen[-1][FEEDBACK]
    assert sorted(kinds) == ["choice", "choice", "choice", "code", "free_text"]

    final = seen[-1]
    report = final[REPORT]
    assert "## Report for alice" in report
    assert "5 item(s) answered" in report
    assert "| Masking drills |" in report and " ± " in report
    assert "**Strengths:**" in report and "**Weak spots:**" in report
    assert "### Next reviews" in report and "m-code-1" in report
    assert final[CHART]["value"]["plot"].startswith("data:image/png;base64,")

    session_id = seen[0][SESSION]
    assert all(o[SESSION] == session_id for o in seen)
    stored = store.session_responses(session_id)
    assert len(stored) == 5 and store.get_session(session_id).status == "finished"

    # Nothing the server sent, nor its page config or API description, holds hidden text.
    assert HIDDEN not in json.dumps(seen)
    for path in ("config", "gradio_api/info"):
        with urllib.request.urlopen(url + path, timeout=30) as response:
            page = response.read().decode()
        assert HIDDEN not in page and "model_answer" not in page, path
    # ...while the bank itself does hold it (so the check above can fail).
    assert HIDDEN in (BANK / "items.yaml").read_text()

    # The session is over: answering again says so instead of grading anything.
    after = client.predict(None, "", "", api_name="/answer")
    assert "over" in after[STATUS] and "## Report for alice" in after[REPORT]


def test_two_concurrent_users_never_see_each_others_state(url, store):
    ann, bob = _client(url), _client(url)
    a = [ann.predict("ann_q", ["masking"], [], api_name="/start")]
    b = [bob.predict("bob_z", [], ["adapters"], api_name="/start")]
    while _kind(a[-1]) or _kind(b[-1]):  # interleaved: one answer each in turn
        if _kind(a[-1]):
            a.append(_answer(ann, a[-1]))
        if _kind(b[-1]):
            b.append(bob.predict(api_name="/skip") if len(b) % 2 else _answer(bob, b[-1]))
    ann_id, bob_id = a[0][SESSION], b[0][SESSION]
    assert ann_id != bob_id
    for mine, outputs in [*((ann_id, o) for o in a), *((bob_id, o) for o in b)]:
        assert outputs[SESSION] == mine
    ann_text, bob_text = _text(a), _text(b)
    assert bob_id not in ann_text and "Adapter drills" not in ann_text and "bob_z" not in ann_text
    assert ann_id not in bob_text and "Masking drills" not in bob_text and "ann_q" not in bob_text
    assert "## Report for ann_q" in a[-1][REPORT] and "## Report for bob_z" in b[-1][REPORT]
    assert {r.topic for r in store.session_responses(ann_id)} == {"masking"}
    assert {r.topic for r in store.session_responses(bob_id)} == {"adapters"}
    assert store.get_session(bob_id).user == "bob_z"


def test_slow_grading_does_not_block_other_users(url):
    slow, quick = _client(url), _client(url)
    screen = slow.predict("carol", ["masking"], [], api_name="/start")
    while _kind(screen) != "code":
        screen = _answer(slow, screen)
    job = slow.submit(None, "", SLOW_CODE, api_name="/answer")  # sleeps 8 s in the sandbox
    time.sleep(0.5)
    started = time.perf_counter()
    other = quick.predict("dave", [], ["adapters"], api_name="/start")
    other = _answer(quick, other)
    quick_seconds = time.perf_counter() - started
    assert other[FEEDBACK].startswith("### Last answer:")
    assert not job.done(), f"dave waited {quick_seconds:.1f}s for carol's code to be graded"
    graded = job.result(timeout=120)
    assert "**Hidden tests:** 3/3 passed" in graded[FEEDBACK]


def test_a_reload_resumes_the_same_item_and_only_for_its_owner(store, bank):
    screens = InterviewScreens(store, bank, Grader(), SessionConfig(max_items=3, min_items=3))
    first = screens.start("erin", ["adapters"])
    assert first.stage == "question"
    again = screens.open(first.session_id)  # what the page load does with the browser's id
    assert again.item == first.item and again.message == "Resumed your open session."
    # An authenticated user gets their open session without an id, and never another's.
    assert screens.open(None, user="erin").session_id == first.session_id
    assert screens.open(first.session_id, user="mallory").session_id is None
    assert screens.answer(first.session_id, choice="0", user="mallory").session_id is None
    # An empty answer is not graded.
    empty = screens.answer(first.session_id, choice=None)
    assert "Pick an option" in empty.message and empty.item == first.item
    assert store.session_responses(first.session_id) == []
    done = screens.finish(first.session_id)
    assert done.stage == "report" and done.report is not None
    assert "## Report for erin" in report_markdown(done.report, bank)


def test_the_report_says_re_tests_do_not_change_the_estimate(store, bank):
    screens = InterviewScreens(store, bank, Grader(), SessionConfig(max_items=3, min_items=3))
    for _ in range(2):  # the second session can only re-ask the three items of the first
        screen = screens.start("fay", ["adapters"])
        while screen.stage == "question":
            screen = screens.answer(screen.session_id, choice="0")
    first, second = (s.id for s in store.list_sessions("fay"))
    assert {r.item_id for r in store.session_responses(first)} == {
        r.item_id for r in store.session_responses(second)
    }
    assert screen.report.retests == 3
    assert "3 re-test(s) of items answered before." in report_markdown(screen.report, bank)
    assert "do not change the depth estimate" in report_markdown(screen.report, bank)
    assert screens.open(first).report.retests == 0


def test_an_item_answered_in_another_tab_reloads_the_current_one(store, bank):
    class OtherTabMeanwhile(Grader):
        """While this tab grades, another tab answers the same item and wins."""

        other_tab: Callable[[], object] | None = None

        def grade(self, item, response):
            if self.other_tab is not None:
                other_tab, self.other_tab = self.other_tab, None
                other_tab()
            return super().grade(item, response)

    config = SessionConfig(max_items=3, min_items=3)
    grader = OtherTabMeanwhile()
    first = InterviewScreens(store, bank, grader, config).start("gina", ["adapters"])
    other = InterviewScreens(store, bank, Grader(), config)
    grader.other_tab = lambda: other.answer(first.session_id, choice="0")
    screen = InterviewScreens(store, bank, grader, config).answer(first.session_id, choice="1")
    assert screen.message == "That item was answered in another tab; here is the current one."
    # the other tab's answer is stored as the bank's index of the option it saw first
    seen_first = bank.item(first.item.id).options.index(first.item.options[0])
    assert [r.response for r in store.session_responses(first.session_id)] == [str(seen_first)]
    assert screen.item is not None and screen.item != first.item


def test_authenticated_users_are_their_login_name(store, bank):
    demo = build_app(store, bank, Grader(), authenticated=True)
    port = _free_port()
    demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        auth=[("frank", "pw-frank")],
    )
    try:
        client = Client(f"http://127.0.0.1:{port}/", auth=("frank", "pw-frank"), verbose=False)
        screen = client.predict("somebody-else", ["masking"], [], api_name="/start")
        assert store.get_session(screen[SESSION]).user == "frank"
        with pytest.raises(Exception):  # noqa: B017 - any refusal will do
            Client(f"http://127.0.0.1:{port}/", auth=("frank", "wrong"), verbose=False)
    finally:
        demo.close()


def test_no_item_of_the_real_bank_shows_its_hidden_parts():
    from interview.bank import BANK_DIR
    from interview.session import ItemView

    real = load_bank(BANK_DIR)
    assert real.items
    for item in real.items.values():
        view = ItemView(
            id=item.id, topic=item.topic, topic_title=real.topics[item.topic].title,
            kind=item.kind, level=item.level, prompt=item.prompt, options=tuple(item.options),
            starter=item.code.starter if item.code else "",
            context=dict(item.code.context) if item.code else {}, number=1, max_items=15,
        )  # fmt: skip
        shown = "\n".join(
            [question_header(view), view.prompt, context_markdown(view.context), view.starter,
             *view.options]
        )  # fmt: skip
        hidden = []
        if item.rubric:
            hidden += [item.rubric.model_answer, *item.rubric.wrong_answers]
            for idea in [*item.rubric.concepts, *item.rubric.misconceptions]:
                hidden += idea.paraphrases
        if item.code:
            hidden += [check.expect for check in item.code.checks if check.expect]
            hidden += [text for text in (item.code.cases, item.code.helpers) if text.strip()]
            if item.code.reference.strip() != item.code.starter.strip():
                hidden.append(item.code.reference)
        for secret in hidden:
            assert secret.strip() not in shown, f"{item.id} shows hidden text {secret[:60]!r}"


def test_feedback_shows_concepts_tests_and_sandbox_verdicts():
    from interview.grading import Grade, TestOutcome

    text = feedback_markdown(
        Grade(
            "x", "free_text", 0.5, False, "Score 0.50 (pass mark 0.60). Covered: scaling.",
            concepts_found=("scaling",), concepts_missed=("fp32 merge",),
            misconceptions=("merging is approximate",),
        )
    )  # fmt: skip
    assert "### Last answer: 0.50 (not yet)" in text
    assert "**Covered:** scaling" in text and "**Missing:** fp32 merge" in text
    assert "**Misconceptions:** merging is approximate" in text
    code = feedback_markdown(
        Grade(
            "y", "code", 0.5, False, "1/2 hidden tests passed.",
            tests=(TestOutcome("test_a", True, "ok"), TestOutcome("test_b", False, "a | b leak")),
            error="timeout after 10 s",
        )
    )  # fmt: skip
    assert "**Hidden tests:** 1/2 passed" in code
    assert "| `test_b` | FAIL | a \\| b leak |" in code
    assert "**Sandbox verdict:** timeout after 10 s" in code
