"""The draw: verifiable, deterministic, quotas and households hold, legacy is less fair."""

from __future__ import annotations

import hashlib

import pytest

from activities.selection import draw
from activities.selection.model import Method
from activities.selection.select import select_panel
from tests.selection.helpers import people, quotas

ROWS = [{"g": "f" if i % 3 else "m", "a": "young" if i % 4 == 0 else "old"} for i in range(14)]
SPEC = {"g": {"f": (2, 4), "m": (2, 4)}, "a": {"young": (2, 3), "old": (2, 4)}}


def test_rng_is_sha256_counter_mode_as_documented() -> None:
    digest = draw.seed_digest("  2026-12-05: 4 11 23 31 40 45 ")
    expected = hashlib.sha256(b"civicflow-selection-v1\x00" + b"2026-12-05: 4 11 23 31 40 45")
    assert digest == expected.hexdigest()
    block0 = hashlib.sha256(bytes.fromhex(digest) + (0).to_bytes(8, "big")).digest()[:8]
    assert draw.VerifiableRng(digest).below(1000) == int.from_bytes(block0, "big") % 1000


def test_quantize_sums_exactly() -> None:
    units = draw.quantize([1 / 3, 1 / 3, 1 / 3])  # type: ignore[arg-type]
    assert int(units.sum()) == draw.SCALE
    assert units.tolist() == [333333334, 333333333, 333333333]


@pytest.mark.parametrize("method", list(Method))
def test_same_inputs_and_seed_same_panel(method: Method) -> None:
    first = select_panel(people(ROWS), quotas(SPEC), 6, "7 13 21", method=method)
    again = select_panel(list(reversed(people(ROWS))), quotas(SPEC), 6, "7 13 21", method=method)
    assert first.panel == again.panel
    assert first.audit == again.audit
    assert first.report.all_quotas_met
    assert sum(first.probabilities.values()) == pytest.approx(6.0)


def test_different_seeds_differ_somewhere() -> None:
    panels = {tuple(select_panel(people(ROWS), quotas(SPEC), 6, f"s{i}").panel) for i in range(8)}
    assert len(panels) > 1


def test_published_distribution_reproduces_the_draw() -> None:
    outcome = select_panel(people(ROWS), quotas(SPEC), 6, "announced")
    assert outcome.distribution is not None
    assert draw.distribution_hash(outcome.distribution) == outcome.report.distribution_hash
    assert sum(outcome.distribution["units"]) == draw.SCALE


def test_households_at_most_one_each() -> None:
    homes = [f"h{i // 2}" for i in range(len(ROWS))]  # pairs share an address
    pool = people(ROWS, homes)
    spec = {"g": {"f": (1, 4), "m": (1, 4)}, "a": {"young": (1, 3), "old": (1, 4)}}
    home_of = {p.id: p.household for p in pool}
    for seed in ("a", "b", "c", "d"):
        for method in Method:
            outcome = select_panel(pool, quotas(spec), 5, seed, method=method, households=True)
            assert len({home_of[pid] for pid in outcome.panel}) == 5
            assert outcome.report.all_quotas_met


def test_legacy_minimum_is_not_above_maximin() -> None:
    # a skewed pool: few young people, young quota high, the greedy method starves some
    rows = [{"a": "young", "g": "f"}] * 2 + [{"a": "young", "g": "m"}] * 2
    rows += [{"a": "old", "g": "f"}] * 10 + [{"a": "old", "g": "m"}] * 2
    spec = {"a": {"young": (2, 2), "old": (2, 2)}, "g": {"f": (2, 2), "m": (2, 2)}}
    outcome = select_panel(
        people(rows), quotas(spec), 4, "x", method=Method.MAXIMIN, legacy_runs=400
    )
    assert outcome.report.legacy is not None
    assert outcome.report.legacy.minimum <= outcome.report.probabilities.minimum + 1e-9
    assert outcome.report.legacy.gini > outcome.report.probabilities.gini


def test_anyone_can_recompute_the_draw_from_the_published_distribution() -> None:
    # an independent verifier with hashlib only, following the module docstring of `draw`
    pool = people(ROWS)
    outcome = select_panel(pool, quotas(SPEC), 6, "2026-12-05: 4 11 23 31 40 45")
    published = outcome.distribution
    assert published is not None
    key = hashlib.sha256(b"civicflow-selection-v1\x00" + b"2026-12-05: 4 11 23 31 40 45").digest()
    counter = 0

    def below(m: int) -> int:
        nonlocal counter
        while True:
            block = hashlib.sha256(key + counter.to_bytes(8, "big")).digest()[:8]
            counter += 1
            value = int.from_bytes(block, "big")
            if value < 2**64 - (2**64 % m):
                return value % m

    ticket, cumulative, pick = below(published["scale"]), 0, 0
    for pick, units in enumerate(published["units"]):  # noqa: B007  (pick is used below)
        cumulative += units
        if ticket < cumulative:
            break
    pairs = published["panels"][pick]
    chosen: list[str] = []
    for t, count in pairs:
        wanted = published["types"][t]["categories"]
        members = sorted(p.id for p in pool if p.features == wanted)
        for i in range(count):
            j = i + below(len(members) - i)
            members[i], members[j] = members[j], members[i]
        chosen.extend(members[:count])
    assert sorted(chosen) == outcome.panel
