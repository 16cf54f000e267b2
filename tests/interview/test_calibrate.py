"""Calibration recovers known 2PL parameters from simulated stored responses, and keeps the
priors of items with too few."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from interview.bank import Bank, Item, Topic
from interview.calibrate import calibrate, current_parameters, fit_2pl
from interview.store import InterviewStore, ResponseRecord, SessionRecord

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TRUE_A = np.array([0.7, 1.0, 1.4, 0.9, 1.8, 1.2, 0.8, 1.5])
TRUE_B = np.array([-1.5, -0.8, -0.3, 0.0, 0.4, 0.9, 1.3, 1.8])


def _bank() -> Bank:
    topics = {t: Topic(id=t, area="fine_tuning", title=t) for t in ("lora", "rare")}
    items = {}
    for k in range(len(TRUE_B)):
        items[f"lora-{k}"] = Item(
            id=f"lora-{k}", topic="lora", kind="choice", level="medium", prompt="?",
            options=["a", "b"], answer=0,
        )  # fmt: skip
    for k in range(2):
        items[f"rare-{k}"] = Item(
            id=f"rare-{k}", topic="rare", kind="choice", level="hard", prompt="?",
            options=["a", "b"], answer=0,
        )  # fmt: skip
    return Bank(topics=topics, items=items)


def _simulate(store: InterviewStore, people: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=people)
    p = 1 / (1 + np.exp(-TRUE_A[:, None] * (theta[None, :] - TRUE_B[:, None])))
    correct = rng.random(p.shape) < p
    rows = []
    for person in range(people):
        sid = f"sim-{person}"
        store.create_session(
            SessionRecord(sid, f"p{person}", ("lora",), "interview", "finished", NOW, seed)
        )
        for k in range(len(TRUE_B)):
            # a few people skip an item: calibration must cope with gaps
            if (person + k) % 11 == 0:
                continue
            score = float(correct[k, person])
            rows.append(
                ResponseRecord(sid, f"lora-{k}", "lora", k + 1, "0", score, score > 0, 10.0,
                               {}, NOW + timedelta(seconds=k))
            )  # fmt: skip
    # the rare topic: a handful of answers only
    rows += [
        ResponseRecord(f"sim-{k}", "rare-0", "rare", 99, "0", 1.0, True, 5.0, {}, NOW)
        for k in range(5)
    ]
    store.add_responses(rows)


def test_calibration_recovers_known_parameters_and_keeps_priors(store):
    bank = _bank()
    _simulate(store, people=400)
    report = calibrate(store, bank, min_responses=30, now=NOW)
    fitted = {i.item_id: i for i in report.items}
    b = np.array([fitted[f"lora-{k}"].b for k in range(len(TRUE_B))])
    a = np.array([fitted[f"lora-{k}"].a for k in range(len(TRUE_A))])
    assert np.corrcoef(b, TRUE_B)[0, 1] > 0.95
    assert np.abs(b - TRUE_B).mean() < 0.3
    assert np.corrcoef(a, TRUE_A)[0, 1] > 0.6
    assert report.fitted == 8 and report.kept == 2
    rare = fitted["rare-0"]
    assert not rare.calibrated and (rare.a, rare.b) == (1.0, 1.2) and rare.n_responses == 5
    # stored, and what a session scores items by from now on
    params = current_parameters(bank, store)
    assert params["lora-3"].calibrated and params["lora-3"].b == pytest.approx(b[3])
    assert not params["rare-0"].calibrated and params["rare-0"].b == 1.2


def test_too_few_responses_keep_every_prior(store):
    bank = _bank()
    _simulate(store, people=20)
    report = calibrate(store, bank, min_responses=30, now=NOW)
    assert report.fitted == 0 and store.calibrations() == {}
    assert all(not p.calibrated for p in current_parameters(bank, store).values())


def test_fit_2pl_alone_on_a_matrix_with_gaps():
    rng = np.random.default_rng(1)
    theta = rng.normal(size=600)
    p = 1 / (1 + np.exp(-(theta[None, :] - TRUE_B[:, None])))
    matrix = (rng.random(p.shape) < p).astype(float)
    matrix[rng.random(matrix.shape) < 0.3] = np.nan
    a, b = fit_2pl(matrix)
    assert a.shape == b.shape == (len(TRUE_B),)
    assert np.corrcoef(b, TRUE_B)[0, 1] > 0.95


def test_only_a_persons_first_answer_to_an_item_is_calibrated(store):
    """Re-answers after feedback (review, a later session) are not evidence of difficulty:
    a person who then answers every item they met right, after seeing its feedback, still
    counts once per item, with their first answer."""
    _simulate(store, 80)
    before = {i.item_id: i for i in calibrate(store, _bank(), min_responses=30, now=NOW).items}
    rows = []
    for person in range(40):
        sid = f"retest-{person}"
        store.create_session(
            SessionRecord(sid, f"p{person}", ("lora",), "review", "finished", NOW, 0)
        )
        rows += [
            ResponseRecord(sid, f"lora-{k}", "lora", k + 1, "0", 1.0, True, 10.0, {},
                           NOW + timedelta(days=3, seconds=k))
            for k in range(len(TRUE_B))
            if (person + k) % 11  # the items this person answered in _simulate
        ]  # fmt: skip
    store.add_responses(rows)
    after = {i.item_id: i for i in calibrate(store, _bank(), min_responses=30, now=NOW).items}
    for item_id, found in after.items():
        assert found.n_responses == before[item_id].n_responses
        assert (found.a, found.b) == pytest.approx((before[item_id].a, before[item_id].b))
