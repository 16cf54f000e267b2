"""The interview session: plain Python with no UI. It serves items, grades answers, updates
the running ability estimates, schedules reviews and keeps everything in the store, so a
refresh or a crash resumes where it stopped and a person's progress accumulates."""

from __future__ import annotations

import dataclasses
import json
import secrets
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from interview.ability import (
    DRIFT,
    AbilityEstimate,
    Candidate,
    Prior,
    choose_next,
    estimate_ability,
    should_stop,
)
from interview.bank import Bank, Item
from interview.choice import option_order, shown_choice
from interview.errors import InterviewError
from interview.review import make_scheduler, review
from interview.store import (
    CardRecord,
    EstimateRecord,
    InterviewStore,
    ResponseRecord,
    SessionRecord,
)

if TYPE_CHECKING:
    from interview.grading import Grade, Grader

MODES = ("interview", "review")
OVERALL = "_overall"  # the estimate pooling every topic (not a topic id: ids start [a-z0-9])
SKIPPED = "skipped"


class SessionError(InterviewError):
    """The session cannot do what was asked (finished, unknown topic, bad mode)."""


@dataclass(frozen=True)
class SessionConfig:
    """Stop rule and selection knobs (see interview.ability.should_stop and choose_next)."""

    max_items: int = 15
    min_items: int = 5
    se_target: float = 0.4
    top_k: int = 3
    drift: float = DRIFT  # how much an earlier estimate's SE is widened to become a prior


@dataclass(frozen=True)
class ItemView:
    """What the UI may show: never the answer, rubric, reference or hidden tests. A choice
    item's options come in this session's order (see `interview.choice.option_order`)."""

    id: str
    topic: str
    topic_title: str
    kind: str
    level: str
    prompt: str
    options: tuple[str, ...]
    starter: str
    context: dict[str, str]
    number: int
    max_items: int


@dataclass(frozen=True)
class Report:
    """The end of a session: each topic's ability with its SE and band, and what comes back."""

    session_id: str
    user: str
    abilities: tuple[AbilityEstimate, ...]
    overall: AbilityEstimate
    strengths: tuple[str, ...]
    weak_spots: tuple[str, ...]
    next_reviews: tuple[tuple[str, str, datetime], ...]  # (item_id, topic, due)
    answered: int
    started_at: datetime
    finished_at: datetime | None


