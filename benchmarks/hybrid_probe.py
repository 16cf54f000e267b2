"""Does the network's entity embedding help LightGBM where categoricals have many levels?

On each set, at equal folds and seed, one fold loop fits: LightGBM alone (its own categorical
handling), the network, LightGBM on the network's embeddings in place of the categoricals
(the hybrid's `lgbm_emb` member) and LightGBM given the embeddings beside the categoricals.
It reports each one's out-of-fold score, per-fold wins over LightGBM alone, seconds, and the
hill-climbed blends: the hybrid as it ships (network + lgbm_emb) and LightGBM + network.
`python -m benchmarks.hybrid_probe --help`; results go to results/hybrid_probe.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from benchmarks import _harness as h

# Sets with categoricals of 50+ levels: job titles (3954), artists (637), hotel agents and
# companies (121, 155), US states (50).
PROBE_SETS = ("loans_rate", "tate_year", "hotel_rates", "lending_club")
VARIANTS = ("lgbm", "nn", "lgbm_emb", "lgbm_emb_keep")


def _fold_loop(data: Any, metric: Any, folds: Any, *, seed: int, net: dict, cores: int) -> dict:
    """Every variant's OOF predictions, per-fold scores and seconds on the same folds."""
    import numpy as np

    from pipelines.deadline import Deadline
    from pipelines.models import FoldData
    from pipelines.models.base import raw_predictions
    from pipelines.models.lgbm import fit_booster, lgbm_settings
    from pipelines.models.nn import fit_network
    from pipelines.nn import CategoryEmbeddingTransformer
    from pipelines.result import as_metric_input
    from pipelines.targets import from_fit_space, to_fit_space

    n_classes = len(data.classes) if data.classes is not None else 0
    width = (n_classes,) if data.task == "multiclass" else ()
    oof = {name: np.zeros((len(data.y), *width)) for name in VARIANTS}
    scores: dict[str, list[float]] = {name: [] for name in VARIANTS}
    seconds = dict.fromkeys(VARIANTS, 0.0)
    for fold in range(int(folds.max()) + 1):
        fit, valid = folds != fold, folds == fold
        part = FoldData(
            X_fit=data.X[fit],
            y_fit=to_fit_space(data.y[fit], metric),
            X_valid=data.X[valid],
            y_valid=to_fit_space(data.y[valid], metric),
            task=data.task,
            n_classes=n_classes,
            metric=metric,
        )
        settings, patience = lgbm_settings(
            {"n_jobs": cores}, seed=seed, task=data.task, n_classes=n_classes, metric=metric
        )

        def booster(
            X_fit: Any,
            X_valid: Any,
            part: FoldData = part,
            settings: dict = settings,
            patience: int = patience,
        ) -> tuple[Any, float]:
            model, member = fit_booster(
                dict(settings), patience, data.task, X_fit, part.y_fit, X_valid, part.y_valid,
                Deadline.never(),
            )  # fmt: skip
            return model, member.seconds

        started = time.perf_counter()
        network, _ = fit_network(part, net, seed=seed, device="cpu", deadline=Deadline.never())
        seconds["nn"] += time.perf_counter() - started
        models = {"nn": (network, None)}
        model, took = booster(part.X_fit, part.X_valid)
        models["lgbm"], seconds["lgbm"] = (model, None), seconds["lgbm"] + took
        for name, keep in (("lgbm_emb", False), ("lgbm_emb_keep", True)):
            started = time.perf_counter()
            embed = CategoryEmbeddingTransformer(network, keep_original=keep).fit()
            model, _ = booster(embed.transform(part.X_fit), embed.transform(part.X_valid))
            models[name] = (model, embed)
            seconds[name] += time.perf_counter() - started
        for name, (model, embed) in models.items():
            X = part.X_valid if embed is None else embed.transform(part.X_valid)
            raw = from_fit_space(raw_predictions(model, X, data.task, n_classes), metric)
            oof[name][valid] = raw
            scores[name].append(
                metric.score(data.y[valid], as_metric_input(raw, data.task, metric))
            )
    return {"oof": oof, "scores": scores, "seconds": seconds}


