"""Does the adaptive interview measure ability, on the real bank? Simulated candidates answer
the bank's own items (read at run time, so new items count) with the app's session settings.

Each candidate has an overall ability ~ N(0, 1) and per-topic abilities ~ N(overall, τ²), the
hierarchical model the estimates assume. A choice item is right with the 2PL probability; a
free-text or code answer's score is a category drawn from the GPCM (0, 1/3, 2/3 or 1), from
each item's prior parameters (its author's level). Sessions pick items with the session's own
choice and stop rules (interview.session.choose and stop): adaptive (maximum information
with topic balancing) against a random order of the same items under the same stop rule, for
a focus of two topics and for every topic. Targets: focused, per-topic r >= 0.9 and SE < 0.45
for most candidates within 20 items; for every topic, the overall estimate's r and SE."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from interview.ability import (
    STEPS,
    AbilityEstimate,
    Candidate,
    Response,
    category_probabilities,
    joint_estimates,
)
from interview.bank import LEVEL_DIFFICULTY, Bank, load_bank
from interview.session import SessionConfig, choose, stop

RESULTS = Path(__file__).with_name("results")


@dataclass(frozen=True)
class SimulationConfig:
    candidates: int = 400
    focus: int = 2  # topics in a focused session (drawn at random per candidate)
    seed: int = 0
    # what if: this many more free-text items per topic, levels easy, medium, hard in turn
    # (how many the bank needs for the target); the real bank alone when 0
    extra_per_topic: int = 0


@dataclass(frozen=True)
class Outcome:
    scope: str  # "focus" (two topics) or "all" (every topic)
    order: str  # "adaptive" or "random"
    topic_r: float  # estimated vs true ability per asked topic, pooled over candidates
    topic_rmse: float
    topic_mean_se: float
    share_se_below_target: float  # candidates whose every session topic has SE < target
    share_with_band: float  # topic estimates precise enough for a band in words
    overall_r: float
    overall_rmse: float
    overall_mean_se: float
    mean_items: float
    share_stopped_by_se: float  # sessions that stopped at the SE target (not items run out)
    ms_per_update: float
    seconds: float


def candidates_of(bank: Bank, extra_per_topic: int = 0) -> dict[str, list[Candidate]]:
    """Every item of the bank as the session scores it: its prior (a, b) and its steps; and
    `extra_per_topic` hypothetical free-text items per topic."""
    found: dict[str, list[Candidate]] = {}
    for item in bank.items.values():
        p = item.parameters
        found.setdefault(item.topic, []).append(
            Candidate(item.id, item.topic, p.a, p.b, STEPS[item.kind])
        )
    levels = list(LEVEL_DIFFICULTY.values())
    for topic, items in found.items():
        items += [
            Candidate(f"extra-{topic}-{k}", topic, 1.0, levels[k % 3], STEPS["free_text"])
            for k in range(extra_per_topic)
        ]
    return found


def respond(item: Candidate, theta: float, rng: np.random.Generator) -> float:
    """A simulated answer's score: a GPCM category (the 2PL for one step) over its steps."""
    probs = category_probabilities(item.a, item.b, theta, item.steps)[:, 0]
    return float(rng.choice(item.steps + 1, p=probs / probs.sum()) / item.steps)


def simulate_one(
    true: dict[str, float],
    pool: list[Candidate],
    order: str,
    config: SessionConfig,
    rng: np.random.Generator,
    timings: list[float],
) -> tuple[dict[str, AbilityEstimate], AbilityEstimate, int, bool]:
    topics = list(true)
    left = list(pool)
    shuffled = [pool[k] for k in rng.permutation(len(pool))]
    answers: dict[str, list[Response]] = {}
    asked: Counter[str] = Counter()
    n = 0
    stopped_by_se = False
    found, overall = joint_estimates({}, topics=topics, tau=config.topic_sd)
    while True:
        current = {t: found[t] for t in topics}
        if stop(current, n, config):
            stopped_by_se = n < config.max_items
            break
        if order == "adaptive":
            item = choose(left, current, asked, rng, config)
        else:
            item = next((c for c in shuffled if c in left), None)
        if item is None:
            break  # the topics' items are used up
        left.remove(item)
        score = respond(item, true[item.topic], rng)
        answers.setdefault(item.topic, []).append((item.a, item.b, score, item.steps))
        asked[item.topic] += 1
        n += 1
        started = time.perf_counter()
        found, overall = joint_estimates(answers, topics=topics, tau=config.topic_sd)
        timings.append(time.perf_counter() - started)
    return {t: found[t] for t in topics}, overall, n, stopped_by_se


