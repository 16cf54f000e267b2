"""Ability estimation by item response theory: 2PL for choice items, the generalised partial
credit model (GPCM) for free text and code, a hierarchical prior that shares strength across
topics (each topic's ability ~ N(overall, τ²), the overall ~ N(0, 1)), estimated jointly on a
grid; Fisher information, adaptive item choice with topic balancing, and the stop rule. Pure
functions of their inputs (numpy only)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

GRID = np.linspace(-4.0, 4.0, 81)
OVERALL = "_overall"  # the overall ability's key (not a topic id: ids start [a-z0-9])
# A person's earlier evidence on a topic is widened by this much before a new session uses it:
# people learn (or forget) between sessions, so old evidence should not pin the estimate.
DRIFT = 0.5
# τ: how far one person's topics spread around their overall ability. 0.6 makes two topics of
# one person correlate 1 / (1 + 0.36) = 0.74: related skills, yet a weak topic stays visible.
TOPIC_SD = 0.6
# Ordered score categories of a free-text or code answer: a score in [0, 1] becomes the nearest
# of 0, 1/3, 2/3, 1 (three GPCM steps); a choice is right or wrong (one step, the 2PL).
STEPS: dict[str, int] = {"choice": 1, "free_text": 3, "code": 3}
# The steps' thresholds sit at b - 0.8, b, b + 0.8: the middle one at the item's difficulty,
# so half credit is the expected score of a person at theta = b, as for the 2PL.
STEP_SPREAD = 0.8
# Bands are one theta unit wide: with SE at or above 0.5, ±1 SE spans more than a band, so a
# band in words would be a guess; the estimate says so instead.
USEFUL_SE = 0.5
ONE_SIDED_90 = 1.2816  # the standard normal's 90th percentile
NOT_ENOUGH = "not enough evidence yet"
# (upper bound of theta, words); theta is on the N(0, 1) scale of the bank's item priors,
# where b = -1 is an easy item, 0 medium and 1.2 hard.
BANDS: tuple[tuple[float, str], ...] = (
    (-1.0, "not yet"),
    (0.0, "developing"),
    (1.0, "solid"),
    (2.0, "strong"),
    (math.inf, "expert"),
)

# One answer: (a, b, score) for a 2PL item, (a, b, score, steps) for any item.
Response = tuple[float, float, float] | tuple[float, float, float, int]


@dataclass(frozen=True)
class Prior:
    """A normal distribution on theta: N(0, 1) is the prior for someone we know nothing
    about; the same shape carries a topic's evidence from earlier sessions."""

    mean: float = 0.0
    sd: float = 1.0

    def log_density(self, grid: np.ndarray = GRID) -> np.ndarray:
        return -0.5 * ((grid - self.mean) / self.sd) ** 2

    def divided_by(self, population_sd: float) -> Prior | None:
        """The evidence this posterior holds beyond a N(0, population_sd²) prior (Gaussian
        division); None when it holds none."""
        precision = self.sd**-2 - population_sd**-2
        if precision <= 1e-6:
            return None
        return Prior(mean=self.mean * self.sd**-2 / precision, sd=precision**-0.5)


@dataclass(frozen=True)
class AbilityEstimate:
    """A topic's ability: theta (EAP) with its standard error (posterior SD) and a band.

    Bands, by theta on the bank's scale (an easy item has b = -1, a hard one b = 1.2):
    - "not yet" (theta < -1): easy failure modes are not yet recognised;
    - "developing" (-1 to 0): easy items mostly right, medium ones hit and miss;
    - "solid" (0 to 1): medium items mostly right, the mechanism is understood;
    - "strong" (1 to 2): hard items are more often right than wrong;
    - "expert" (>= 2): hard items reliably right, including diagnosis and fix.
    With SE at or above USEFUL_SE the band is "not enough evidence yet" (the SE is always
    reported with it), unless 90 % of the estimate lies beyond the top band's threshold (or
    below the lowest's): those open-ended bands need no narrow interval.
    """

    topic: str
    theta: float
    se: float
    n_items: int
    band: str

    @property
    def precise(self) -> bool:
        """Whether the evidence is enough for a band in words to mean something."""
        return self.band != NOT_ENOUGH

    def describe(self) -> str:
        return f"{self.band} (θ = {self.theta:+.2f} ± {self.se:.2f}, {self.n_items} items)"


