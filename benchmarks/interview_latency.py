"""How fast the interview grades: choice, free text (warm model; the bank's answers and the
labelled ones of tests/interview/free_text_eval) and code items of the bank, p50/p95 per kind
against the targets (choice < 50 ms, free text < 300 ms, code < 3 s p95). Free text is graded
twice per answer, side by side: with the grader's one intra-op thread and with two.

A code grading runs the candidate's sandbox and the trusted checks. Sandboxes are spare
children that isolated themselves and imported torch ahead (interview/sandbox.py `prewarm`);
one is started after each run, and it needs about 2 s of a free core to be ready. A session
asks the grader to prepare an item when it shows it, so the reference's outputs are computed
while the candidate writes. Each code item is graded as a candidate meets it, with `--gap`
seconds before each grading (reading the item or the last feedback, editing):
"code_shown" is the first grading after the item was shown and prepared;
"code_resubmitted" two later ones that find no reference output left, so the reference runs
on their case beside the candidate's run (two sandboxes at once); "code" is both together.
"code_back_to_back" is one more grading with no pause at all after the last (a script, not a
person: the spares may still be importing torch), reported apart."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results")
TARGETS_S = {
    "choice": 0.05,
    "free_text": 0.3,
    "free_text_2_threads": 0.3,
    "code": 3.0,
    "code_shown": 3.0,
    "code_resubmitted": 3.0,
    "code_back_to_back": 3.0,
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _labelled_answers() -> dict[str, list[str]]:
    """The person-written answers of tests/interview/free_text_eval (longer than the bank's
    own wrong answers, so closer to what a candidate types)."""
    import yaml

    folder = Path(__file__).resolve().parents[1] / "tests" / "interview" / "free_text_eval"
    found: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.yaml")):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["answers"]:
            found[entry["item"]] = [
                entry[k] for k in ("correct", "partial", "wrong", "negated", "term_list")
            ]
    return found


def main(
    code_items: int = 27,
    repeats: int = 3,
    seed: int = 0,
    gap_s: float = 3.0,
    kinds: tuple[str, ...] = ("choice", "free_text", "code"),
) -> dict[str, dict[str, float]]:
    import torch

    from interview.bank import load_bank
    from interview.choice import option_order, shown_choice
    from interview.grading import Grader

    bank = load_bank()
    labelled = _labelled_answers()
    grader = Grader()
    started = time.perf_counter()
    grader.warm_up(item for item in bank.items.values() if item.kind in kinds)
    print(f"warm-up (load the models, embed the rubrics): {time.perf_counter() - started:.2f} s")
    samples: dict[str, list[float]] = {kind: [] for kind in TARGETS_S}
    code_seen = 0
    for item in bank.items.values():
        if item.kind not in kinds:
            continue
        if item.kind == "choice":
            # as a session grades it: the position shown mapped back through the shown order
            order = option_order(seed, item.id, len(item.options))
            for _ in range(repeats):
                started = time.perf_counter()
                grader.grade(item, shown_choice(item, order.index(item.answer), order))
                samples["choice"].append(time.perf_counter() - started)
        elif item.kind == "free_text":
            for answer in [
                item.rubric.model_answer,
                *item.rubric.wrong_answers,
                *labelled.get(item.id, []),
            ]:
                # The grader's models use one intra-op thread (interview.grading.TextEncoder);
                # two, measured side by side on the same answer, is what a host with cores to
                # spare could use.
                samples["free_text"].append(grader.grade(item, answer).seconds)
                own = torch.get_num_threads()
                torch.set_num_threads(2)
                samples["free_text_2_threads"].append(grader.grade(item, answer).seconds)
                torch.set_num_threads(own)
        elif item.kind == "code" and code_seen < code_items:
            code_seen += 1
            grader.prepare(item)  # shown: the reference runs while the candidate writes
            time.sleep(gap_s)
            waited = time.monotonic()
            while not grader.references.ready(item.code) and time.monotonic() - waited < 120:
                time.sleep(0.05)
            samples["code_shown"].append(grader.grade(item, item.code.reference).seconds)
            grader.references.clear()  # the prepared cases are used up
            for solution in (item.code.starter, item.code.reference):
                time.sleep(gap_s)
                samples["code_resubmitted"].append(grader.grade(item, solution).seconds)
            samples["code_back_to_back"].append(grader.grade(item, item.code.starter).seconds)
    samples["code"] = samples["code_shown"] + samples["code_resubmitted"]
    report: dict[str, dict[str, float]] = {}
    print(f"{'kind':<20} {'n':>4} {'p50 s':>8} {'p95 s':>8} {'target p95':>11}")
    for kind, values in samples.items():
        if not values:
            continue
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        met = "met" if p95 < TARGETS_S[kind] else "MISSED"
        print(f"{kind:<20} {len(values):4d} {p50:8.3f} {p95:8.3f} {TARGETS_S[kind]:9.2f} s {met}")
        report[kind] = {"n": len(values), "p50_s": p50, "p95_s": p95, "target_s": TARGETS_S[kind]}
    if set(kinds) == {"choice", "free_text", "code"}:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "interview_latency.json").write_text(json.dumps(report, indent=2) + "\n")
    else:
        print("(some kinds only: benchmarks/results/interview_latency.json left as it was)")
    return report


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--code-items", type=int, default=27, help="code items to grade")
    parser.add_argument("--repeats", type=int, default=3, help="gradings per choice item")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--gap", type=float, default=3.0, help="seconds a candidate takes before each grading"
    )
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=["choice", "free_text", "code"],
        default=["choice", "free_text", "code"],
        help="the kinds of item to grade (all by default)",
    )
    args = parser.parse_args()
    main(args.code_items, args.repeats, args.seed, args.gap, tuple(args.kinds))
