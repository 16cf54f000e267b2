"""FSRS scheduling: ratings from scores, missed items come back sooner, the due queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fsrs import Rating

from interview.review import due_items, rating_for, review
from interview.store import CardRecord, InterviewStore

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_scores_map_to_ratings():
    assert [rating_for(s) for s in (0.0, 0.39, 0.4, 0.59, 0.6, 0.84, 0.85, 1.0)] == [
        Rating.Again,
        Rating.Again,
        Rating.Hard,
        Rating.Hard,
        Rating.Good,
        Rating.Good,
        Rating.Easy,
        Rating.Easy,
    ]


def test_a_missed_item_comes_due_sooner_than_a_passed_one():
    missed = review("x", None, 0.1, NOW)
    passed = review("x", None, 0.7, NOW)
    easy = review("x", None, 1.0, NOW)
    assert NOW < missed.due < passed.due < easy.due
    assert missed.due - NOW <= timedelta(days=1)
    # a card passed again later is pushed further out; missed again, it comes back soon
    again_passed = review("x", passed.card, 0.9, passed.due)
    again_missed = review("x", passed.card, 0.0, passed.due)
    assert again_passed.due - passed.due > passed.due - NOW
    assert again_missed.due - passed.due < again_passed.due - passed.due


def test_schedule_is_a_function_of_the_answers():
    assert review("x", None, 0.7, NOW) == review("x", None, 0.7, NOW)


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        review("x", None, 0.7, NOW.replace(tzinfo=None))


def test_due_items_come_most_overdue_first(tmp_path):
    with InterviewStore.open(f"sqlite:///{tmp_path / 'i.sqlite'}") as store:
        for item, score in (("late", 0.0), ("early", 0.0), ("later", 1.0)):
            when = NOW if item != "late" else NOW - timedelta(days=3)
            card = review(item, None, score, when)
            store.save_card(CardRecord("ana", item, card.card, card.due), when)
        assert due_items(store, "ana", NOW - timedelta(days=3)) == []
        assert due_items(store, "ana", NOW) == ["late"]
        assert due_items(store, "ana", NOW + timedelta(days=1)) == ["late", "early"]
        assert due_items(store, "ana", NOW + timedelta(days=30)) == ["late", "early", "later"]
        assert due_items(store, "bo", NOW + timedelta(days=30)) == []