def band(theta: float, se: float | None = None) -> str:
    """The band in words for theta (see AbilityEstimate); NOT_ENOUGH when `se` is given and
    not below USEFUL_SE."""
    if se is not None and se >= USEFUL_SE:
        # The two open-ended bands can be known before the SE is small: someone who gets the
        # hardest items right has a wide posterior that lies above the top band's threshold
        # (the bank has nothing harder to narrow it). One-sided 90 % is enough to say so.
        if theta - ONE_SIDED_90 * se >= BANDS[-2][0]:
            return BANDS[-1][1]
        if theta + ONE_SIDED_90 * se < BANDS[0][0]:
            return BANDS[0][1]
        return NOT_ENOUGH
    for upper, words in BANDS:
        if theta < upper:
            return words
    return BANDS[-1][1]


def _ability(topic: str, weights: np.ndarray, n_items: int) -> AbilityEstimate:
    theta = float(weights @ GRID)
    se = float(np.sqrt(max(weights @ (GRID - theta) ** 2, 0.0)))
    return AbilityEstimate(topic=topic, theta=theta, se=se, n_items=n_items, band=band(theta, se))


# -- item models -------------------------------------------------------------------------------


def thresholds(b: float, steps: int = 1) -> np.ndarray:
    """The GPCM step thresholds of an item of difficulty b: b itself for one step (2PL),
    otherwise spread evenly over b ± STEP_SPREAD."""
    if steps <= 1:
        return np.array([float(b)])
    return float(b) + np.linspace(-STEP_SPREAD, STEP_SPREAD, steps)


def probability(a: float, b: float, theta: float | np.ndarray) -> float | np.ndarray:
    """2PL: P(correct | theta) = 1 / (1 + exp(-a (theta - b)))."""
    return 1.0 / (1.0 + np.exp(-a * (np.asarray(theta) - b)))


def _log_categories(a: float, b: float, steps: int, theta: np.ndarray) -> np.ndarray:
    """log P(category k | theta), shape (steps + 1, len(theta)): GPCM, where category k has
    the log-weight sum_{j <= k} a (theta - b_j)."""
    steps_z = a * (theta[None, :] - thresholds(b, steps)[:, None])
    z = np.vstack([np.zeros((1, theta.size)), np.cumsum(steps_z, axis=0)])
    return z - np.logaddexp.reduce(z, axis=0)


def category_probabilities(
    a: float, b: float, theta: float | np.ndarray, steps: int = 1
) -> np.ndarray:
    """P(category k | theta) for k = 0..steps (rows), GPCM; steps = 1 is the 2PL."""
    grid = np.atleast_1d(np.asarray(theta, dtype=float))
    return np.exp(_log_categories(a, b, max(1, int(steps)), grid))


def category(score: float, steps: int) -> int:
    """The ordered category of a score in [0, 1]: the nearest of 0, 1/steps, ..., 1."""
    return int(round(min(max(float(score), 0.0), 1.0) * steps))


def information(
    a: float, b: float, theta: float | np.ndarray, steps: int = 1
) -> float | np.ndarray:
    """Fisher information at theta: a² times the variance of the category (GPCM); for one
    step that is the 2PL's a² P (1 - P), largest at theta = b."""
    if steps <= 1:
        p = probability(a, b, theta)
        return a * a * p * (1.0 - p)
    probs = category_probabilities(a, b, theta, steps)
    k = np.arange(steps + 1)[:, None]
    mean = (k * probs).sum(axis=0)
    variance = ((k - mean) ** 2 * probs).sum(axis=0)
    found = a * a * variance
    return float(found[0]) if np.ndim(theta) == 0 else found


def log_likelihood(response: Response, grid: np.ndarray = GRID) -> np.ndarray:
    """log P(answer | theta) on the grid. One step (2PL): a fractional score s counts as
    s·log P + (1 - s)·log(1 - P); more steps: the GPCM log-probability of the score's
    category."""
    a, b, score = float(response[0]), float(response[1]), float(response[2])
    steps = int(response[3]) if len(response) > 3 else 1
    if steps <= 1:
        s = min(max(score, 0.0), 1.0)
        z = a * (grid - b)
        # log P = -log(1 + e^-z), log(1 - P) = -log(1 + e^z), both stable via logaddexp
        return -s * np.logaddexp(0.0, -z) - (1.0 - s) * np.logaddexp(0.0, z)
    return _log_categories(a, b, steps, grid)[category(score, steps)]


