"""A full short interview in a real browser (Debian's chromium driven by Playwright): start,
answer, reload mid-session and resume, end on the report; the report's screenshot is kept
(in pytest's tmp_path, and copied to $PYTEST_ARTIFACTS when set)."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from interview.app import build_app
from interview.bank import load_bank
from interview.grading import Grader
from interview.session import SessionConfig
from interview.store import InterviewStore

CHROMIUM = Path("/usr/bin/chromium")
BANK = Path(__file__).with_name("app_bank")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 60_000  # a busy 2-core machine

# Outside CI a missing browser skips with the fix; in CI (.ci/run installs it) it must fail.
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="needs Debian's chromium: apt-get install -y chromium",
)


@pytest.fixture
def url(tmp_path):
    with InterviewStore.open(f"sqlite:///{tmp_path / 'interview.sqlite'}") as store:
        demo = build_app(
            store, load_bank(BANK), Grader(), config=SessionConfig(max_items=3, min_items=3)
        )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        yield f"http://127.0.0.1:{port}/"
        demo.close()


def test_a_short_interview_in_chromium_ends_on_the_report(url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        page.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        page.goto(url)

        page.locator("#user-name textarea, #user-name input").first.fill("grace")
        page.locator("#topics-fine_tuning").get_by_text("Adapter drills").click()
        page.locator("#start").click()
        header = page.locator("#question-header")
        expect(header).to_contain_text("Question 1 of 3")
        expect(page.locator("#prompt")).not_to_be_empty()

        page.locator("#choice label").first.click()
        page.locator("#submit").click()
        expect(header).to_contain_text("Question 2 of 3")
        expect(page.locator("#feedback")).to_contain_text("Last answer")
        expect(page.locator("#abilities")).to_contain_text("±")

        # A reload keeps the session: the browser holds its id, the store holds the rest.
        page.reload()
        expect(header).to_contain_text("Question 2 of 3")
        expect(page.locator("#status")).to_contain_text("Resumed your open session")

        page.locator("#choice label").first.click()
        page.locator("#submit").click()
        expect(header).to_contain_text("Question 3 of 3")
        page.locator("#skip").click()

        report = page.locator("#report")
        expect(report).to_contain_text("Report for grace")
        expect(report).to_contain_text("3 item(s) answered")
        expect(report).to_contain_text("Adapter drills")
        expect(report).to_contain_text("Next reviews")
        assert "±" in report.inner_text()
        expect(page.locator("#question-panel")).to_be_hidden()

        page.wait_for_timeout(1000)  # let the last render settle before the screenshot
        shot = tmp_path / "interview_report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    if os.environ.get("PYTEST_ARTIFACTS"):
        folder = Path(os.environ["PYTEST_ARTIFACTS"])
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, folder / shot.name)


FREE_TEXT_BANK = """\
items:
  - id: ft-one
    topic: drills
    kind: free_text
    level: medium
    prompt: Why does applying the causal mask after the softmax let a decoder cheat?
    rubric:
      concepts:
        - name: rows no longer sum to one
          paraphrases: ["Zeroing weights after the softmax leaves rows that no longer sum to one."]
        - name: the future shapes the normaliser
          paraphrases: ["Future tokens still enter the softmax denominator, so they leak."]
        - name: mask the scores before the softmax
          paraphrases: ["Fill the masked scores with minus infinity before the softmax."]
      model_answer: MODEL-ANSWER-TEXT future tokens still shape the denominator; mask first.
      wrong_answers: ["The learning rate is too high.", "The batch is too small."]
  - id: ft-two
    topic: drills
    kind: free_text
    level: medium
    prompt: Why does a model that never saw an EOS token keep generating?
    rubric:
      concepts:
        - name: no EOS in the targets
          paraphrases: ["The targets never ended with an end-of-sequence token."]
        - name: decoding stops only on EOS
          paraphrases: ["Generation only stops when the end token is produced."]
        - name: append EOS
          paraphrases: ["Append the end token to every target and keep it in the loss."]
      model_answer: MODEL-ANSWER-TWO append the end token to every target.
      wrong_answers: ["The temperature is too high.", "The model is too small."]
"""


@pytest.fixture
def free_text_url(tmp_path):
    folder = tmp_path / "bank"
    folder.mkdir()
    (folder / "topics.yaml").write_text(
        "topics:\n  - id: drills\n    area: failure_modes\n    title: Free-text drills\n"
    )
    (folder / "items.yaml").write_text(FREE_TEXT_BANK)
    with InterviewStore.open(f"sqlite:///{tmp_path / 'interview.sqlite'}") as store:
        demo = build_app(
            store, load_bank(folder), Grader(), config=SessionConfig(max_items=2, min_items=2)
        )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        yield f"http://127.0.0.1:{port}/", load_bank(folder)
        demo.close()


def test_free_text_feedback_is_attached_to_its_own_question(free_text_url):
    from playwright.sync_api import expect, sync_playwright

    url, bank = free_text_url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        page.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        page.goto(url)
        page.locator("#user-name textarea, #user-name input").first.fill("hedy")
        page.locator("#start").click()
        header = page.locator("#question-header")
        expect(header).to_contain_text("Question 1 of 2")
        first = page.locator("#prompt").inner_text()
        item = next(i for i in bank.items.values() if i.prompt.strip() in " ".join(first.split()))
        page.locator("#free-text textarea").fill(
            "I believe the learning rate is simply too high for this model, so it diverges."
        )
        page.locator("#submit").click()
        expect(header).to_contain_text("Question 2 of 2")
        feedback = page.locator("#feedback")
        # The feedback names the question it belongs to, not the one now on screen.
        expect(feedback).to_contain_text("Feedback on question 1")
        expect(feedback).to_contain_text(item.prompt.strip()[:40])
        assert page.locator("#prompt").inner_text() != first
        # The ideas missed, in words, and the model answer.
        for concept in item.rubric.concepts:
            expect(feedback).to_contain_text(concept.paraphrases[0])
        expect(feedback).to_contain_text("A strong answer")
        expect(feedback).to_contain_text(item.rubric.model_answer.split()[0])
        browser.close()
