"""The markdown report and PNG plots (matplotlib, Agg) of one benchmark result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend is chosen before pyplot loads

__all__ = ["markdown", "targets", "write"]


def _med(node: dict[str, Any], *path: str) -> float | None:
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return float(node["median"]) if isinstance(node, dict) and "median" in node else None


def _fmt(node: dict[str, Any], *path: str, digits: int = 1) -> str:
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return "-"
        node = node[key]
    if not isinstance(node, dict) or "median" not in node:
        return "-"
    return f"{node['median']:,.{digits}f} [{node['min']:,.{digits}f}-{node['max']:,.{digits}f}]"


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _largest(group: dict[str, Any]) -> str:
    """The largest size whose repetitions produced figures (a failed one has none)."""
    done = [size for size, data in group.items() if data["summary"]] or list(group)
    return max(done, key=int)


def targets(result: dict[str, Any]) -> list[tuple[str, float | None, str, bool | None]]:
    """(what, measured, target, met) for every target of issue 8."""
    sc = result["scenarios"]
    out: list[tuple[str, float | None, str, bool | None]] = []

    def add(what: str, value: float | None, target: str, ok: Any) -> None:
        out.append((what, value, target, None if value is None else bool(ok(value))))

    intake = sc.get("intake", {}).get("summary", {})
    bare10 = _med(intake, "bare_single_c10", "per_second")
    for c, need in ((10, 5.0), (50, 0.7)) if intake else ():
        civ = _med(intake, f"civicflow_batched_c{c}", "per_second")
        ratio = civ / bare10 if civ is not None and bare10 else None
        add(
            f"intake batched c={c} / bare single c=10",
            ratio,
            f">= {need}",
            lambda v, n=need: v >= n,
        )
    if sc.get("start"):
        biggest = _largest(sc["start"])
        add(
            f"start throughput n={biggest} / bare",
            _med(sc["start"][biggest]["summary"], "ratio"),
            ">= 0.5",
            lambda v: v >= 0.5,
        )
    if sc.get("idle"):
        biggest = _largest(sc["idle"])
        add(
            f"idle worker memory per procedure n={biggest} / bare",
            _med(sc["idle"][biggest]["summary"], "ratio_worker_memory"),
            "<= 2",
            lambda v: v <= 2,
        )
    for size, data in sorted(sc.get("large_hearing", {}).items(), key=lambda kv: int(kv[0])):
        s = data["summary"]
        add(
            f"large hearing n={size}: history events per statement",
            _med(s, "civicflow", "events_per_statement"),
            "<= 8",
            lambda v: v <= 8,
        )
        seconds = _med(s, "civicflow", "seconds")
        add(
            f"large hearing n={size}: seconds per 100,000 statements",
            None if seconds is None else seconds * 100_000 / int(size),
            "<= 60",
            lambda v: v <= 60,
        )
    if "storage" in sc:
        storage = _med(sc["storage"]["summary"], "ratio")
        add("storage / raw COPY", storage, ">= 0.5", lambda v: v >= 0.5)
    return out


def markdown(result: dict[str, Any]) -> str:
    """The report of one run; scenarios left out of the run (`--only`) are left out here."""
    sc = result["scenarios"]
    lines = [
        f"# civicflow bench ({result['mode']})",
        "",
        f"Run at {result['started_at']} on {result['machine']['cpus']} CPUs, "
        f"{result['seconds']:.0f} s in all. Figures: median [min-max] of "
        f"{result['sizes']['repetitions']} repetitions; one dev server, one PostgreSQL schema.",
        "",
        "## Targets (issue 8)",
        "",
        "| what | measured | target | met |",
        "| --- | ---: | --- | --- |",
    ]
    for what, value, target, ok in targets(result):
        shown = "failed, see checks" if value is None else f"{value:,.2f}"
        lines.append(
            f"| {what} | {shown} | {target} | {'-' if ok is None else 'yes' if ok else 'NO'} |"
        )
    lines += ["", "Correctness checks: " + ", ".join(
        f"{k} {'ok' if v else 'FAILED'}" for k, v in sorted(result["checks"].items())
    ), ""]  # fmt: skip
    for name, group in sc.items():
        for size, data in [("", group)] if "summary" in group else sorted(group.items()):
            for i, rep in enumerate(data["repetitions"], 1):
                if "error" in rep:
                    where = f"{name} {size}".strip()
                    lines.append(f"- {where}, repetition {i} failed: `{rep['error'][:300]}`")
    for name, section in _SECTIONS:
        if sc.get(name):
            lines += ["", *section(sc[name])]
    lines += ["", *_gc_section(sc), ""]
    return "\n".join(lines)


def _by_size(group: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return sorted(group.items(), key=lambda kv: int(kv[0]))


def _start_section(group: dict[str, Any]) -> list[str]:
    lines = ["## 1. Start latency and throughput", "",
        "| n | civicflow /s | bare /s | ratio | civicflow p50 / p99 s | bare p50 / p99 s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for n, data in _by_size(group):
        s = data["summary"]
        lines.append(
            _row(
                n,
                _fmt(s, "civicflow", "per_second"),
                _fmt(s, "bare", "per_second"),
                _fmt(s, "ratio", digits=2),
                _fmt(s, "civicflow", "latency_p50", digits=2)
                + " / "
                + _fmt(s, "civicflow", "latency_p99", digits=2),
                _fmt(s, "bare", "latency_p50", digits=2)
                + " / "
                + _fmt(s, "bare", "latency_p99", digits=2),
            )
        )
    return lines


def _intake_section(group: dict[str, Any]) -> list[str]:
    s = group["summary"]
    lines = ["## 2. Statement intake", "",
        "| case | statements/s | p50 s | p99 s | failed calls | ratio to bare single c=10 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for case in sorted(k for k in s if isinstance(s[k], dict) and "per_second" in s[k]):
        lines.append(
            _row(
                case,
                _fmt(s, case, "per_second"),
                _fmt(s, case, "latency_p50", digits=3),
                _fmt(s, case, "latency_p99", digits=3),
                _fmt(s, case, "failures", digits=0),
                _fmt(s, "ratios", case, digits=2),
            )
        )
    return lines


def _hearing_section(group: dict[str, Any]) -> list[str]:
    lines = ["## 3. Large hearing", "",
        "| n | civicflow s | civicflow /s | runs | events/statement | peak RSS MB "
        "| bare s | bare events/statement | ratio |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for n, data in _by_size(group):
        s = data["summary"]
        lines.append(
            _row(
                n,
                _fmt(s, "civicflow", "seconds"),
                _fmt(s, "civicflow", "per_second", digits=0),
                _fmt(s, "civicflow", "runs", digits=0),
                _fmt(s, "civicflow", "events_per_statement", digits=3),
                _fmt(s, "civicflow", "peak_rss_mb", digits=0),
                _fmt(s, "bare", "seconds"),
                _fmt(s, "bare", "events_per_statement", digits=3),
                _fmt(s, "ratio", digits=2),
            )
        )
    return lines


def _idle_section(group: dict[str, Any]) -> list[str]:
    lines = ["## 4. Many idle procedures (each side in a worker process of its own)", "",
        "| n | side | until idle s | worker RSS MB | worker KB/workflow | server KB/workflow |",
        "| ---: | --- | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for n, data in _by_size(group):
        s = data["summary"]
        for side in ("civicflow", "bare"):
            lines.append(
                _row(
                    n,
                    side,
                    _fmt(s, side, "start_seconds"),
                    _fmt(s, side, "worker_rss_mb", digits=0),
                    _fmt(s, side, "worker_kb_per_workflow"),
                    _fmt(s, side, "server_kb_per_workflow"),
                )
            )
    return lines


def _deadlines_section(group: dict[str, Any]) -> list[str]:
    lines = ["## 4. Deadlines firing together (time-skipping server, one per repetition)", "",
        "| n | civicflow s | civicflow /s | p50 / p99 s | bare s | bare /s | ratio "
        "| civicflow / bare until waiting s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for n, data in _by_size(group):
        s = data["summary"]
        lines.append(
            _row(
                n,
                _fmt(s, "civicflow", "seconds", digits=2),
                _fmt(s, "civicflow", "per_second", digits=0),
                _fmt(s, "civicflow", "latency_p50", digits=2)
                + " / "
                + _fmt(s, "civicflow", "latency_p99", digits=2),
                _fmt(s, "bare", "seconds", digits=2),
                _fmt(s, "bare", "per_second", digits=0),
                _fmt(s, "ratio", digits=2),
                _fmt(s, "civicflow", "start_seconds") + " / " + _fmt(s, "bare", "start_seconds"),
            )
        )
    lines += ["", "Seconds from moving the clock across the shared deadline until every "
        "procedure's `phase.changed` (to `weighing`) is stored, or every bare workflow has run "
        "its activity after the timer; p50 / p99 per procedure from the same moment."]  # fmt: skip
    return lines


def _storage_section(group: dict[str, Any]) -> list[str]:
    s = group["summary"]
    lines = ["## 5. Storage", "", "| method | rows/s |", "| --- | ---: |"]
    for key in ("raw_copy_jsonb", "raw_copy_keyed", "store_statements"):
        lines.append(f"| {key} | {_fmt(s, key, 'per_second', digits=0)} |")
    lines += [
        "",
        f"Ratio store_statements / raw COPY (jsonb reference): {_fmt(s, 'ratio', digits=2)}; "
        f"/ raw COPY into a keyed copy of `statements`: {_fmt(s, 'ratio_keyed', digits=2)} "
        "(measured in a round of its own with the reference).",
    ]
    return lines


def _gc_section(sc: dict[str, Any]) -> list[str]:
    lines = ["## Garbage collection in the harness + worker process", "",
        "| scenario | longest pause s | GC time s | full collections |",
        "| --- | ---: | ---: | ---: |"]  # fmt: skip
    for name, group in sc.items():
        for size, data in [("", group)] if "summary" in group else sorted(group.items()):
            s = data["summary"]
            lines.append(
                _row(
                    f"{name} {size}".strip(),
                    _fmt(s, "gc", "max_pause_s", digits=3),
                    _fmt(s, "gc", "total_s", digits=2),
                    _fmt(s, "gc", "full_collections", digits=0),
                )
            )
    return lines


_SECTIONS: tuple[tuple[str, Callable[[dict[str, Any]], list[str]]], ...] = (
    ("start", _start_section),
    ("intake", _intake_section),
    ("large_hearing", _hearing_section),
    ("idle", _idle_section),
    ("deadlines", _deadlines_section),
    ("storage", _storage_section),
)


def _series(group: dict[str, Any], *path: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for n, data in sorted(group.items(), key=lambda kv: int(kv[0])):
        value = _med(data["summary"], *path)
        if value is not None:
            xs.append(int(n))
            ys.append(value)
    return xs, ys


def _save(fig: Any, path: Path, written: list[Path]) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(path)


def plots(result: dict[str, Any], out: Path) -> list[Path]:
    """One PNG per group of scenarios that ran: rates, memory, intake, deadlines."""
    sc = result["scenarios"]
    written: list[Path] = []

    if sc.get("start") or sc.get("large_hearing"):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for side in ("civicflow", "bare"):
            axes[0].plot(*_series(sc.get("start", {}), side, "per_second"), marker="o", label=side)
            axes[1].plot(
                *_series(sc.get("large_hearing", {}), side, "per_second"), marker="o", label=side
            )
        axes[0].set(
            title="1. starts until first phase / activity", xlabel="workflows", ylabel="per s"
        )
        axes[1].set(title="3. large hearing intake", xlabel="statements", ylabel="statements per s")
        for ax in axes:
            ax.set_xscale("log")
            ax.legend()
            ax.grid(alpha=0.3)
        _save(fig, out / "rates.png", written)

    if sc.get("idle"):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for side in ("civicflow", "bare"):
            axes[0].plot(*_series(sc["idle"], side, "worker_rss_mb"), marker="o", label=side)
            axes[1].plot(
                *_series(sc["idle"], side, "worker_kb_per_workflow"), marker="o", label=side
            )
        axes[0].set(title="4. worker RSS with n idle workflows", xlabel="workflows", ylabel="MB")
        axes[1].set(title="4. worker memory per idle workflow", xlabel="workflows", ylabel="KB")
        for ax in axes:
            ax.legend()
            ax.grid(alpha=0.3)
        _save(fig, out / "memory.png", written)

    if sc.get("intake"):
        s = sc["intake"]["summary"]
        cases = sorted(k for k in s if isinstance(s[k], dict) and "per_second" in s[k])
        fig, ax = plt.subplots(figsize=(10, 4))
        values = [s[c]["per_second"]["median"] for c in cases]
        colours = ["tab:blue" if c.startswith("civicflow") else "tab:orange" for c in cases]
        ax.bar(range(len(cases)), values, color=colours)
        ax.set_xticks(range(len(cases)), cases, rotation=30, ha="right", fontsize=8)
        ax.set(title="2. statement intake into one workflow", ylabel="statements per s")
        ax.set_yscale("log")
        ax.grid(alpha=0.3, axis="y")
        _save(fig, out / "intake.png", written)

    if sc.get("deadlines"):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for side in ("civicflow", "bare"):
            axes[0].plot(*_series(sc["deadlines"], side, "seconds"), marker="o", label=side)
            axes[1].plot(*_series(sc["deadlines"], side, "per_second"), marker="o", label=side)
        axes[0].set(
            title="4. deadlines firing together: until all moved on",
            xlabel="workflows",
            ylabel="s",
        )
        axes[1].set(
            title="4. deadlines firing together: transitions", xlabel="workflows", ylabel="per s"
        )
        for ax in axes:
            ax.set_xscale("log")
            ax.legend()
            ax.grid(alpha=0.3)
        _save(fig, out / "deadlines.png", written)
    return written


def write(result: dict[str, Any], out: Path) -> None:
    (out / "report.md").write_text(markdown(result))
    plots(result, out)
