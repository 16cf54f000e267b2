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
    OVERALL,
    STEPS,
    TOPIC_SD,
    AbilityEstimate,
    Candidate,
    Evidence,
    Prior,
    Response,
    choose_next,
    joint_estimates,
    should_stop,
    topic_evidence,
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
    first_answers,
)

if TYPE_CHECKING:
    from interview.grading import Grade, Grader

MODES = ("interview", "review")
SKIPPED = "skipped"
AUTO = "auto"  # topics="auto": the person's weakest or least-measured topics
FOCUS_SIZE = 2  # how many topics "auto" proposes: two can reach the SE target in 20 items
MAX_FOCUS = 3  # a focus is one to three topics (more is a survey of every topic)
RETEST_NOTE = (
    "Re-tests train recall and schedule the next review; they do not change the depth "
    "estimate (only each item's first answer counts)."
)


class SessionError(InterviewError):
    """The session cannot do what was asked (finished, unknown topic, bad mode)."""


@dataclass(frozen=True)
class SessionConfig:
    """Stop rule and selection knobs (see interview.ability.should_stop and choose_next)."""

    max_items: int = 20
    min_items: int = 5
    se_target: float = 0.45
    top_k: int = 3
    drift: float = DRIFT  # how much earlier evidence on a topic is widened (see ability)
    topic_sd: float = TOPIC_SD  # τ: how far a person's topics spread around their overall


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
    retests: int  # answers to items the person had answered before: not in the abilities
    started_at: datetime
    finished_at: datetime | None


