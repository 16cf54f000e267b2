"""The optional LLM judge against a fake OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from interview.bank import load_bank
from interview.errors import JudgeError
from interview.grading import Grader
from interview.judge import Judge, parse_verdict


class FakeEndpoint:
    """A tiny chat-completions server: replies with `reply` and keeps every request body."""

    def __init__(self) -> None:
        self.reply: str = '{"concepts_found": [], "score": 0.0}'
        self.status = 200
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                payload = json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": fake.reply}}]}
                )
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload.encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def endpoint():
    fake = FakeEndpoint()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture(scope="module")
def item():
    return load_bank().item("left-padding-positions")


def test_the_judge_sends_question_concepts_and_answer(endpoint, item):
    found = '["positions shifted by padding", "made up"]'
    endpoint.reply = f'```json\n{{"concepts_found": {found}, "score": 0.5}}\n```'
    verdict = Judge(endpoint.url, "tiny", api_key="k").assess(item, "my answer text")
    assert verdict.score == 0.5
    assert verdict.concepts_found == ("positions shifted by padding",)
    sent = endpoint.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer k"
    text = sent["body"]["messages"][1]["content"]
    assert "my answer text" in text and "compute position ids from the attention mask" in text
    assert item.rubric.model_answer[:40] not in text


def test_the_grader_averages_the_judge_with_the_embedding_score(endpoint, item):
    endpoint.reply = '{"concepts_found": [], "score": 0.0}'
    alone = Grader().grade(item, item.rubric.model_answer)
    judged = Grader(judge=Judge(endpoint.url, "tiny")).grade(item, item.rubric.model_answer)
    assert judged.score == pytest.approx(alone.score / 2)
    assert "LLM judge scored it 0.00" in judged.feedback


def test_a_failing_judge_falls_back_to_the_embedding_score(endpoint, item):
    endpoint.status = 500
    grader = Grader(judge=Judge(endpoint.url, "tiny", timeout=5))
    grade = grader.grade(item, item.rubric.model_answer)
    assert grade.score == Grader().grade(item, item.rubric.model_answer).score
    assert "judge was unavailable" in grade.feedback


def test_an_unreachable_judge_is_a_judge_error(item):
    with pytest.raises(JudgeError, match="failed"):
        Judge("http://127.0.0.1:9", "tiny", timeout=2).assess(item, "answer")


@pytest.mark.parametrize("reply", ["no json here", '{"score": "high"}', '{"score": 3}'])
def test_unusable_replies_are_judge_errors(reply):
    with pytest.raises(JudgeError):
        parse_verdict(reply, ["a"])
