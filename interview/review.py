"""Spaced re-testing with FSRS 6: a graded score becomes a rating, a card per (person, item)
says when the item is due again. Every function takes an explicit `now`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from fsrs import Card, Rating, Scheduler

if TYPE_CHECKING:
    from interview.store import InterviewStore

# (upper bound of the score, rating): a miss comes back in a day, an easy pass in about a week.
RATINGS: tuple[tuple[float, Rating], ...] = (
    (0.4, Rating.Again),
    (0.6, Rating.Hard),
    (0.85, Rating.Good),
)


@dataclass(frozen=True)
class ReviewedCard:
    """A card after a review: its FSRS state as JSON text and when the item is due again."""

    item_id: str
    card: str
    due: datetime
    rating: int


def make_scheduler(desired_retention: float = 0.9) -> Scheduler:
    """FSRS without minute-long learning steps (an interview item is not a flash card seen
    ten times a day: a miss comes back the next day) and without fuzzing, so the schedule
    is a function of the answers alone."""
    return Scheduler(
        desired_retention=desired_retention,
        learning_steps=(),
        relearning_steps=(),
        enable_fuzzing=False,
    )


def rating_for(score: float) -> Rating:
    """< 0.4 Again, < 0.6 Hard, < 0.85 Good, otherwise Easy."""
    for upper, rating in RATINGS:
        if score < upper:
            return rating
    return Rating.Easy


def review(
    item_id: str,
    card_json: str | None,
    score: float,
    now: datetime,
    scheduler: Scheduler | None = None,
) -> ReviewedCard:
    """Apply one graded answer to the item's card (a new card when `card_json` is None)."""
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: pass a timezone-aware time")
    scheduler = scheduler or make_scheduler()
    # a new card's id is its creation time in ms (fsrs's own default, made explicit)
    card = (
        Card.from_dict(json.loads(card_json))
        if card_json
        else Card(card_id=int(now.timestamp() * 1000), due=now)
    )
    rating = rating_for(score)
    card, _log = scheduler.review_card(card, rating, review_datetime=now)
    return ReviewedCard(
        item_id=item_id, card=json.dumps(card.to_dict()), due=card.due, rating=int(rating)
    )


def due_items(store: InterviewStore, user: str, now: datetime) -> list[str]:
    """The ids of the person's items due at `now`, most overdue first."""
    return [card.item_id for card in store.cards(user) if card.due <= now]