class InterviewSession:
    """One sitting. Make it with `start`, `resume` or `latest_open`, never directly.

    Interview mode asks up to `max_items` (at least `min_items`) items of the session's
    topics, each chosen by maximum information at the topic's running estimate, and stops
    early only when every topic's SE is below `se_target`. Review mode serves the person's
    items that FSRS says are due, most overdue first, and stops when none are due.

    A person's progress accumulates: each topic's prior is the estimate from their earlier
    sessions (the latest answer to each item counts once), its SE widened by `drift`, and
    it is frozen into the session row so a resume gives the same numbers.
    """

    def __init__(
        self,
        store: InterviewStore,
        bank: Bank,
        grader: Grader,
        record: SessionRecord,
        answers: list[ResponseRecord],
        parameters: dict[str, tuple[float, float]],
        seen_before: frozenset[str],
    ) -> None:
        self._store = store
        self._bank = bank
        self._grader = grader
        self._record = record
        self._answers = answers
        self._parameters = parameters
        self._seen_before = seen_before
        self._config = _config(record.config)
        self._priors = {t: Prior(*v) for t, v in record.config.get("priors", {}).items()}
        self._scheduler = make_scheduler()

    # -- making one --------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        store: InterviewStore,
        bank: Bank,
        grader: Grader,
        *,
        user: str,
        topics: Sequence[str] | None = None,
        mode: str = "interview",
        config: SessionConfig = SessionConfig(),
        seed: int | None = None,
        now: datetime | None = None,
    ) -> InterviewSession:
        """A new session for `user`, stored before the first item is shown."""
        now = _aware(now)
        if mode not in MODES:
            raise SessionError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if not user.strip():
            raise SessionError("a session needs a user name")
        chosen = _topics(bank, topics)
        history = store.user_responses(user)
        parameters = _parameters(bank, store)
        priors = _priors(history, parameters, bank, [*chosen, OVERALL], config.drift)
        record = SessionRecord(
            id=str(uuid.uuid4()),
            user=user,
            topics=chosen,
            mode=mode,
            status="open",
            started_at=now,
            seed=secrets.randbits(31) if seed is None else int(seed),
            config={
                **dataclasses.asdict(config),
                "priors": {t: [p.mean, p.sd] for t, p in priors.items()},
            },
            served_at=now,
        )
        seen = frozenset(r.item_id for r in history)
        session = cls(store, bank, grader, record, [], parameters, seen)
        first = session._pick([], now)
        record = dataclasses.replace(
            record,
            current_item=first,
            status="open" if first else "finished",
            finished_at=None if first else now,
        )
        session._record = store.create_session(record)
        return session

    @classmethod
    def resume(
        cls, store: InterviewStore, bank: Bank, grader: Grader, session_id: str
    ) -> InterviewSession:
        """The session as stored: the same item on screen, the same estimates."""
        record = store.get_session(session_id)
        answers = store.session_responses(session_id)
        history = store.user_responses(record.user, exclude_session=session_id)
        seen = frozenset(r.item_id for r in history)
        session = cls(store, bank, grader, record, answers, _parameters(bank, store), seen)
        if record.status == "open" and (
            record.current_item is None or record.current_item not in bank.items
        ):
            # the bank changed under a stored session: serve another item
            now = _aware(None)
            session._serve(session._pick(answers, now), now)
        return session

    @classmethod
    def latest_open(
        cls, store: InterviewStore, bank: Bank, grader: Grader, user: str
    ) -> InterviewSession | None:
        """The person's newest unfinished session, resumed; None when there is none."""
        record = store.latest_open_session(user)
        return None if record is None else cls.resume(store, bank, grader, record.id)

    # -- reading it --------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def user(self) -> str:
        return self._record.user

    @property
    def topics(self) -> tuple[str, ...]:
        return self._record.topics

    @property
    def mode(self) -> str:
        return self._record.mode

    @property
    def config(self) -> SessionConfig:
        return self._config

    @property
    def finished(self) -> bool:
        return self._record.status == "finished" or self._record.current_item is None

    @property
    def answered(self) -> int:
        return len(self._answers)

    def current(self) -> ItemView | None:
        """The item on screen, or None when the session is over."""
        if self.finished:
            return None
        item = self._bank.item(self._record.current_item)
        total = self._config.max_items
        if self.mode == "review":
            due = self._due(self._answers, self._record.served_at or _aware(None))
            total = len(self._answers) + len(due)
        return ItemView(
            id=item.id,
            topic=item.topic,
            topic_title=self._bank.topics[item.topic].title,
            kind=item.kind,
            level=item.level,
            prompt=item.prompt,
            options=tuple(item.options[i] for i in self._order(item)),
            starter=item.code.starter if item.code else "",
            context=dict(item.code.context) if item.code else {},
            number=len(self._answers) + 1,
            max_items=max(total, len(self._answers) + 1),
        )

    def estimates(self) -> dict[str, AbilityEstimate]:
        """Each topic's running estimate (its prior carries earlier sessions)."""
        return _estimates(self._answers, self._parameters, self._priors, self.topics)

    def overall(self) -> AbilityEstimate:
        """One estimate pooling every answer of the session, whatever its topic."""
        return _estimate(self._answers, self._parameters, self._priors, OVERALL)

    # -- answering ---------------------------------------------------------------------------

    def answer(
        self, response: str | int, *, seconds: float | None = None, now: datetime | None = None
    ) -> Grade:
        """Grade the answer to the current item, store it with the updated estimates and the
        item's review card in one transaction, and move to the next item. A choice item is
        answered with the option's position as shown (`current().options`) or its text; the
        stored response is the option's index in the bank, and the feedback keeps the order
        shown."""
        item = self._on_screen()
        feedback: dict[str, Any] = {}
        if item.kind == "choice":
            order = self._order(item)
            index = shown_choice(item, response, order)
            feedback = {"shown_order": list(order)}
            response = response if index is None else index
        grade = self._grader.grade(item, response)
        self._record_answer(
            item,
            response=str(response),
            score=float(grade.score),
            passed=bool(grade.passed),
            feedback={**_grade_json(grade), **feedback},
            seconds=seconds,
            now=now,
        )
        return grade

    def skip(self, *, now: datetime | None = None) -> None:
        """Count the current item as a miss (score 0, feedback "skipped"); it comes back in
        review like any other miss."""
        item = self._on_screen()
        self._record_answer(
            item,
            response="",
            score=0.0,
            passed=False,
            feedback={"feedback": SKIPPED, "score": 0.0, "passed": False},
            seconds=None,
            now=now,
        )

    def finish(self, *, now: datetime | None = None) -> None:
        """End the session now (the person stops early); the report stays available."""
        now = _aware(now)
        self._store.finish_session(self.id, now)
        self._record = dataclasses.replace(
            self._record, status="finished", finished_at=now, current_item=None
        )

    def report(self) -> Report:
        """Each topic's ability (those asked here, or known from earlier sessions)."""
        asked = Counter(r.topic for r in self._answers)
        abilities = tuple(
            e
            for t, e in self.estimates().items()
            if asked[t] or self._priors.get(t, Prior()) != Prior()
        )
        ranked = sorted(abilities, key=lambda e: -e.theta)
        answered_ids = {r.item_id for r in self._answers}
        reviews = tuple(
            (c.item_id, self._bank.items[c.item_id].topic, c.due)
            for c in self._store.cards(self.user)
            if c.item_id in answered_ids and c.item_id in self._bank.items
        )
        return Report(
            session_id=self.id,
            user=self.user,
            abilities=abilities,
            overall=self.overall(),
            strengths=tuple(e.topic for e in ranked if e.theta >= 0.5),
            weak_spots=tuple(e.topic for e in reversed(ranked) if e.theta <= -0.5),
            next_reviews=reviews,
            answered=len(self._answers),
            started_at=self._record.started_at,
            finished_at=self._record.finished_at,
        )

    # -- inside ------------------------------------------------------------------------------

    def _order(self, item: Item) -> tuple[int, ...]:
        """The order this session shows a choice item's options in (the same on a resume)."""
        return option_order(self._record.seed, item.id, len(item.options))

    def _on_screen(self) -> Item:
        if self.finished:
            raise SessionError(
                f"session {self.id} is finished: see its report, or start a new session"
            )
        return self._bank.item(self._record.current_item)

    def _record_answer(
        self,
        item: Item,
        *,
        response: str,
        score: float,
        passed: bool,
        feedback: dict[str, Any],
        seconds: float | None,
        now: datetime | None,
    ) -> None:
        now = _aware(now)
        if seconds is None and self._record.served_at is not None:
            seconds = max(0.0, (now - self._record.served_at).total_seconds())
        row = ResponseRecord(
            session_id=self.id,
            item_id=item.id,
            topic=item.topic,
            position=len(self._answers) + 1,
            response=response,
            score=min(max(score, 0.0), 1.0),
            passed=passed,
            seconds=seconds,
            feedback=feedback,
            answered_at=now,
        )
        answers = [*self._answers, row]
        running = [
            _estimate(answers, self._parameters, self._priors, topic)
            for topic in (item.topic, OVERALL)
        ]
        old = self._store.card(self.user, item.id)
        card = review(item.id, old.card if old else None, row.score, now, self._scheduler)
        following = self._pick(answers, now)
        self._store.record_answer(
            row,
            [EstimateRecord(self.id, e.topic, e.theta, e.se, e.n_items, now) for e in running],
            CardRecord(self.user, item.id, card.card, card.due),
            next_item=following,
            finished=following is None,
        )
        self._answers = answers
        self._record = dataclasses.replace(
            self._record,
            current_item=following,
            served_at=now,
            status="open" if following else "finished",
            finished_at=None if following else now,
        )

    def _serve(self, item_id: str | None, now: datetime) -> None:
        if item_id is None:
            self._store.finish_session(self.id, now)
            self._record = dataclasses.replace(
                self._record, status="finished", finished_at=now, current_item=None
            )
        else:
            self._store.serve(self.id, item_id, now)
            self._record = dataclasses.replace(self._record, current_item=item_id, served_at=now)

    def _due(self, answers: Sequence[ResponseRecord], now: datetime) -> list[str]:
        """Due items of the session's topics not answered in this session, most overdue
        first."""
        done = {r.item_id for r in answers}
        return [
            c.item_id
            for c in self._store.cards(self.user)
            if c.due <= now
            and c.item_id not in done
            and c.item_id in self._bank.items
            and self._bank.items[c.item_id].topic in self.topics
        ]

    def _pick(self, answers: Sequence[ResponseRecord], now: datetime) -> str | None:
        """The next item's id, or None when the session should stop."""
        due = self._due(answers, now)
        if self.mode == "review":
            return due[0] if due else None
        current = _estimates(answers, self._parameters, self._priors, self.topics)
        config = self._config
        if should_stop(
            current,
            len(answers),
            min_items=config.min_items,
            max_items=config.max_items,
            se_target=config.se_target,
        ):
            return None
        done = {r.item_id for r in answers}
        pool = [
            item
            for topic in self.topics
            for item in self._bank.by_topic(topic)
            if item.id not in done
        ]
        # Unseen by this person, or due for review; when a returning person has seen every
        # item, anything not asked in this session.
        fresh = [i for i in pool if i.id not in self._seen_before or i.id in due]
        candidates = [Candidate(i.id, i.topic, *self._parameters[i.id]) for i in (fresh or pool)]
        rng = np.random.default_rng([self._record.seed, len(answers)])
        chosen = choose_next(
            candidates, current, Counter(r.topic for r in answers), rng, config.top_k
        )
        return None if chosen is None else chosen.item_id


