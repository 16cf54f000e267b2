"""Attacks on the multiple-choice grade: real sessions over every choice item of the real bank,
on a real SQLite store, answered by blind rules (always the first, the last, the longest or the
shortest option as shown) must score near chance, while a candidate who knows the answers
scores 100 %. Options are shown in a per-session order that survives a reload, differs between
sessions, and the store keeps the bank's index of the option picked."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import combinations

import pytest

from interview.bank import Bank, Item, load_bank
from interview.choice import option_order, shown_choice
from interview.grading import Grader
from interview.session import InterviewSession, ItemView, SessionConfig
from interview.store import InterviewStore

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SEEDS = (11, 12, 13, 14, 15)
# Chance is 1/4 on the bank's four-option items; the pass mark is 0.6.
ATTACK_CEILING = 0.5

Strategy = Callable[[Item, ItemView], int]
STRATEGIES: dict[str, Strategy] = {
    "first": lambda item, view: 0,
    "last": lambda item, view: len(view.options) - 1,
    "longest": lambda item, view: max(range(len(view.options)), key=lambda k: len(view.options[k])),
    "shortest": lambda item, view: min(
        range(len(view.options)), key=lambda k: len(view.options[k])
    ),
    "knows": lambda item, view: view.options.index(item.options[item.answer]),
}


@pytest.fixture(scope="module")
def bank() -> Bank:
    """The real bank's choice items under their real topics (free text and code items would
    load the embedding model or the sandbox, and do not take part in this attack)."""
    real = load_bank()
    items = {k: item for k, item in real.items.items() if item.kind == "choice"}
    assert len(items) >= 24
    return Bank(topics=real.topics, items=items)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("attacks") / "interview.sqlite"
    with InterviewStore.open(f"sqlite:///{path}") as opened:
        yield opened


def _start(store: InterviewStore, bank: Bank, user: str, seed: int) -> InterviewSession:
    every = len(bank.items)
    config = SessionConfig(max_items=every, min_items=every, se_target=0.0)
    return InterviewSession.start(
        store, bank, Grader(), user=user, seed=seed, config=config, now=NOW
    )


@pytest.fixture(scope="module")
def runs(store, bank) -> dict[tuple[str, int], tuple[str, list[ItemView]]]:
    """(strategy, seed) -> (session id, the views answered in order), every session run to
    its end."""
    done = {}
    for name, strategy in STRATEGIES.items():
        for seed in SEEDS:
            session = _start(store, bank, f"{name}-{seed}", seed)
            views, now = [], NOW
            while (view := session.current()) is not None:
                views.append(view)
                now += timedelta(seconds=30)
                session.answer(strategy(bank.item(view.id), view), now=now)
            done[name, seed] = (session.id, views)
    return done


def _mean_score(store: InterviewStore, runs, name: str) -> float:
    scores = [r.score for seed in SEEDS for r in store.session_responses(runs[name, seed][0])]
    return sum(scores) / len(scores)


def test_every_session_covers_every_choice_item(runs, bank):
    for _, views in runs.values():
        assert sorted(v.id for v in views) == sorted(bank.items)


@pytest.mark.parametrize("name", ["first", "last", "longest", "shortest"])
def test_a_blind_rule_scores_near_chance(store, runs, name):
    mean = _mean_score(store, runs, name)
    print(f"always the {name} option: mean score {mean:.3f} over {len(SEEDS)} sessions")
    assert mean <= ATTACK_CEILING


def test_knowing_the_answers_scores_everything(store, runs):
    assert _mean_score(store, runs, "knows") == 1.0


def test_the_store_keeps_the_banks_index_and_the_order_shown(store, runs, bank):
    for seed in SEEDS:
        session_id, views = runs["first", seed]
        stored = store.session_responses(session_id)
        for view, row in zip(views, stored, strict=True):
            item = bank.item(view.id)
            picked = item.options.index(view.options[0])  # the bank's index of what was shown
            assert row.item_id == item.id and row.response == str(picked)
            assert row.score == (1.0 if picked == item.answer else 0.0)
            shown = row.feedback["shown_order"]
            assert [item.options[k] for k in shown] == list(view.options)


def test_two_sessions_show_most_items_in_different_orders(runs, bank):
    orders = {seed: {v.id: v.options for v in runs["knows", seed][1]} for seed in SEEDS}
    for a, b in combinations(SEEDS, 2):
        differ = sum(orders[a][i] != orders[b][i] for i in orders[a])
        assert differ >= 0.75 * len(orders[a]), (a, b, differ)
    # and within one session the right option is shown at every place, not at one
    for seed in SEEDS:
        places = set()
        for item_id, options in orders[seed].items():
            item = bank.item(item_id)
            places.add(options.index(item.options[item.answer]))
        assert places == {0, 1, 2, 3}


def test_a_reload_shows_the_same_order(store, bank):
    session = _start(store, bank, "reloader", seed=7)
    for k in range(3):
        shown = session.current()
        again = InterviewSession.resume(store, bank, Grader(), session.id).current()
        assert again == shown  # same item, same options in the same order
        assert sorted(shown.options) == sorted(bank.item(shown.id).options)
        session.answer(shown.options[-1], now=NOW + timedelta(minutes=k + 1))  # by text
    resumed = InterviewSession.resume(store, bank, Grader(), session.id)
    assert resumed.current() == session.current()
    stored = store.session_responses(session.id)
    assert len(stored) == 3 and all(r.response.isdigit() for r in stored)


def test_the_order_is_a_stable_permutation_independent_of_the_hash_seed():
    order = option_order(1, "fm-rope-on-values", 4)
    assert sorted(order) == [0, 1, 2, 3]
    assert option_order(1, "fm-rope-on-values", 4) == order
    # the same in a fresh interpreter with another salt for str hashes
    script = (
        "from interview.choice import option_order;print(option_order(1, 'fm-rope-on-values', 4))"
    )
    for salt in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": salt}
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        ).stdout
        assert out.strip() == str(order)
    # every option leads about as often as the others over many sessions
    firsts = [option_order(seed, "an-item", 4)[0] for seed in range(4000)]
    assert all(850 <= firsts.count(k) <= 1150 for k in range(4))


def test_the_app_shows_the_sessions_order_and_nothing_that_marks_the_answer(store, bank):
    import dataclasses
    import json

    from interview.app import InterviewScreens

    every = len(bank.items)
    screens = InterviewScreens(
        store, bank, Grader(), SessionConfig(max_items=every, min_items=every, se_target=0.0)
    )
    screen = screens.start("app-user")
    session = InterviewSession.resume(store, bank, Grader(), screen.session_id)
    for _ in range(6):
        item = bank.item(screen.item.id)
        assert screen.item == session.current()  # the order the session keeps
        sent = json.dumps(dataclasses.asdict(screen), default=str)
        assert " ".join(item.explanation.split())[:60] not in " ".join(sent.split())
        assert '"answer"' not in sent
        # the browser sends the position shown; the store gets the bank's index
        screen = screens.answer(screen.session_id, choice="2")
        stored = store.session_responses(screen.session_id)[-1]
        assert stored.response == str(item.options.index(session.current().options[2]))
        session = InterviewSession.resume(store, bank, Grader(), screen.session_id)


def test_the_review_command_maps_the_number_typed_to_the_option_shown(tmp_path):
    """`compete interview review` prints the options in the session's order; the number typed
    is graded as the option printed beside it."""
    from pathlib import Path

    from typer.testing import CliRunner

    from compete.cli import app

    folder = Path(__file__).with_name("app_bank")
    small = load_bank(folder)
    then = NOW - timedelta(days=30)
    with InterviewStore.open(f"sqlite:///{tmp_path / 'interview.sqlite'}") as store:
        first = InterviewSession.start(
            store, small, Grader(), user="ida", topics=["adapters"],
            config=SessionConfig(max_items=3, min_items=3), seed=3, now=then,
        )  # fmt: skip
        while first.current() is not None:
            first.skip(now=then)
    typed = ["1", "2", "3"]
    result = CliRunner().invoke(
        app,
        ["--home", str(tmp_path), "interview", "review", "--user", "ida", "--bank", str(folder)],
        input="\n".join(typed) + "\n",
    )
    assert result.exit_code == 0, result.output
    with InterviewStore.open(f"sqlite:///{tmp_path / 'interview.sqlite'}") as store:
        rows = [r for r in store.user_responses("ida") if r.session_id != first.id]
    assert len(rows) == 3 and len({r.session_id for r in rows}) == 1
    for number, row in zip(typed, rows, strict=True):
        item = small.item(row.item_id)
        shown = row.feedback["shown_order"]
        picked = shown[int(number) - 1]
        assert row.response == str(picked)
        assert row.score == (1.0 if picked == item.answer else 0.0)
        printed = [item.options[k] for k in shown]
        assert f"{number}. {printed[int(number) - 1][:40]}" in " ".join(result.output.split())


def test_a_position_shown_maps_back_to_the_banks_option_and_text_ignores_the_order(bank):
    item = bank.item("mask-after-softmax-symptom")
    shown = (3, 0, 2, 1)
    assert [shown_choice(item, k, shown) for k in range(4)] == [3, 0, 2, 1]
    assert shown_choice(item, " 1 ", shown) == 0 and shown_choice(item, 4, shown) is None
    assert shown_choice(item, "-1", shown) is None and shown_choice(item, True, shown) is None
    right = item.options[item.answer]
    assert shown_choice(item, "  " + right.upper(), shown) == item.answer
    assert shown_choice(item, "nonsense", shown) is None
