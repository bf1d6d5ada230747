"""Milieu-aware outreach and the panel lottery inside an invitation phase (workflow code).

An invitation phase whose settings name `outreach` targets (`definitions.outreach`) gets,
while it runs:
- the update `declare_profile`: a registrant's groups (age band, milieu, ...) by their
  `participant_id` from `register`; counted per group, never stored per person here;
- the query `outreach`: registrations per group against the targets and the groups that
  fall short (also in the `status` query's counts as `under_represented:<feature>=<category>`
  with the number of registrations missing, `profile:<feature>=<category>` per group);
- a check at `check_after`: an `outreach.under_represented` event for moderators and, when
  the definition allows, a targeted second wave (`draw_outreach_wave` activity, then
  `outreach.wave_drawn`, or `outreach.wave_failed` with the reason);
- with `selection: stratified_lottery`, the update `draw_panel` (in this phase or, once
  registration has closed, in a later one, until drawn): the lottery over the pool
  file with quotas from the targets (`draw_procedure_panel` activity), logged as
  `panel.selected` with seed, hashes, panel ids, probability figures and document digests.

At the end of a procedure (completed or cancelled) whose second wave was started, the
`purge_outreach_addresses` activity deletes the wave's address lists (register data, GDPR
Art. 5(1)(e); see `activities.selection.retention`), each deletion an
`outreach.addresses_purged` event in the audit chain (patch `purge-outreach-addresses-at-end`).
A purge that fails is logged as `outreach.purge_failed` (audit only); the nightly
`purge-addresses --all` sweep catches the lists then. Procedures without a wave never call it.

The comparison itself is pure (`activities.selection.outreach.gaps_from_counts`). The
handlers are registered in every run of a procedure whose definition has outreach
(`install_handlers`), so a run that continued as new after the invitation phase answers the
`outreach` query with the final figures, refuses `declare_profile` naming the phase, and
still draws the panel if it was not drawn yet. What survives continue-as-new is the typed
`ProcedureState.outreach` (`OutreachState`); the `status` query keeps showing the figures
under their old count names (`status_counts`).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    import activities.selection.activity as sel
    import definitions.calendar as calendar
    import workflows.checks as checks
    import workflows.messages as m
    from activities.records import stable_id
    from activities.selection.model import Method
    from activities.selection.outreach import GroupGap, gaps_from_counts
    from activities.selection.settings import FILE_NAME
    from definitions.outreach import Outreach
    from definitions.schema import (
        PARAM_REF,
        Definition,
        InvitationPhase,
        resolve_duration,
        resolve_int,
    )
    from workflows.engine import EngineBase, parse_payload
    from workflows.errors import Code, Rejected, failure_reason, rejection

__all__ = [
    "DECLARE_PROFILE",
    "DRAW_PANEL",
    "OUTREACH_QUERY",
    "PATCH_PURGE_AT_END",
    "DeclareProfileInput",
    "DrawPanelInput",
    "OutreachView",
    "Watch",
    "install",
    "install_handlers",
    "outreach_of",
    "outreach_phase",
    "purge_at_end",
    "status_counts",
    "stop",
]

DECLARE_PROFILE = "declare_profile"
DRAW_PANEL = "draw_panel"
OUTREACH_QUERY = "outreach"
PROFILE_PREFIX = "profile:"
GAP_PREFIX = "under_represented:"
PATCH_PURGE_AT_END = "purge-outreach-addresses-at-end"
"""Patch id: procedures that drew a second wave purge its address lists when they end."""
PURGE_TIMEOUT = timedelta(minutes=5)
SELECTION_TIMEOUT = timedelta(minutes=30)  # LEXIMIN on a large pool takes minutes
SELECTION_RETRY = RetryPolicy(maximum_attempts=3, maximum_interval=timedelta(minutes=1))

Key = m.Key


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class DeclareProfileInput(_Message):
    """A registrant's groups, e.g. {"age": "16-29", "milieu": "precarious"}; each optional."""

    idempotency_key: Key
    participant_id: Key  # from the receipt of `register`
    profile: dict[str, str] = Field(min_length=1)