def progress(store: InterviewStore, bank: Bank, user: str) -> dict[str, AbilityEstimate]:
    """A person's accumulated ability per topic (and OVERALL) from every stored answer: the
    latest answer to each item counts once, from the N(0, 1) prior."""
    history = _latest_per_item(store.user_responses(user))
    parameters = _parameters(bank, store)
    topics = sorted({r.topic for r in history})
    found = _estimates(history, parameters, {}, topics)
    found[OVERALL] = _estimate(history, parameters, {}, OVERALL)
    return found


def _estimate(
    answers: Sequence[ResponseRecord],
    parameters: dict[str, tuple[float, float]],
    priors: dict[str, Prior],
    topic: str,
) -> AbilityEstimate:
    triples = [
        (*parameters.get(r.item_id, (1.0, 0.0)), r.score)
        for r in answers
        if topic == OVERALL or r.topic == topic
    ]
    return estimate_ability(topic, triples, priors.get(topic, Prior()))


def _estimates(
    answers: Sequence[ResponseRecord],
    parameters: dict[str, tuple[float, float]],
    priors: dict[str, Prior],
    topics: Sequence[str],
) -> dict[str, AbilityEstimate]:
    return {t: _estimate(answers, parameters, priors, t) for t in topics}


def _latest_per_item(history: Sequence[ResponseRecord]) -> list[ResponseRecord]:
    latest: dict[str, ResponseRecord] = {}
    for r in history:  # oldest first: later answers replace earlier ones
        latest[r.item_id] = r
    return list(latest.values())


