"""Hypothesis: on generated small pools every drawn panel meets every quota."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities.selection.model import Method
from activities.selection.select import select_panel
from tests.selection.helpers import people, quotas

FEATURES = {"g": ["f", "m", "d"], "a": ["y", "o"], "z": ["n", "s"]}


@st.composite
def instances(draw: st.DrawFn) -> tuple[list[dict[str, str]], dict, int, list[str] | None]:  # type: ignore[type-arg]
    n = draw(st.integers(min_value=4, max_value=12))
    rows = [{f: draw(st.sampled_from(cats)) for f, cats in FEATURES.items()} for _ in range(n)]
    k = draw(st.integers(min_value=1, max_value=min(n, 5)))
    use_homes = draw(st.booleans())
    homes = [f"h{draw(st.integers(0, n - 1))}" for _ in range(n)] if use_homes else None
    # quotas built around a panel that exists, so the instance is feasible
    candidates = list(range(n))
    if homes is not None:
        first_of_home: dict[str, int] = {}
        for i, h in enumerate(homes):
            first_of_home.setdefault(h, i)
        candidates = sorted(first_of_home.values())
    k = min(k, len(candidates))
    chosen = draw(st.permutations(candidates))[:k]
    spec: dict[str, dict[str, tuple[int, int]]] = {}
    for f, cats in FEATURES.items():
        spec[f] = {}
        for c in cats:
            have = sum(1 for i in chosen if rows[i][f] == c)
            slack_lo = draw(st.integers(0, 1))
            slack_hi = draw(st.integers(0, 1))
            spec[f][c] = (max(have - slack_lo, 0), have + slack_hi)
    return rows, spec, k, homes


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.sampled_from(list(Method)), st.text(min_size=1, max_size=8))
def test_every_quota_of_the_drawn_panel_holds(
    instance: tuple[list[dict[str, str]], dict, int, list[str] | None],  # type: ignore[type-arg]
    method: Method,
    seed: str,
) -> None:
    rows, spec, k, homes = instance
    if not seed.strip():
        seed = "fallback"
    pool = people(rows, homes)
    outcome = select_panel(pool, quotas(spec), k, seed, method=method, households=bool(homes))
    assert len(outcome.panel) == k
    by_id = {p.id: p for p in pool}
    for f, cats in spec.items():
        for c, (lo, hi) in cats.items():
            count = sum(1 for pid in outcome.panel if by_id[pid].features[f] == c)
            assert lo <= count <= hi, (f, c, count)
    if homes:
        assert len({by_id[pid].household for pid in outcome.panel}) == k
    assert abs(sum(outcome.probabilities.values()) - k) < 1e-6
