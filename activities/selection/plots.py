"""PNG plots of a selection report, rendered in memory (Agg backend): the caller writes them.

Two pictures: everybody's selection probability in ascending order (the fairness picture,
with the legacy method for contrast when it was estimated), and per feature the shares of
each category in the pool, the drawn panel and the population target.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from activities.selection.report import SelectionOutcome

__all__ = ["render_plots"]


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _probabilities(outcome: SelectionOutcome) -> bytes:
    report = outcome.report
    fig, ax = plt.subplots(figsize=(8, 4.5))
    probs = np.sort(np.fromiter(outcome.probabilities.values(), dtype=np.float64))
    ax.plot(np.arange(probs.size), probs, label=f"{report.method.value}", linewidth=2)
    if outcome.legacy_probabilities is not None and report.method.value != "legacy":
        legacy = np.sort(np.fromiter(outcome.legacy_probabilities.values(), dtype=np.float64))
        ax.plot(np.arange(legacy.size), legacy, label="legacy (estimated)", linestyle="--")
    ax.axhline(report.k / report.pool_size, color="grey", linewidth=0.8, label="k / pool")
    ax.set_xlabel("people in the pool, by ascending probability")
    ax.set_ylabel("selection probability")
    ax.set_title(
        f"Selection probabilities (min {report.probabilities.minimum:.3f}, "
        f"Gini {report.probabilities.gini:.3f})"
    )
    ax.legend()
    return _png(fig)


def _categories(outcome: SelectionOutcome) -> bytes:
    rows = outcome.report.quotas
    features = list(dict.fromkeys(row.feature for row in rows))
    fig, axes = plt.subplots(len(features), 1, figsize=(9, 2.6 * len(features)), squeeze=False)
    for ax, feature in zip(axes[:, 0], features, strict=True):
        mine = [row for row in rows if row.feature == feature]
        x = np.arange(len(mine))
        ax.bar(x - 0.27, [r.pool_share for r in mine], width=0.27, label="pool")
        ax.bar(x, [r.panel_share for r in mine], width=0.27, label="panel")
        targets = [r.target if r.target is not None else 0.0 for r in mine]
        ax.bar(x + 0.27, targets, width=0.27, label="target")
        ax.set_xticks(x, [r.category for r in mine])
        ax.set_ylabel("share")
        ax.set_title(feature)
    axes[0, 0].legend()
    fig.tight_layout()
    return _png(fig)


def render_plots(outcome: SelectionOutcome) -> dict[str, bytes]:
    """File name -> PNG bytes."""
    return {
        "probabilities.png": _probabilities(outcome),
        "categories.png": _categories(outcome),
    }