def probe(name: str, *, seed: int, n_folds: int, max_rows: int | None, net: dict, cores: int):
    """One set: each variant's OOF score, per-fold wins over LightGBM alone, and seconds."""
    from pipelines.blend import hill_climb
    from pipelines.features import prepare_frames
    from pipelines.folds import make_folds
    from pipelines.metrics import get_metric
    from pipelines.result import as_metric_input

    spec = h.DATASETS[name]
    frame = h.load_frame(spec, max_rows=max_rows, seed=seed)
    # The quality benchmark's outer train part: only its out-of-fold rows are scored here.
    train, test = h.outer_split(frame, spec, seed)
    started = time.perf_counter()
    data = prepare_frames(
        train, test.drop(columns=spec.target), target=spec.target, id_column=None, task=spec.task
    )
    prepare_seconds = time.perf_counter() - started
    metric = get_metric(spec.metric)
    folds = make_folds(data.y, task=data.task, n_splits=n_folds, seed=seed)
    found = _fold_loop(data, metric, folds, seed=seed, net=net, cores=cores)

    def score(raw: Any) -> float:
        return metric.score(data.y, as_metric_input(raw, data.task, metric))

    variants = {}
    base = found["scores"]["lgbm"]
    for variant in VARIANTS:
        folds_won = sum(
            metric.is_better(a, b) for a, b in zip(found["scores"][variant], base, strict=True)
        )
        variants[variant] = {
            "oof_score": score(found["oof"][variant]),
            "fold_scores": found["scores"][variant],
            "folds_beating_lgbm": f"{folds_won}/{n_folds}",
            "seconds": round(found["seconds"][variant], 2),
        }
    blends = {}
    for blend_name, members in (
        ("hybrid (nn + lgbm_emb)", ("nn", "lgbm_emb")),
        ("lgbm + nn", ("lgbm", "nn")),
        ("lgbm + lgbm_emb_keep", ("lgbm", "lgbm_emb_keep")),
    ):
        result = hill_climb(
            {m: found["oof"][m] for m in members}, data.y, metric, seed=seed, task=data.task
        )
        blends[blend_name] = {
            "oof_score": result.score,
            "weights": result.weights,
            "seconds": round(sum(found["seconds"][m] for m in members), 2),
        }
    categorical = {c: int(data.X[c].nunique()) for c in data.categorical}
    return {
        "dataset": name,
        "metric": metric.name,
        "rows": len(data.y),
        "folds": n_folds,
        "seed": seed,
        "categorical_levels": categorical,
        "prepare_seconds": round(prepare_seconds, 2),
        "variants": variants,
        "blends": blends,
    }


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| dataset | metric | rows | largest categorical | method | OOF score | folds beating "
        "lgbm | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        levels = result["categorical_levels"]
        top = max(levels.items(), key=lambda kv: kv[1]) if levels else ("—", 0)
        head = (
            f"| {result['dataset']} | {result['metric']} | {result['rows']} | {top[0]} ({top[1]})"
        )
        for variant, row in result["variants"].items():
            lines.append(
                f"{head} | {variant} | {row['oof_score']:.4f} | {row['folds_beating_lgbm']} | "
                f"{row['seconds']:.1f} |"
            )
        for blend, row in result["blends"].items():
            weights = ", ".join(f"{k} {v:.2f}" for k, v in row["weights"].items())
            lines.append(
                f"{head} | {blend} [{weights}] | {row['oof_score']:.4f} | — | "
                f"{row['seconds']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hybrid_probe", description=__doc__)
    parser.add_argument("--datasets", nargs="+", default=list(PROBE_SETS), choices=list(h.DATASETS))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-rows", type=int, default=None, help="subsample each set")
    parser.add_argument("--max-epochs", type=int, default=None, help="cap the network's epochs")
    parser.add_argument("--cores", type=int, default=h.CORES)
    parser.add_argument("--results", type=Path, default=h.RESULTS)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.cores)  # the same two cores as every benchmark cell
    net = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
    results = []
    for name in args.datasets:
        result = probe(
            name, seed=args.seed, n_folds=args.folds, max_rows=args.max_rows, net=net,
            cores=args.cores,
        )  # fmt: skip
        result["max_epochs"] = args.max_epochs
        results.append(result)
        print(markdown([result]), flush=True)
    args.results.mkdir(parents=True, exist_ok=True)
    report = {"machine": h.machine(), "cores": args.cores, "results": results}
    (args.results / "hybrid_probe.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.results / "hybrid_probe.md").write_text(
        "# Entity embeddings for LightGBM (hybrid probe)\n\n" + markdown(results)
    )
    return results


if __name__ == "__main__":
    main()