def _total_log_likelihood(responses: Sequence[Response]) -> np.ndarray:
    total = np.zeros_like(GRID)
    for response in responses:
        total += log_likelihood(response)
    return total


# -- one topic on its own ------------------------------------------------------------------------


def posterior(responses: Sequence[Response], prior: Prior = Prior()) -> np.ndarray:
    """The normalised posterior of theta on GRID given responses (see log_likelihood)."""
    log_post = prior.log_density(GRID) + _total_log_likelihood(responses)
    weights = np.exp(log_post - log_post.max())
    return weights / weights.sum()


def estimate(responses: Sequence[Response], prior: Prior = Prior()) -> tuple[float, float]:
    """Expected-a-posteriori theta and its standard error (the posterior SD) on GRID."""
    found = _ability("", posterior(responses, prior), len(responses))
    return found.theta, found.se


def estimate_ability(
    topic: str, responses: Sequence[Response], prior: Prior = Prior()
) -> AbilityEstimate:
    """The AbilityEstimate of one topic from its responses alone."""
    return _ability(topic, posterior(responses, prior), len(responses))


# -- topics together ---------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _kernel(tau: float) -> np.ndarray:
    """K[i, j] = P(topic theta = GRID[j] | overall = GRID[i]): N(overall, τ²) on the grid,
    each row normalised (the grid truncates the tails)."""
    k = np.exp(-0.5 * ((GRID[None, :] - GRID[:, None]) / tau) ** 2)
    k /= k.sum(axis=1, keepdims=True)
    k.flags.writeable = False
    return k


@dataclass(frozen=True)
class Evidence:
    """Earlier sessions' answers on one topic. People change between sessions: the ability
    now is the ability then plus N(0, drift²), and the hierarchical prior holds for the
    ability then. So the earlier answers keep their exact likelihood (all-right answers
    still say "at least this good", not a bell), and a topic known from before is tied to
    the overall ability by N(0, τ² + drift²): it shrinks less than a new one."""

    responses: tuple[Response, ...]
    drift: float = DRIFT


def joint_estimates(
    responses: Mapping[str, Sequence[Response]],
    evidence: Mapping[str, Prior | Evidence] | None = None,
    *,
    topics: Sequence[str] = (),
    tau: float = TOPIC_SD,
    overall_prior: Prior = Prior(),
) -> tuple[dict[str, AbilityEstimate], AbilityEstimate]:
    """Every topic's ability and the overall ability under the hierarchical prior
    theta_t ~ N(overall, τ²), overall ~ `overall_prior`, given each topic's responses and
    `evidence` from earlier sessions (Evidence; or a Prior: a Gaussian likelihood factor).

    Exact on the grid: the overall's posterior is its prior times, per topic, the topic's
    likelihood integrated over N(overall, τ²); each topic's posterior mixes its conditional
    posteriors over the overall's. A topic with few answers borrows from the others through
    the overall. Returns ({topic: estimate}, overall estimate) for `topics` plus every topic
    with responses or evidence."""
    evidence = evidence or {}
    names = list(dict.fromkeys([*topics, *responses, *evidence]))
    kernel = _kernel(float(tau))
    # per topic: the new answers' likelihood, and what sits at "the ability then" (the
    # earlier answers' likelihood, and the drift from then to now; none: then is now)
    new: dict[str, np.ndarray] = {}
    old: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    log_overall = overall_prior.log_density(GRID).copy()
    for name in names:
        new[name] = _scaled(_total_log_likelihood(responses.get(name, ())))
        earlier = evidence.get(name)
        if isinstance(earlier, Evidence):
            drift = _kernel(float(earlier.drift)) if earlier.drift > 0 else None
            old[name] = (_scaled(_total_log_likelihood(earlier.responses)), drift)
        elif earlier is not None:
            old[name] = (_scaled(earlier.log_density(GRID)), None)
        log_overall += np.log(kernel @ _at_then(new[name], old.get(name)) + 1e-300)
    overall = np.exp(log_overall - log_overall.max())
    overall /= overall.sum()
    found: dict[str, AbilityEstimate] = {}
    for name in names:
        then = old.get(name)
        marginal = kernel @ _at_then(new[name], then) + 1e-300
        at_then = kernel.T @ (overall / marginal)  # the prior's message to the ability then
        if then is not None:
            at_then = then[0] * at_then
            if then[1] is not None:
                at_then = then[1].T @ at_then  # carried forward to now
        weights = new[name] * at_then
        found[name] = _ability(name, weights / weights.sum(), len(responses.get(name, ())))
    total = sum(len(v) for v in responses.values())
    return found, _ability(OVERALL, overall, total)


