"""Ability estimation by 2PL item response theory: EAP on a grid, Fisher information, adaptive
item choice with topic balancing, and the stop rule. Pure functions of their inputs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

GRID = np.linspace(-4.0, 4.0, 81)
# A person's earlier estimate becomes the prior of a new session, widened by this much:
# people learn (or forget) between sessions, so old evidence should not pin the estimate.
DRIFT = 0.5
# (upper bound of theta, words); theta is on the N(0, 1) scale of the bank's item priors,
# where b = -1 is an easy item, 0 medium and 1.2 hard.
BANDS: tuple[tuple[float, str], ...] = (
    (-1.0, "not yet"),
    (0.0, "developing"),
    (1.0, "solid"),
    (2.0, "strong"),
    (math.inf, "expert"),
)


@dataclass(frozen=True)
class Prior:
    """A normal prior on theta; N(0, 1) for someone we know nothing about."""

    mean: float = 0.0
    sd: float = 1.0

    @classmethod
    def from_estimate(cls, theta: float, se: float, drift: float = DRIFT) -> Prior:
        """The prior for a new session from an earlier estimate: its SE widened by `drift`
        and never wider than the population prior."""
        return cls(mean=theta, sd=min(1.0, math.hypot(se, drift)))

    def log_density(self, grid: np.ndarray = GRID) -> np.ndarray:
        return -0.5 * ((grid - self.mean) / self.sd) ** 2


@dataclass(frozen=True)
class AbilityEstimate:
    """A topic's ability: theta (EAP) with its standard error (posterior SD) and a band.

    Bands, by theta on the bank's scale (an easy item has b = -1, a hard one b = 1.2):
    - "not yet" (theta < -1): easy failure modes are not yet recognised;
    - "developing" (-1 to 0): easy items mostly right, medium ones hit and miss;
    - "solid" (0 to 1): medium items mostly right, the mechanism is understood;
    - "strong" (1 to 2): hard items are more often right than wrong;
    - "expert" (>= 2): hard items reliably right, including diagnosis and fix.
    A band means little when the SE is large; the SE is always reported with it.
    """

    topic: str
    theta: float
    se: float
    n_items: int
    band: str

    def describe(self) -> str:
        return f"{self.band} (θ = {self.theta:+.2f} ± {self.se:.2f}, {self.n_items} items)"


def band(theta: float) -> str:
    """The band in words for theta (see AbilityEstimate)."""
    for upper, words in BANDS:
        if theta < upper:
            return words
    return BANDS[-1][1]


def probability(a: float, b: float, theta: float | np.ndarray) -> float | np.ndarray:
    """2PL: P(correct | theta) = 1 / (1 + exp(-a (theta - b)))."""
    return 1.0 / (1.0 + np.exp(-a * (np.asarray(theta) - b)))


def information(a: float, b: float, theta: float | np.ndarray) -> float | np.ndarray:
    """Fisher information of a 2PL item at theta: a² P (1 - P), largest at theta = b."""
    p = probability(a, b, theta)
    return a * a * p * (1.0 - p)


def posterior(
    responses: Sequence[tuple[float, float, float]], prior: Prior = Prior()
) -> np.ndarray:
    """The normalised posterior of theta on GRID given (a, b, score) responses.

    A fractional score s (partial credit from free text or code) enters the likelihood as
    s·log P + (1 - s)·log(1 - P): a half-right answer counts as half a success.
    """
    log_post = prior.log_density(GRID).copy()
    for a, b, score in responses:
        s = min(max(float(score), 0.0), 1.0)
        z = a * (GRID - b)
        # log P = -log(1 + e^-z), log(1 - P) = -log(1 + e^z), both stable via logaddexp
        log_post += -s * np.logaddexp(0.0, -z) - (1.0 - s) * np.logaddexp(0.0, z)
    weights = np.exp(log_post - log_post.max())
    return weights / weights.sum()


def estimate(
    responses: Sequence[tuple[float, float, float]], prior: Prior = Prior()
) -> tuple[float, float]:
    """Expected-a-posteriori theta and its standard error (the posterior SD) on GRID."""
    weights = posterior(responses, prior)
    theta = float(weights @ GRID)
    se = float(np.sqrt(weights @ (GRID - theta) ** 2))
    return theta, se


def estimate_ability(
    topic: str, responses: Sequence[tuple[float, float, float]], prior: Prior = Prior()
) -> AbilityEstimate:
    """The AbilityEstimate of one topic from its (a, b, score) responses."""
    theta, se = estimate(responses, prior)
    return AbilityEstimate(
        topic=topic, theta=theta, se=se, n_items=len(responses), band=band(theta)
    )


@dataclass(frozen=True)
class Candidate:
    """An item the session may ask next, with the parameters it is scored by."""

    item_id: str
    topic: str
    a: float
    b: float


def choose_topic(
    topics: Sequence[str],
    estimates: Mapping[str, AbilityEstimate],
    asked: Mapping[str, int],
) -> str:
    """Topic balancing: the topic with the fewest items asked in this session, ties broken
    by the largest SE (where we know least), then by the order given."""
    order = {topic: i for i, topic in enumerate(topics)}
    return min(topics, key=lambda t: (asked.get(t, 0), -estimates[t].se, order[t]))


def choose_next(
    candidates: Sequence[Candidate],
    estimates: Mapping[str, AbilityEstimate],
    asked: Mapping[str, int],
    rng: np.random.Generator,
    top_k: int = 3,
) -> Candidate | None:
    """The next item: pick the topic by `choose_topic` among topics that still have a
    candidate, then one of the `top_k` most informative items at that topic's current theta,
    drawn with probability proportional to information (so sessions differ, and the best
    item is the likeliest). None when there is no candidate."""
    if not candidates:
        return None
    topics = list(dict.fromkeys(c.topic for c in candidates))
    topic = choose_topic(topics, estimates, asked)
    pool = [c for c in candidates if c.topic == topic]
    theta = estimates[topic].theta
    info = np.array([float(information(c.a, c.b, theta)) for c in pool])
    best = np.argsort(-info, kind="stable")[: max(1, top_k)]
    weights = info[best] / info[best].sum() if info[best].sum() > 0 else None
    return pool[int(rng.choice(best, p=weights))]


def should_stop(
    estimates: Mapping[str, AbilityEstimate],
    answered: int,
    *,
    min_items: int = 5,
    max_items: int = 15,
    se_target: float = 0.4,
) -> bool:
    """Stop after `max_items`, or once at least `min_items` are answered and every topic of
    the session has SE below `se_target`. A session over many topics rarely reaches the
    target on each within 15 items; it then stops at `max_items` and reports each topic's
    (wider) SE honestly, next to an overall estimate that pools every answer."""
    if answered >= max_items:
        return True
    return answered >= min_items and all(e.se < se_target for e in estimates.values())
