#!/usr/bin/env python3
"""Each mode against target-only in an eval's records, paired twice: per problem (exact McNemar,
as the eval's table does) and per template (an exact sign-flip permutation test on each
template's net gain). Variants of one template share their wording and arithmetic, so their
outcomes are correlated; the per-problem test counts them as independent and can overstate the
evidence when a mode's gains sit in a few templates. The per-template test does not.

Usage: scripts/template_paired_test.py docs/runs/qwen-coder-dev/records.jsonl [--baseline target-only]
Prints a Markdown table over the problems that have a record for every mode.
"""
import argparse, collections, itertools, json, math, random

EXACT_UP_TO = 22
MONTE_CARLO_DRAWS = 100_000


def mcnemar_exact(gains, losses):
    n = gains + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(gains, losses) + 1)) / 2**n
    return min(1.0, 2 * tail)


def sign_flip_p(nets):
    """P(|sum of randomly signed nets| >= |observed sum|), exact over every sign pattern."""
    nonzero = [v for v in nets if v != 0]
    observed = abs(sum(nonzero))
    if not nonzero:
        return 1.0
    if len(nonzero) <= EXACT_UP_TO:
        hits = sum(1 for signs in itertools.product((1, -1), repeat=len(nonzero)) if abs(sum(s * v for s, v in zip(signs, nonzero))) >= observed)
        return hits / 2 ** len(nonzero)
    # Past that, 2^n patterns are too many: a seeded Monte Carlo estimate.
    rng = random.Random(0)
    hits = sum(1 for _ in range(MONTE_CARLO_DRAWS) if abs(sum(v if rng.random() < 0.5 else -v for v in nonzero)) >= observed)
    return hits / MONTE_CARLO_DRAWS


def template_of(problem):
    # Problem keys are t<template>v<variant>.
    return problem.split("v")[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("records")
    ap.add_argument("--baseline", default="target-only")
    a = ap.parse_args()
    outcome = collections.defaultdict(dict)
    with open(a.records) as f:
        for line in f:
            r = json.loads(line)
            outcome[r["problem"]][r["mode"]] = bool(r["correct"])
    modes = sorted({m for d in outcome.values() for m in d})
    if a.baseline not in modes:
        raise SystemExit(f"no {a.baseline} records in {a.records}")
    complete = [p for p, d in outcome.items() if all(m in d for m in modes)]
    templates = sorted({template_of(p) for p in complete})
    print(f"{len(complete)} problems with every mode, {len(templates)} templates\n")
    print("| mode | accuracy | wrong->right | right->wrong | McNemar p (problems) | templates up / down / even | sign-flip p (templates) |")
    print("|---|---|---|---|---|---|---|")
    for m in modes:
        if m == a.baseline:
            continue
        net = collections.Counter()
        gains = losses = 0
        for p in complete:
            mine, base = outcome[p][m], outcome[p][a.baseline]
            gains += mine and not base
            losses += base and not mine
            net[template_of(p)] += int(mine) - int(base)
        nets = [net[t] for t in templates]
        up, down = sum(v > 0 for v in nets), sum(v < 0 for v in nets)
        right = sum(outcome[p][m] for p in complete)
        print(f"| {m} | {right}/{len(complete)} | {gains} | {losses} | {mcnemar_exact(gains, losses):.3f} | {up} / {down} / {len(templates) - up - down} | {sign_flip_p(nets):.3f} |")


if __name__ == "__main__":
    main()