def _scaled(log_l: np.ndarray) -> np.ndarray:
    """A likelihood from its log, scaled to a maximum of 1 (a constant factor cancels)."""
    return np.exp(log_l - log_l.max())


def _at_then(
    likelihood: np.ndarray, then: tuple[np.ndarray, np.ndarray | None] | None
) -> np.ndarray:
    """The topic's likelihood as a function of its ability then: the new answers' carried
    back through the drift, times the earlier answers'."""
    if then is None:
        return likelihood
    earlier, drift = then
    return earlier * (likelihood if drift is None else drift @ likelihood)


def topic_evidence(responses: Sequence[Response], drift: float = DRIFT) -> Evidence | None:
    """Earlier answers on one topic as Evidence; None without answers."""
    return Evidence(tuple(responses), drift) if responses else None


# -- choosing items and stopping ---------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """An item the session may ask next, with the parameters it is scored by (`steps`: 1
    for a right-or-wrong item, more for ordered partial credit)."""

    item_id: str
    topic: str
    a: float
    b: float
    steps: int = 1


def choose_topic(
    topics: Sequence[str],
    estimates: Mapping[str, AbilityEstimate],
    asked: Mapping[str, int],
    se_target: float = 0.0,
) -> str:
    """Topic balancing: among topics whose SE is not yet below `se_target` (all of them when
    none is left), the one with the fewest items asked in this session, ties broken by the
    largest SE (where we know least), then by the order given."""
    order = {topic: i for i, topic in enumerate(topics)}
    open_ = [t for t in topics if estimates[t].se >= se_target] or list(topics)
    return min(open_, key=lambda t: (asked.get(t, 0), -estimates[t].se, order[t]))


def choose_next(
    candidates: Sequence[Candidate],
    estimates: Mapping[str, AbilityEstimate],
    asked: Mapping[str, int],
    rng: np.random.Generator,
    top_k: int = 3,
    se_target: float = 0.0,
) -> Candidate | None:
    """The next item: pick the topic by `choose_topic` among topics that still have a
    candidate, then one of the `top_k` most informative items at that topic's current theta,
    drawn with probability proportional to information (so sessions differ, and the best
    item is the likeliest). None when there is no candidate."""
    if not candidates:
        return None
    topics = list(dict.fromkeys(c.topic for c in candidates))
    topic = choose_topic(topics, estimates, asked, se_target)
    pool = [c for c in candidates if c.topic == topic]
    theta = estimates[topic].theta
    info = np.array([float(information(c.a, c.b, theta, c.steps)) for c in pool])
    best = np.argsort(-info, kind="stable")[: max(1, top_k)]
    weights = info[best] / info[best].sum() if info[best].sum() > 0 else None
    return pool[int(rng.choice(best, p=weights))]


def should_stop(
    estimates: Mapping[str, AbilityEstimate],
    answered: int,
    *,
    min_items: int = 5,
    max_items: int = 20,
    se_target: float = 0.45,
) -> bool:
    """Stop after `max_items`, or once at least `min_items` are answered and every topic of
    the session has SE below `se_target`. A focused session (one to three topics) can reach
    the target; one over every topic rarely does within 20 items, stops at `max_items` and
    reports each topic's (wider) SE honestly, next to the overall estimate."""
    if answered >= max_items:
        return True
    return answered >= min_items and all(e.se < se_target for e in estimates.values())
