"""What the interview tests share: a real SQLite interview store, and small banks of choice
items whose right option is "right" (no embedding model loads for them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from interview.bank import IRT, Bank, Item, Topic
from interview.store import InterviewStore


@pytest.fixture
def store(tmp_path):
    with InterviewStore.open(f"sqlite:///{tmp_path / 'interview.sqlite'}") as opened:
        yield opened


@pytest.fixture
def choice_bank() -> Callable[..., Bank]:
    """The factory below (a fixture: test modules are not importable here)."""
    return make_choice_bank


def make_choice_bank(
    topics: Sequence[str], levels: Sequence[str], irt: Callable[[int, str], IRT], **fields
) -> Bank:
    """Items TOPIC-K of `topics`, one per level of `levels` (k = 0, 1, ...), with the
    options "right", "wrong", "also wrong" and the parameters `irt(k, level)`; `fields` go
    to every Item (an explanation, say)."""
    found = {t: Topic(id=t, area="failure_modes", title=t.title(), description="") for t in topics}
    items = {}
    for topic in topics:
        for k, level in enumerate(levels):
            item = Item(
                id=f"{topic}-{k}",
                topic=topic,
                kind="choice",
                level=level,
                prompt=f"{topic} question {k}",
                options=["right", "wrong", "also wrong"],
                answer=0,
                irt=irt(k, level),
                **fields,
            )
            items[item.id] = item
    return Bank(topics=found, items=items)