class DrawPanelInput(_Message):
    """Draw the panel: `seed` is the text announced before the draw (publicly verifiable)."""

    idempotency_key: Key
    role: m.Role  # a role of the definition (moderator, administration)
    seed: str = Field(min_length=1, max_length=500)
    pool: str = Field(min_length=1, max_length=200)  # CSV in the worker's selection data folder
    method: Literal["leximin", "maximin"] = "leximin"
    households: bool = False


class OutreachView(BaseModel):
    """What the `outreach` query returns: no person, only counts per group."""

    phase_id: str
    targets: dict[str, dict[str, float]]
    ratio: float
    min_profiles: int
    registrations: int
    profiles: int
    counts: dict[str, dict[str, int]]
    compared: bool  # enough profiles to compare (min_profiles)
    gaps: list[GroupGap]
    check_at: str | None  # ISO instant of the moderators' check
    done: list[str]  # checks, waves and draws done (phase#visit markers)


# ---------------------------------------------------------------------------- pure helpers


def outreach_of(phase: Any) -> Outreach | None:
    if isinstance(phase, InvitationPhase):
        return phase.settings.outreach
    return None


def outreach_phases(defn: Definition) -> list[InvitationPhase]:
    """The definition's invitation phases with outreach targets, in definition order."""
    return [p for p in defn.phases if isinstance(p, InvitationPhase) and p.settings.outreach]


def outreach_phase(engine: EngineBase) -> InvitationPhase | None:
    """The phase the outreach messages are about: the current one if it has outreach, else
    the outreach phase run last, else the first one the procedure visited or will visit."""
    phases = {p.id: p for p in outreach_phases(engine.defn)}
    if not phases:
        return None
    st = engine.state
    for candidate in (st.phase_id, st.outreach.phase_id):
        if candidate in phases:
            return phases[candidate]
    visited = [p for p in phases.values() if st.phase_visits.get(p.id)]
    return visited[-1] if visited else next(iter(phases.values()))


def _targets(phase: InvitationPhase) -> Outreach:
    outreach = phase.settings.outreach
    assert outreach is not None
    return outreach


def group_counts(engine: EngineBase, outreach: Outreach) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {f: {} for f in outreach.targets}
    for feature, categories in engine.state.outreach.groups.items():
        out.setdefault(feature, {}).update(categories)
    return out


def current_gaps(engine: EngineBase, outreach: Outreach) -> list[GroupGap]:
    if engine.state.outreach.profiles < outreach.min_profiles:
        return []
    return gaps_from_counts(group_counts(engine, outreach), outreach.targets, ratio=outreach.ratio)


def status_counts(engine: EngineBase) -> dict[str, int]:
    """The outreach figures under the names the `status` query's counts always had:
    `profiles`, `profile:<feature>=<category>`, `under_represented:<feature>=<category>`
    (registrations missing), `outreach_letters`, `panel_members`."""
    phase = outreach_phase(engine)
    if phase is None:
        return {}
    part = engine.state.outreach
    out: dict[str, int] = {}
    if part.declared or part.profiles:
        out["profiles"] = part.profiles
    for feature, categories in sorted(part.groups.items()):
        for category, n in sorted(categories.items()):
            out[f"{PROFILE_PREFIX}{feature}={category}"] = n
    for gap in current_gaps(engine, _targets(phase)):
        out[f"{GAP_PREFIX}{gap.feature}={gap.category}"] = gap.missing
    if part.letters:
        out["outreach_letters"] = part.letters
    if part.panel_members is not None:
        out["panel_members"] = part.panel_members
    return out


def _marker(engine: EngineBase, what: str, phase_id: str) -> str:
    return f"{what}:{phase_id}#{engine.state.phase_visits.get(phase_id, 0)}"


def _in_phase(engine: EngineBase, phase_id: str, what: str) -> None:
    st = engine.state
    checks.require_active(st)
    if st.phase_id != phase_id:
        msg = f"{what} is accepted only in phase {phase_id!r} (current: {st.phase_id!r})"
        raise Rejected(Code.PHASE_DOES_NOT_ACCEPT, msg)