class InterviewSession:
    """One sitting. Make it with `start`, `resume` or `latest_open`, never directly.

    Interview mode asks up to `max_items` (at least `min_items`) items of the session's
    topics, each chosen by maximum information at the topic's running estimate, and stops
    early only when every topic's SE is below `se_target`: a focus of one to three topics
    can get there, a survey of every topic rarely does. Review mode serves the person's
    items that FSRS says are due, most overdue first, and stops when none are due.

    Topics share strength (interview.ability.joint_estimates): each topic's ability is
    drawn around the person's overall ability, so a topic with few answers borrows from the
    others. A person's progress accumulates: each topic they answered before brings the
    evidence of those answers, widened by `drift`, frozen into the session row so a resume
    gives the same numbers.

    Only each item's first answer by the person is evidence of ability: every answer shows
    feedback (the right option, the model answer, the tests' verdicts), so a later answer to
    the same item, in review or in another session, may recall the feedback rather than show
    depth. Such re-tests are stored and move the item's review card, never θ. A skip is a
    first answer too (a miss), so skipping an item to look it up does not pay.
    """

    def __init__(
        self,
        store: InterviewStore,
        bank: Bank,
        grader: Grader,
        record: SessionRecord,
        answers: list[ResponseRecord],
        parameters: dict[str, tuple[float, float, int]],
        history: Sequence[ResponseRecord],
    ) -> None:
        """`history`: the person's answers in every session, oldest first (this session's
        included once it has some)."""
        self._store = store
        self._bank = bank
        self._grader = grader
        self._record = record
        self._answers = answers
        self._parameters = parameters
        self._seen_before = frozenset(r.item_id for r in history if r.session_id != record.id)
        self._first = _first_answers(history)
        self._config = _config(record.config)
        self._evidence = _stored_evidence(record.config)
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
        topics: Sequence[str] | str | None = None,
        mode: str = "interview",
        config: SessionConfig = SessionConfig(),
        seed: int | None = None,
        now: datetime | None = None,
    ) -> InterviewSession:
        """A new session for `user`, stored before the first item is shown. `topics`: the
        topics to ask about (a focus of one to three reaches a useful precision on each),
        "auto" for the person's weakest or least-measured ones (`propose_focus`), or None
        for every topic."""
        now = _aware(now)
        if mode not in MODES:
            raise SessionError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if not user.strip():
            raise SessionError("a session needs a user name")
        if isinstance(topics, str):
            if topics != AUTO:
                raise SessionError(f'topics is a list of topic ids or "{AUTO}", not {topics!r}')
            topics = propose_focus(store, bank, user)
        chosen = _topics(bank, topics)
        history = store.user_responses(user)
        parameters = _parameters(bank, store)
        evidence = _evidence(history, parameters, config)
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
                "evidence": {
                    t: {"drift": e.drift, "responses": [list(r) for r in e.responses]}
                    for t, e in evidence.items()
                },
            },
            served_at=now,
        )
        session = cls(store, bank, grader, record, [], parameters, history)
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
        history = store.user_responses(record.user)
        session = cls(store, bank, grader, record, answers, _parameters(bank, store), history)
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
        """The item on screen, or None when the session is over. The grader gets ready for
        it (a code item's reference runs while the candidate writes)."""
        if self.finished:
            return None
        item = self._bank.item(self._record.current_item)
        self._grader.prepare(item)
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
        """Each of the session's topics' running estimate (earlier sessions' evidence in)."""
        found, _ = self._joint(self._answers)
        return {t: found[t] for t in self.topics}

    def overall(self) -> AbilityEstimate:
        """The person's overall ability: the centre their topics spread around."""
        return self._joint(self._answers)[1]

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
        abilities = tuple(e for t, e in self.estimates().items() if asked[t] or t in self._evidence)
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
            # only where the evidence is enough for a band: a guess is no strength
            strengths=tuple(e.topic for e in ranked if e.precise and e.theta >= 0.5),
            weak_spots=tuple(e.topic for e in reversed(ranked) if e.precise and e.theta <= -0.5),
            next_reviews=reviews,
            answered=len(self._answers),
            retests=len(self._answers) - len(self._counted(self._answers)),
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
        if item.id not in self._first:
            # another session of this person (a second tab) may have answered it since
            self._first.update(
                _first_answers(self._store.user_responses(self.user, item_id=item.id))
            )
        answers = [*self._answers, row]
        found, overall = self._joint(answers)
        # every topic moves with the overall, so each answer stores them all
        running = [*(found[t] for t in self.topics), overall]
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
        self._first.setdefault(item.id, (row.session_id, row.position))
        self._record = dataclasses.replace(
            self._record,
            current_item=following,
            served_at=now,
            status="open" if following else "finished",
            finished_at=None if following else now,
        )

    def _joint(
        self, answers: Sequence[ResponseRecord]
    ) -> tuple[dict[str, AbilityEstimate], AbilityEstimate]:
        counted = self._counted(answers)
        return _joint(counted, self._parameters, self._evidence, self.topics, self._config.topic_sd)

    def _counted(self, answers: Sequence[ResponseRecord]) -> list[ResponseRecord]:
        """The answers that are evidence of ability: those that are the person's first answer
        to their item (an answer not stored yet is first when no other session has one)."""
        counted = []
        for r in answers:
            first = self._first.get(r.item_id)
            if first is None or first == (r.session_id, r.position):
                counted.append(r)
        return counted

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
        found, _ = self._joint(answers)
        current = {t: found[t] for t in self.topics}
        if stop(current, len(answers), self._config):
            return None
        done = {r.item_id for r in answers}
        pool = [
            item
            for topic in self.topics
            for item in self._bank.by_topic(topic)
            if item.id not in done
        ]
        # Only a first answer is evidence of ability, so items the person never answered come
        # first; then items due for review; then, for a person who has seen every item,
        # anything not asked in this session.
        fresh = [i for i in pool if i.id not in self._seen_before]
        due_now = [i for i in pool if i.id in due]
        chosen_from = fresh or due_now or pool
        candidates = [Candidate(i.id, i.topic, *self._parameters[i.id]) for i in chosen_from]
        rng = np.random.default_rng([self._record.seed, len(answers)])
        chosen = choose(candidates, current, Counter(r.topic for r in answers), rng, self._config)
        return None if chosen is None else chosen.item_id


def stop(estimates: dict[str, AbilityEstimate], answered: int, config: SessionConfig) -> bool:
    """The session's stop rule with its config (interview.ability.should_stop)."""
    return should_stop(
        estimates,
        answered,
        min_items=config.min_items,
        max_items=config.max_items,
        se_target=config.se_target,
    )


def choose(
    candidates: Sequence[Candidate],
    estimates: dict[str, AbilityEstimate],
    asked: Counter[str],
    rng: np.random.Generator,
    config: SessionConfig,
) -> Candidate | None:
    """The session's next item among `candidates` with its config (choose_next); the
    simulation benchmark calls this too, so it measures what the app does."""
    return choose_next(candidates, estimates, asked, rng, config.top_k, config.se_target)


