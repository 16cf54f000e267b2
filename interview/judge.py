"""An optional LLM judge for free-text answers, through any OpenAI-compatible endpoint."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from interview.errors import JudgeError

if TYPE_CHECKING:
    from interview.bank import Item

SYSTEM = (
    "You grade answers in a technical interview on Transformer failure modes and fine-tuning. "
    "Decide which of the listed concepts the answer states correctly, in substance and not "
    "just by keyword, and give an overall score from 0 to 1. Reply with JSON only: "
    '{"concepts_found": [names from the list], "score": number}.'
)


@dataclass(frozen=True)
class JudgeVerdict:
    score: float
    concepts_found: tuple[str, ...]


class Judge:
    """POST {base_url}/chat/completions with the question, the concept names and the answer;
    off unless the app is given an endpoint. Every failure is a JudgeError."""

    def __init__(
        self, base_url: str, model: str, api_key: str | None = None, timeout: float = 20
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    def messages(self, item: Item, answer: str) -> list[dict[str, str]]:
        concepts = [c.name for c in item.rubric.concepts] if item.rubric else []
        user = (
            f"Question:\n{item.prompt.strip()}\n\nConcepts:\n"
            + "\n".join(f"- {name}" for name in concepts)
            + f"\n\nAnswer:\n{answer.strip()}"
        )
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]

    def assess(self, item: Item, answer: str) -> JudgeVerdict:
        import requests

        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        body = {"model": self.model, "messages": self.messages(item, answer), "temperature": 0}
        try:
            response = requests.post(
                f"{self.base_url}/chat/completions",
                json=body,
                headers=headers,
                timeout=self.timeout,
            )
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
        except requests.RequestException as error:
            raise JudgeError(f"request to {self.base_url} failed: {error}") from None
        except (KeyError, IndexError, TypeError, ValueError):
            raise JudgeError("the endpoint's reply is not an OpenAI chat completion") from None
        return parse_verdict(content, [c.name for c in item.rubric.concepts] if item.rubric else [])


def parse_verdict(content: str, concepts: list[str]) -> JudgeVerdict:
    """Read {"concepts_found": [...], "score": x} from a reply (fenced or bare JSON)."""
    match = re.search(r"\{.*\}", content or "", re.DOTALL)
    if not match:
        raise JudgeError("the judge's reply holds no JSON object")
    try:
        data = json.loads(match.group(0))
        score = float(data["score"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise JudgeError("the judge's JSON lacks a numeric 'score'") from None
    if not 0.0 <= score <= 1.0:
        raise JudgeError(f"the judge's score {score} is outside [0, 1]")
    found = data.get("concepts_found") or []
    known = tuple(name for name in concepts if name in {str(f) for f in found})
    return JudgeVerdict(score=score, concepts_found=known)