def check_profile(engine: EngineBase, phase: InvitationPhase, data: DeclareProfileInput) -> None:
    st = engine.state
    _in_phase(engine, phase.id, "declare_profile")
    outreach = _targets(phase)
    if data.participant_id not in st.participants:
        msg = f"participant_id {data.participant_id!r}: not registered in this procedure"
        raise Rejected(Code.INVALID_PAYLOAD, msg)
    if data.participant_id in st.outreach.declared:
        msg = f"participant_id {data.participant_id!r}: groups were already declared"
        raise Rejected(Code.DUPLICATE_IDEMPOTENCY_KEY, msg)
    for feature, category in data.profile.items():
        shares = outreach.targets.get(feature)
        if shares is None:
            msg = (
                f"profile.{feature}: unknown feature; expected one of {', '.join(outreach.targets)}"
            )
            raise Rejected(Code.UNKNOWN_FIELD, msg)
        if category not in shares:
            known = ", ".join(shares)
            msg = f"profile.{feature}: {category!r} is not a category; expected one of {known}"
            raise Rejected(Code.INVALID_PAYLOAD, msg)


def check_draw(
    engine: EngineBase, phase: InvitationPhase, data: DrawPanelInput, drawing: bool
) -> None:
    """The panel is drawn in its lottery phase or, once registration has closed, in a later
    phase (the pool is final then), until it is drawn; not before the lottery phase."""
    st = engine.state
    checks.require_active(st)
    if phase.settings.selection != "stratified_lottery":
        msg = f"phase {phase.id!r} draws no panel (selection: {phase.settings.selection})"
        raise Rejected(Code.PHASE_DOES_NOT_ACCEPT, msg)
    if st.phase_id != phase.id and not st.phase_visits.get(phase.id):
        msg = f"draw_panel is accepted from phase {phase.id!r} on (current: {st.phase_id!r})"
        raise Rejected(Code.PHASE_DOES_NOT_ACCEPT, msg)
    checks.require_admin(engine.defn, data.role)
    checks.require_new_key(st, "draw_panel", data.idempotency_key)
    if drawing:
        msg = "a draw is running; wait for its result"
        raise Rejected(Code.PHASE_DOES_NOT_ACCEPT, msg)
    if _marker(engine, "panel", phase.id) in st.outreach.done:
        msg = f"the panel of phase {phase.id!r} was already drawn in this visit"
        raise Rejected(Code.PHASE_DOES_NOT_ACCEPT, msg)
    if not FILE_NAME.match(data.pool):
        msg = f"pool {data.pool!r}: expected a CSV file name inside the selection data folder"
        raise Rejected(Code.INVALID_PAYLOAD, msg)


# ---------------------------------------------------------------------------- handlers


def install(engine: EngineBase, phase: InvitationPhase, outreach: Outreach) -> None:
    """The invitation runner starts an outreach phase: note it, make sure of the handlers."""
    del outreach  # the handlers read the phase's targets from the definition
    engine.state.outreach.phase_id = phase.id
    install_handlers(engine)


def install_handlers(engine: EngineBase) -> None:
    """Register `declare_profile`, `draw_panel` (with a lottery) and the `outreach` query
    once per run, in every run of a procedure whose definition has outreach: in a run that
    continued as new after the invitation phase they answer too (the query with the final
    figures, the updates with a refusal naming the phase, or the late draw). Registering
    a handler is no command: histories replay unchanged."""
    phases = outreach_phases(engine.defn)
    if not phases or workflow.get_update_handler(DECLARE_PROFILE) is not None:
        return
    drawing = [False]

    def phase_for(what: str) -> InvitationPhase:
        phase = outreach_phase(engine)
        assert phase is not None, what  # the definition has outreach phases
        return phase

    async def declare_profile(raw: Any) -> m.Receipt:
        data = parse_payload(DeclareProfileInput, raw, handler=True)
        check_profile(engine, phase_for(DECLARE_PROFILE), data)
        part = engine.state.outreach
        part.declared.append(data.participant_id)
        part.profiles += 1
        for feature, category in sorted(data.profile.items()):
            part.count(feature, category)
        engine.wake()
        return _receipt(engine, data.participant_id, data)

    def validate_declare_profile(raw: Any) -> None:
        check_profile(engine, phase_for(DECLARE_PROFILE), parse_payload(DeclareProfileInput, raw))

    async def draw_panel(raw: Any) -> m.Receipt:
        data = parse_payload(DrawPanelInput, raw, handler=True)
        phase = phase_for(DRAW_PANEL)
        check_draw(engine, phase, data, drawing[0])
        drawing[0] = True
        try:
            return await _draw(engine, phase, _targets(phase), data)
        finally:
            drawing[0] = False

    def validate_draw_panel(raw: Any) -> None:
        check_draw(engine, phase_for(DRAW_PANEL), parse_payload(DrawPanelInput, raw), drawing[0])

    def view() -> OutreachView:
        phase = phase_for(OUTREACH_QUERY)
        return outreach_view(engine, phase, _targets(phase))

    workflow.set_update_handler(
        DECLARE_PROFILE, declare_profile, validator=validate_declare_profile
    )
    if any(p.settings.selection == "stratified_lottery" for p in phases):
        workflow.set_update_handler(DRAW_PANEL, draw_panel, validator=validate_draw_panel)
    workflow.set_query_handler(OUTREACH_QUERY, view)


