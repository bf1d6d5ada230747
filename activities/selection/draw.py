"""The final lottery: a publicly verifiable draw from the computed distribution.

How anyone can recompute a draw (documented for the public, see also `recompute_hint`):

1. The seed is text announced before the draw, e.g. the numbers of a public lottery drawing
   on a named date ("2026-12-05: 4 11 23 31 40 45"). Its digest is
   `sha256(b"civicflow-selection-v1\\x00" + seed.strip().encode("utf-8"))`.
2. Random numbers come from SHA-256 in counter mode: block j (j = 0, 1, ...) is the first
   8 bytes, big-endian, of `sha256(digest + j.to_bytes(8, "big"))`. A number below m is
   `block % m`, skipping blocks >= 2**64 - (2**64 % m) so that every value is equally likely.
3. The distribution is published as integer units per panel that add up to 10**9; a panel
   is its list of [type index, count] pairs (types with a count, ascending), panels in
   ascending order of these lists (`distribution_hash` is the SHA-256 of that canonical
   JSON). The first number below 10**9 picks the panel by cumulative units.
4. Then, pair by pair, the count of people of that type is drawn from the type's members
   (sorted by person id) by a partial Fisher-Yates shuffle: for position i = 0, 1, ...,
   swap member i with member i + (next number below size - i).

The same pool, quotas, method and seed therefore give the same panel, and anyone holding
the published distribution and the seed can check it without an LP solver.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from activities.selection.fair import Distribution
from activities.selection.instance import FloatArray, Instance, IntArray

__all__ = [
    "SCALE",
    "VerifiableRng",
    "canonical_distribution",
    "distribution_hash",
    "draw_panel",
    "quantize",
    "seed_digest",
]

SCALE = 10**9
_DOMAIN = b"civicflow-selection-v1\x00"
_TWO64 = 2**64


def seed_digest(seed: str) -> str:
    """Hex SHA-256 of the announced seed text (stripped, UTF-8), domain-separated."""
    return hashlib.sha256(_DOMAIN + seed.strip().encode("utf-8")).hexdigest()


class VerifiableRng:
    """SHA-256 in counter mode: simple enough to re-implement in any language."""

    def __init__(self, digest_hex: str) -> None:
        self._key = bytes.fromhex(digest_hex)
        self._counter = 0

    def _block(self) -> int:
        data = self._key + self._counter.to_bytes(8, "big")
        self._counter += 1
        return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")

    def below(self, m: int) -> int:
        """A uniform integer in [0, m)."""
        if m < 1:
            msg = f"upper bound {m}: expected at least 1"
            raise ValueError(msg)
        limit = _TWO64 - (_TWO64 % m)
        while True:
            block = self._block()
            if block < limit:
                return block % m


def quantize(weights: FloatArray) -> IntArray:
    """Integer units summing to SCALE, by largest remainder (ties: lower index first)."""
    raw = np.asarray(weights, dtype=np.float64) / float(np.sum(weights)) * SCALE
    units = np.floor(raw).astype(np.int64)
    missing = SCALE - int(units.sum())
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - units[i]), i))
    for i in order[:missing]:
        units[i] += 1
    return units


def canonical_distribution(inst: Instance, dist: Distribution) -> dict[str, Any]:
    """The published form: types (categories, size), panels as counts, integer units."""
    units = quantize(dist.weights)
    # sparse pairs: a panel touches ~k types of possibly thousands, and this is a payload
    rows = sorted(
        (tuple((int(t), int(panel[t])) for t in np.flatnonzero(panel)), int(u))
        for panel, u in zip(dist.panels, units, strict=True)
        if u > 0
    )
    features = list(inst.quotas.features)
    types = [
        {
            "categories": dict(zip(features, _type_key(inst, t), strict=True)),
            "size": int(inst.sizes[t]),
        }
        for t in range(inst.n_types)
    ]
    return {
        "version": 1,
        "k": inst.k,
        "types": types,
        "panels": [[list(pair) for pair in pairs] for pairs, _ in rows],
        "units": [u for _, u in rows],
        "scale": SCALE,
    }


def _type_key(inst: Instance, t: int) -> list[str]:
    person = inst.people[inst.members[t][0]]
    return [person.features[f] for f in inst.quotas.features]


def distribution_hash(published: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(published, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def draw_panel(inst: Instance, published: dict[str, Any], seed: str) -> list[int]:
    """Person indices (into `inst.people`) of the drawn panel, ascending."""
    rng = VerifiableRng(seed_digest(seed))
    ticket = rng.below(int(published["scale"]))
    cumulative = 0
    chosen: list[list[int]] = published["panels"][-1]
    for pairs, units in zip(published["panels"], published["units"], strict=True):
        cumulative += units
        if ticket < cumulative:
            chosen = pairs
            break
    selected: list[int] = []
    for t, count in chosen:
        members = list(inst.members[t])
        for i in range(count):
            j = i + rng.below(len(members) - i)
            members[i], members[j] = members[j], members[i]
        selected.extend(members[:count])
    return sorted(selected)
