"""Benchmark of fair panel selection (issue 10): not a test, run by hand.

A synthetic pool of 2,000 registrants with 6 features (30 categories in total) whose
registrations are skewed against the population (the young, the less educated and people
with a migration background register less often, as in real Bürgerrat recruitment). Quotas
are the population shares of k = 160 with some slack. Prints the time of MAXIMIN and LEXIMIN
and the smallest selection probability of each against the greedy legacy method, whose
probabilities are estimated by repeated runs. Wall time suffers when other work shares the
2 cores; the CPU time is the figure to compare.

    .venv/bin/python bench/selection_bench.py [--runs 1000] [--seed 7]

    .venv/bin/python bench/selection_bench.py --master both  # highspy vs the SciPy path
    .venv/bin/python bench/selection_bench.py --no-decompose  # column generation only
    .venv/bin/python bench/selection_bench.py --households    # 30 % share an address

For LEXIMIN the bench also prints the smallest ratio of a probability to the relaxation's
leximin probability (an upper bound in leximin order): at 1 - tolerance or above, the
profile is LEXIMIN up to the tolerance.

Measured 2026-11-25 15:32-15:39 UTC on the 2-core machine (load average 2.1-3.8), 1,254
types, `--leximin-limit 120`; "after" is the median of 3 runs (CPU range within 0.1 s):
    legacy (1000 runs)       5.1 s wall    4.9 s cpu  min 0.0000 (43 never drawn)  gini 0.469
    tolerance 1e-2   before (column generation only)      after (decomposition first)
    maximin          17.1 s wall  17.0 s cpu  min 0.0456   4.3 s wall  3.4 s cpu  min 0.0456
    leximin         120.6 s wall 116.7 s cpu, incomplete   3.6 s wall  3.5 s cpu, complete
                    (2 levels, 0.669 of relaxed profile)   (0.990 of the relaxed profile)
    tolerance 1e-3
    maximin          49.9 s wall  46.4 s cpu  min 0.0460   4.2 s wall  4.2 s cpu  min 0.0460
    leximin         150.7 s wall 140.3 s cpu, incomplete   3.8 s wall  3.8 s cpu, complete
                    (1 level, 0.548 of relaxed profile)    (0.999 of the relaxed profile)
Gini after: leximin 0.334 (before 0.357-0.365, incomplete), maximin 0.410 (before 0.380:
MAXIMIN only fixes the minimum, and the relaxation's vertex it decomposes is less even).
With --households at 1e-3: maximin 2.7 s cpu, leximin 4.7 s cpu, complete, 0.999.
More figures (tolerance 1e-3, before/after, profile) in bench/REPORT.md, "Fair selection".
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import time

import numpy as np

from activities.selection.fair import leximin, maximin
from activities.selection.feasibility import require_feasible
from activities.selection.instance import FloatArray, Instance, build_instance
from activities.selection.legacy import estimate_probabilities
from activities.selection.model import CategoryQuota, Person, Quotas
from activities.selection.relaxed import relaxed_leximin
from activities.selection.stats import gini

# feature -> category -> (population share, relative propensity to register)
FEATURES: dict[str, dict[str, tuple[float, float]]] = {
    "gender": {"female": (0.50, 1.0), "male": (0.49, 1.1), "diverse": (0.01, 1.0)},
    "age": {
        "16-24": (0.12, 0.5),
        "25-34": (0.16, 0.8),
        "35-44": (0.16, 1.0),
        "45-54": (0.17, 1.1),
        "55-64": (0.18, 1.4),
        "65+": (0.21, 1.2),
    },
    "district": {
        f"d{i}": (s, b)
        for i, (s, b) in enumerate(
            [
                (0.18, 1.3),
                (0.15, 1.2),
                (0.14, 1.0),
                (0.13, 1.0),
                (0.12, 0.9),
                (0.10, 0.8),
                (0.10, 0.7),
                (0.08, 0.6),
            ],
            start=1,
        )
    },
    "education": {
        "low": (0.30, 0.4),
        "middle": (0.35, 0.9),
        "high": (0.25, 1.8),
        "other": (0.10, 0.8),
    },
    "milieu": {
        "established": (0.15, 1.6),
        "performer": (0.12, 1.2),
        "middle": (0.20, 1.0),
        "traditional": (0.18, 0.9),
        "precarious": (0.15, 0.4),
        "hedonist": (0.20, 0.6),
    },
    "migration": {"none": (0.72, 1.1), "first": (0.14, 0.5), "second": (0.14, 0.7)},
}
K = 160
POOL = 2000


def make_pool(seed: int) -> list[Person]:
    rng = random.Random(seed)
    people: list[Person] = []
    while len(people) < POOL:
        features = {
            f: rng.choices(list(cats), weights=[s for s, _ in cats.values()])[0]
            for f, cats in FEATURES.items()
        }
        propensity = math.prod(FEATURES[f][c][1] for f, c in features.items())
        if rng.random() < propensity / 6.0:
            people.append(Person(id=f"r{len(people):05d}", features=features))
    return people


def with_households(people: list[Person], seed: int, share: float = 0.3) -> list[Person]:
    """The same pool where about `share` of the people live with one other registrant."""
    rng = random.Random(seed + 1)
    homes = [f"a{i:05d}" for i in range(len(people))]
    order = list(range(len(people)))
    rng.shuffle(order)
    pairs = int(len(people) * share / 2)
    for j in range(pairs):
        homes[order[2 * j + 1]] = homes[order[2 * j]]
    return [p.model_copy(update={"household": h}) for p, h in zip(people, homes, strict=True)]


def make_quotas() -> Quotas:
    features: dict[str, dict[str, CategoryQuota]] = {}
    for f, cats in FEATURES.items():
        features[f] = {
            c: CategoryQuota(
                min=math.floor(share * K * 0.9),
                max=max(math.ceil(share * K * 1.1), 1),
                target=share,
            )
            for c, (share, _) in cats.items()
        }
    return Quotas(features=features)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) / {five:.1f} (5 min) on {os.cpu_count()} cores"


def _share_of_relaxed(inst: Instance, type_probs: FloatArray) -> float:
    """Smallest probability / relaxed leximin probability over the types: at 1 - tolerance
    and above, the profile is LEXIMIN up to the tolerance (the relaxation bounds it)."""
    never = np.zeros(inst.n_types, dtype=bool)
    target, _ = relaxed_leximin(inst, never)
    wanted = target > 0
    return float((type_probs[wanted] / target[wanted]).min())


def _versus(inst: Instance, type_probs: FloatArray, method: str) -> str:
    if not method.startswith("leximin"):
        return ""
    return f"vs relaxed leximin {_share_of_relaxed(inst, type_probs):.5f}  "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="legacy runs for the estimate")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-leximin", action="store_true")
    parser.add_argument(
        "--exact-leximin", action="store_true", help="also the level-by-level method"
    )
    parser.add_argument("--tolerance", type=float, default=1e-3, help="relative optimality gap")
    parser.add_argument("--leximin-limit", type=float, default=600.0, help="seconds")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions of each method")
    parser.add_argument(
        "--master",
        default="highs",
        choices=["highs", "scipy", "both"],
        help="master LP: highs (warm), scipy (cold), or both (compared in the same run)",
    )
    parser.add_argument(
        "--no-decompose",
        action="store_true",
        help="column generation only, without decomposing the relaxed optimum (the old path)",
    )
    parser.add_argument(
        "--households",
        action="store_true",
        help="30 %% of the pool share an address in pairs; at most one per address",
    )
    parser.add_argument("--skip-legacy", action="store_true")
    args = parser.parse_args()
    pool = make_pool(args.seed)
    if args.households:
        pool = with_households(pool, args.seed)
    inst = build_instance(pool, make_quotas(), K, households=args.households)
    print(f"pool {inst.n}, categories {len(inst.labels)}, types {inst.n_types}, k {K}")
    print(f"start: {_load()}")
    start = time.perf_counter()
    require_feasible(inst)
    print(f"feasibility check: {time.perf_counter() - start:.1f} s")

    if not args.skip_legacy:
        start, cpu = time.perf_counter(), time.process_time()
        legacy = estimate_probabilities(inst, args.runs, seed=args.seed)
        print(
            f"legacy   {time.perf_counter() - start:6.1f} s wall "
            f"{time.process_time() - cpu:6.1f} s cpu ({args.runs} runs)  "
            f"min {legacy.min():.4f}  max {legacy.max():.4f}  gini {gini(legacy):.3f}  "
            f"never drawn {int((legacy == 0).sum())}"
        )
    masters = ["highs", "scipy"] if args.master == "both" else [args.master]
    methods = ["maximin"]
    if not args.skip_leximin:
        methods.append("leximin")
    if args.exact_leximin:
        methods.append("leximin-exact")
    for name in methods:
        walls: dict[str, list[float]] = {m: [] for m in masters}
        cpus: dict[str, list[float]] = {m: [] for m in masters}
        for _ in range(args.repeat):
            for master in masters:  # interleaved: both see the same load
                cpu = time.process_time()
                if name == "maximin":
                    dist = maximin(
                        inst,
                        tolerance=args.tolerance,
                        master=master,
                        decompose=not args.no_decompose,
                    )
                else:
                    dist = leximin(
                        inst,
                        tolerance=args.tolerance,
                        time_limit=args.leximin_limit,
                        exact=name == "leximin-exact",
                        master=master,
                        decompose=not args.no_decompose,
                    )
                walls[master].append(dist.seconds)
                cpus[master].append(time.process_time() - cpu)
                probs = inst.person_probabilities(dist.type_probs)
                print(
                    f"{name:8} [{master}] {dist.seconds:6.1f} s wall "
                    f"{cpus[master][-1]:6.1f} s cpu  "
                    f"min {probs.min():.4f}  max {probs.max():.4f}  "
                    f"gini {gini(probs):.3f}  sum {probs.sum():.3f}  "
                    f"panels {len(dist.weights)}  levels {dist.rounds}  "
                    f"LPs {dist.lp_solves}  MILPs {dist.milp_solves}  "
                    f"complete {dist.complete}  {_versus(inst, dist.type_probs, name)}"
                    f"({_load()})",
                    flush=True,
                )
        for master in masters:
            if args.repeat > 1:
                print(
                    f"{name:8} [{master}] median {statistics.median(walls[master]):.1f} s wall "
                    f"{statistics.median(cpus[master]):.1f} s cpu over {args.repeat} runs "
                    f"(cpu range {min(cpus[master]):.1f}-{max(cpus[master]):.1f})"
                )
    print(f"end: {_load()}")


if __name__ == "__main__":
    main()