def _receipt(engine: EngineBase, id_: str, data: BaseModel) -> m.Receipt:
    st = engine.state
    return m.Receipt(
        id=id_,
        idempotency_key=getattr(data, "idempotency_key"),  # noqa: B009 (both input models)
        received_at=workflow.now(),
        phase_id=st.phase_id or "",
        round=st.round,
        sha256=m.canonical_digest(data),
    )


def outreach_view(engine: EngineBase, phase: InvitationPhase, outreach: Outreach) -> OutreachView:
    st = engine.state
    part = st.outreach
    # in the phase: computed (a continued run of an old state has none stored); later: kept
    at = check_instant(engine, outreach) if st.phase_id == phase.id else part.check_at
    return OutreachView(
        phase_id=phase.id,
        targets=outreach.targets,
        ratio=outreach.ratio,
        min_profiles=outreach.min_profiles,
        registrations=st.counts.get("participants", 0),
        profiles=part.profiles,
        counts=group_counts(engine, outreach),
        compared=part.profiles >= outreach.min_profiles,
        gaps=current_gaps(engine, outreach),
        check_at=at.isoformat() if at is not None else None,
        done=sorted(part.done),
    )


async def _draw(
    engine: EngineBase, phase: InvitationPhase, outreach: Outreach, data: DrawPanelInput
) -> m.Receipt:
    st = engine.state
    if phase.settings.panel_size is None:
        msg = f"phase {phase.id!r} names no panel_size"
        raise Rejected(Code.PHASE_DOES_NOT_ACCEPT, msg)
    k = resolve_int(phase.settings.panel_size, st.params)
    selection_id = stable_id(st.procedure_id, "panel", phase.id, data.idempotency_key)
    try:
        result: sel.ProcedurePanelResult = await workflow.execute_activity(
            sel.DRAW_PROCEDURE_PANEL,
            sel.DrawProcedurePanelInput(
                procedure_id=st.procedure_id,
                selection_id=selection_id,
                pool=data.pool,
                targets=outreach.targets,
                k=k,
                slack=outreach.quota_slack,
                seed=data.seed,
                method=Method(data.method),
                households=data.households,
            ),
            result_type=sel.ProcedurePanelResult,
            start_to_close_timeout=SELECTION_TIMEOUT,
            retry_policy=SELECTION_RETRY,
        )
    except ActivityError as err:
        cause = failure_reason(err)
        raise rejection(Code.SELECTION_FAILED, cause) from err
    st.remember_key("draw_panel", data.idempotency_key)
    st.outreach.done.append(_marker(engine, "panel", phase.id))
    st.outreach.panel_members = len(result.panel)
    await engine.emit(
        "panel.selected",
        result.event_payload(),
        summary=f"Panel gelost: {len(result.panel)} von {result.audit.pool_size}",
    )
    return _receipt(engine, selection_id, data)


# ---------------------------------------------------------------------------- the check


def check_instant(engine: EngineBase, outreach: Outreach) -> datetime | None:
    """Midnight (Berlin) `check_after` days after the phase started; None before it did."""
    st = engine.state
    if st.phase_started is None:
        return None
    days = resolve_duration(outreach.check_after, st.params).guaranteed_days()
    return calendar.deadline_instant(st.phase_started + timedelta(days=days - 1))