def progress(
    store: InterviewStore, bank: Bank, user: str, topics: Sequence[str] = ()
) -> dict[str, AbilityEstimate]:
    """A person's accumulated ability per topic answered (and `topics`, answered or not), and
    OVERALL, from each item's first answer by the person (later ones are re-tests after its
    feedback was shown: they schedule reviews, not θ); topics share strength through the
    overall ability."""
    history = first_answers(store.user_responses(user))
    found, overall = _joint(history, _parameters(bank, store), {}, topics, TOPIC_SD)
    found = {t: found[t] for t in sorted(found)}
    found[OVERALL] = overall
    return found


def propose_focus(
    store: InterviewStore,
    bank: Bank,
    user: str,
    among: Sequence[str] | None = None,
    count: int = FOCUS_SIZE,
) -> list[str]:
    """The `count` (1 to 3) topics (of `among`, default every topic with items) a session should
    focus on: those whose plausible ability, theta - SE from `progress`, is lowest, which
    are the weakest and the least measured; ties go to fewer answers, then bank order."""
    offered = [t for t in (among or bank.topics) if t in bank.topics and bank.by_topic(t)]
    count = min(max(1, count), MAX_FOCUS)
    if not offered:
        raise SessionError("the item bank has no items: add some under interview/bank/")
    known = progress(store, bank, user, offered)
    order = {t: k for k, t in enumerate(offered)}
    ranked = sorted(
        offered,
        key=lambda t: (round(known[t].theta - known[t].se, 6), known[t].n_items, order[t]),
    )
    return ranked[:count]


def _responses(
    answers: Sequence[ResponseRecord], parameters: dict[str, tuple[float, float, int]]
) -> dict[str, list[Response]]:
    """Each topic's answers as (a, b, score, steps); an item gone from the bank keeps
    counting as a medium right-or-wrong item."""
    found: dict[str, list[Response]] = {}
    for r in answers:
        a, b, steps = parameters.get(r.item_id, (1.0, 0.0, 1))
        found.setdefault(r.topic, []).append((a, b, r.score, steps))
    return found


def _joint(
    answers: Sequence[ResponseRecord],
    parameters: dict[str, tuple[float, float, int]],
    evidence: dict[str, Prior | Evidence],
    topics: Sequence[str],
    tau: float,
) -> tuple[dict[str, AbilityEstimate], AbilityEstimate]:
    return joint_estimates(_responses(answers, parameters), evidence, topics=topics, tau=tau)


def _first_answers(history: Sequence[ResponseRecord]) -> dict[str, tuple[str, int]]:
    """Each item's first answer by the person (store.first_answers), as (session id,
    position). `history` is oldest first."""
    return {r.item_id: (r.session_id, r.position) for r in first_answers(history)}


def _evidence(
    history: Sequence[ResponseRecord],
    parameters: dict[str, tuple[float, float, int]],
    config: SessionConfig,
) -> dict[str, Evidence]:
    """Per topic the person answered before, what each item's first answer says (see
    interview.ability.topic_evidence); every such topic, so the overall learns from all."""
    found: dict[str, Evidence] = {}
    for topic, responses in _responses(first_answers(history), parameters).items():
        summary = topic_evidence(responses, config.drift)
        if summary is not None:
            found[topic] = summary
    return found


def _stored_evidence(config: dict[str, Any]) -> dict[str, Prior | Evidence]:
    """The evidence frozen into a session row (the earlier answers' parameters and scores,
    and the drift). Sessions stored before the hierarchical model kept "priors" (an earlier
    estimate widened by drift, on a N(0, 1) prior): their evidence is that prior divided by
    N(0, 1), a Gaussian factor; N(0, 1) itself carries none."""
    if "evidence" in config:
        return {
            t: Evidence(tuple(tuple(r) for r in v["responses"]), float(v["drift"]))
            for t, v in config["evidence"].items()
        }
    found: dict[str, Prior | Evidence] = {}
    for topic, (mean, sd) in config.get("priors", {}).items():
        summary = None if topic == OVERALL else Prior(mean, sd).divided_by(1.0)
        if summary is not None:
            found[topic] = summary
    return found


def _parameters(bank: Bank, store: InterviewStore) -> dict[str, tuple[float, float, int]]:
    """Each item's (a, b, steps): calibrated or prior a and b, and its kind's score steps."""
    from interview.calibrate import current_parameters

    return {
        i: (p.a, p.b, STEPS[bank.items[i].kind]) for i, p in current_parameters(bank, store).items()
    }


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