def run(
    scope: str, order: str, bank: Bank, config: SimulationConfig, session: SessionConfig
) -> Outcome:
    rng = np.random.default_rng([config.seed, scope == "all"])  # same people for both orders
    by_topic = candidates_of(bank, config.extra_per_topic)
    names = sorted(by_topic)
    estimated, truth, ses, overall_found, overall_true, overall_se = [], [], [], [], [], []
    below, items, by_se, precise, timings = [], [], [], [], []
    started = time.perf_counter()
    for _ in range(config.candidates):
        mu = rng.normal()
        abilities = {t: mu + session.topic_sd * rng.normal() for t in names}
        picked = (
            names
            if scope == "all"
            else sorted(rng.choice(names, size=config.focus, replace=False).tolist())
        )
        pool = [c for t in picked for c in by_topic[t]]
        true = {t: abilities[t] for t in picked}
        person_rng = np.random.default_rng(rng.integers(2**31))
        found, overall, n, stopped = simulate_one(true, pool, order, session, person_rng, timings)
        for t in picked:
            estimated.append(found[t].theta)
            truth.append(true[t])
            ses.append(found[t].se)
            precise.append(found[t].precise)
        below.append(all(found[t].se < session.se_target for t in picked))
        overall_found.append(overall.theta)
        overall_true.append(mu)
        overall_se.append(overall.se)
        items.append(n)
        by_se.append(stopped)
    estimated, truth = np.array(estimated), np.array(truth)
    overall_found, overall_true = np.array(overall_found), np.array(overall_true)
    return Outcome(
        scope=scope,
        order=order,
        topic_r=float(np.corrcoef(estimated, truth)[0, 1]),
        topic_rmse=float(np.sqrt(np.mean((estimated - truth) ** 2))),
        topic_mean_se=float(np.mean(ses)),
        share_se_below_target=float(np.mean(below)),
        share_with_band=float(np.mean(precise)),
        overall_r=float(np.corrcoef(overall_found, overall_true)[0, 1]),
        overall_rmse=float(np.sqrt(np.mean((overall_found - overall_true) ** 2))),
        overall_mean_se=float(np.mean(overall_se)),
        mean_items=float(np.mean(items)),
        share_stopped_by_se=float(np.mean(by_se)),
        ms_per_update=1000 * float(np.mean(timings)),
        seconds=time.perf_counter() - started,
    )


def main(config: SimulationConfig = SimulationConfig(), bank: Bank | None = None) -> list[Outcome]:
    bank = bank or load_bank()
    session = SessionConfig()  # what the app uses
    outcomes = [
        run(scope, order, bank, config, session)
        for scope in ("focus", "all")
        for order in ("adaptive", "random")
    ]
    kinds = Counter(i.kind for i in bank.items.values())
    per_topic = Counter(i.topic for i in bank.items.values())
    print(
        f"{config.candidates} simulated candidates per row on the real bank: {len(bank.items)} "
        f"items ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}), "
        f"{len(per_topic)} topics of {min(per_topic.values())}-{max(per_topic.values())} items; "
        f"overall ~ N(0, 1), topic ~ N(overall, {session.topic_sd}²); session: at most "
        f"{session.max_items} items, at least {session.min_items}, SE target {session.se_target}"
    )
    print(
        f"{'scope':<6} {'order':<9} {'topic r':>7} {'RMSE':>5} {'SE':>5} {'SE<tgt':>6} "
        f"{'band':>5} {'all r':>6} {'all SE':>6} {'items':>5} {'by SE':>5} {'ms/upd':>6}"
    )
    for o in outcomes:
        print(
            f"{o.scope:<6} {o.order:<9} {o.topic_r:7.3f} {o.topic_rmse:5.2f} "
            f"{o.topic_mean_se:5.2f} {o.share_se_below_target:6.0%} {o.share_with_band:5.0%} "
            f"{o.overall_r:6.3f} {o.overall_mean_se:6.2f} {o.mean_items:5.1f} "
            f"{o.share_stopped_by_se:5.0%} {o.ms_per_update:6.2f}"
        )
    focus = next(o for o in outcomes if o.scope == "focus" and o.order == "adaptive")
    r_met = focus.topic_r >= 0.9
    se_met = focus.share_se_below_target > 0.5
    print(
        f"focused two-topic session, per-topic r >= 0.9: {'met' if r_met else 'MISSED'} "
        f"({focus.topic_r:.3f}); SE < {session.se_target} on both topics for most candidates: "
        f"{'met' if se_met else 'MISSED'} ({focus.share_se_below_target:.0%})"
    )
    # what the free-text items in flight (about two per topic) and more would change
    what_if = [
        run("focus", "adaptive", bank, replace(config, extra_per_topic=extra), session)
        for extra in (2, 4, 6)
    ]
    for extra, o in zip((2, 4, 6), what_if, strict=True):
        print(
            f"what if each topic had {extra} more free-text items: focused adaptive "
            f"r {o.topic_r:.3f}, mean SE {o.topic_mean_se:.2f}, SE < {session.se_target} on "
            f"both for {o.share_se_below_target:.0%}, {o.mean_items:.1f} items"
        )
    RESULTS.mkdir(exist_ok=True)
    report = {
        "config": asdict(config),
        "session": asdict(session),
        "bank": {"items": len(bank.items), "kinds": dict(kinds), "per_topic": dict(per_topic)},
        "outcomes": [asdict(o) for o in outcomes],
        "what_if_more_free_text_per_topic": {
            str(extra): asdict(o) for extra, o in zip((2, 4, 6), what_if, strict=True)
        },
        "focus_r_target_met": r_met,
        "focus_se_target_met": se_met,
    }
    (RESULTS / "interview_simulation.json").write_text(json.dumps(report, indent=2) + "\n")
    return outcomes


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    main()