class Watch:
    """The check at `check_after`, run beside the phase; `busy` once it has started work."""

    def __init__(self, engine: EngineBase, phase: InvitationPhase, outreach: Outreach) -> None:
        self.engine = engine
        self.phase = phase
        self.outreach = outreach
        self.busy = False

    async def run(self) -> None:
        engine, outreach = self.engine, self.outreach
        marker = _marker(engine, "checked", self.phase.id)
        at = check_instant(engine, outreach)
        engine.state.outreach.check_at = at  # the `outreach` query shows it in later phases
        if at is None or marker in engine.state.outreach.done:
            return
        delay = at - workflow.now()
        if delay > timedelta(0):
            await workflow.sleep(delay)
        self.busy = True
        st = engine.state
        st.outreach.done.append(marker)
        gaps = current_gaps(engine, outreach)
        if not gaps:
            return
        await engine.emit(
            "outreach.under_represented",
            {
                "phase_id": self.phase.id,
                "registrations": st.counts.get("participants", 0),
                "profiles": st.outreach.profiles,
                "ratio": outreach.ratio,
                "gaps": [g.model_dump(mode="json") for g in gaps],
            },
            summary="Unterrepräsentiert: " + ", ".join(f"{g.feature}={g.category}" for g in gaps),
        )
        if outreach.second_wave is not None:
            await self.second_wave(gaps)

    async def second_wave(self, gaps: list[GroupGap]) -> None:
        engine, wave = self.engine, self.outreach.second_wave
        assert wave is not None
        st = engine.state
        marker = _marker(engine, "wave", self.phase.id)
        wave_id = stable_id(st.procedure_id, "outreach-wave", marker)
        st.outreach.done.append(marker)
        extract = str(_lookup(wave.register_extract, st.params))
        letters = resolve_int(wave.letters, st.params)
        try:
            result: sel.OutreachWaveResult = await workflow.execute_activity(
                sel.DRAW_OUTREACH_WAVE,
                sel.DrawOutreachWaveInput(
                    procedure_id=st.procedure_id,
                    wave_id=wave_id,
                    extract=extract,
                    letters=letters,
                    gaps=gaps,
                ),
                result_type=sel.OutreachWaveResult,
                start_to_close_timeout=SELECTION_TIMEOUT,
                retry_policy=SELECTION_RETRY,
            )
        except ActivityError as err:
            cause = failure_reason(err)
            await engine.emit(
                "outreach.wave_failed",
                {"wave_id": wave_id, "extract": extract, "reason": cause},
                summary="Zweite Einladungswelle fehlgeschlagen",
            )
            return
        st.outreach.letters += result.drawn
        await engine.emit(
            "outreach.wave_drawn",
            result.model_dump(mode="json"),
            summary=f"Zweite Einladungswelle: {result.drawn} Briefe",
        )


def _lookup(value: str, params: dict[str, Any]) -> Any:
    match = PARAM_REF.match(value)
    return params.get(match.group(1), value) if match else value


async def stop(task: asyncio.Task[None], watcher: Watch) -> None:
    """End of the phase: a check that has not begun is dropped, one that has is finished."""
    if task.done():
        await task
        return
    if watcher.busy:
        await task
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# ---------------------------------------------------------------------------- the end


async def purge_at_end(engine: EngineBase) -> None:
    """Delete the address lists of the procedure's second waves (personal data from the
    population register) now that the procedure has ended; only if a wave was started."""
    st = engine.state
    if not st.outreach.waves_drawn() or not workflow.patched(PATCH_PURGE_AT_END):
        return
    try:
        result: sel.PurgeAddressesResult = await workflow.execute_activity(
            sel.PURGE_OUTREACH_ADDRESSES,
            sel.PurgeAddressesInput(procedure_id=st.procedure_id),
            result_type=sel.PurgeAddressesResult,
            start_to_close_timeout=PURGE_TIMEOUT,
            retry_policy=SELECTION_RETRY,
        )
    except ActivityError as err:
        cause = failure_reason(err)
        await engine.emit(
            "outreach.purge_failed",
            {"reason": cause},
            summary="Adresslisten der zweiten Welle nicht gelöscht",
        )
        return
    if result.waves:  # the activity appended one `outreach.addresses_purged` per list
        st.add_timeline(
            m.TimelineEntry(
                at=workflow.now(),
                type="outreach.addresses_purged",
                phase_id=st.phase_id,
                round=st.round,
                summary=f"Adresslisten gelöscht: {len(result.waves)}",
            )
        )