def _priors(
    history: Sequence[ResponseRecord],
    parameters: dict[str, tuple[float, float]],
    bank: Bank,
    topics: Sequence[str],
    drift: float,
) -> dict[str, Prior]:
    """Each topic's prior from the person's earlier answers; N(0, 1) without any."""
    latest = _latest_per_item(history)
    priors: dict[str, Prior] = {}
    for topic in topics:
        before = _estimate(latest, parameters, {}, topic)
        priors[topic] = (
            Prior.from_estimate(before.theta, before.se, drift) if before.n_items else Prior()
        )
    return priors


def _parameters(bank: Bank, store: InterviewStore) -> dict[str, tuple[float, float]]:
    from interview.calibrate import current_parameters

    return {i: (p.a, p.b) for i, p in current_parameters(bank, store).items()}


def _topics(bank: Bank, topics: Sequence[str] | None) -> tuple[str, ...]:
    with_items = [t for t in bank.topics if bank.by_topic(t)]
    if topics is None:
        if not with_items:
            raise SessionError("the item bank has no items: add some under interview/bank/")
        return tuple(with_items)
    unknown = [t for t in topics if t not in bank.topics]
    if unknown:
        raise SessionError(
            f"unknown topic(s) {', '.join(unknown)}; known: {', '.join(bank.topics)}"
        )
    empty = [t for t in topics if t not in with_items]
    if empty:
        raise SessionError(f"topic(s) {', '.join(empty)} have no items yet; pick others")
    if not topics:
        raise SessionError("name at least one topic, or none for all of them")
    return tuple(dict.fromkeys(topics))


def _config(stored: dict[str, Any]) -> SessionConfig:
    names = {f.name for f in dataclasses.fields(SessionConfig)}
    return SessionConfig(**{k: v for k, v in stored.items() if k in names})


def _grade_json(grade: Any) -> dict[str, Any]:
    """The grade as JSON for the responses table (what the person saw)."""
    if dataclasses.is_dataclass(grade):
        return json.loads(json.dumps(dataclasses.asdict(grade), default=str))
    return {
        "feedback": str(getattr(grade, "feedback", "")),
        "score": float(grade.score),
        "passed": bool(grade.passed),
    }


def _aware(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise SessionError(f"naive datetime {now!r}: pass a timezone-aware time")
    return now
