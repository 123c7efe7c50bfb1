"""Case outputs with their organisation and lifecycle: unit, transitions, disposals."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import chain_store
from server.lifecycle.reading import disposals, transitions
from server.lifecycle.schemas import DisposalOut, DisposalPhotoOut, TransitionOut
from server.org.tables import Unit
from server.org.units import camera_units
from server.schemas import (
    CaseDetail,
    CaseOut,
    UnitNameOut,
    case_detail,
    case_out,
    evidence_url,
)
from server.tables import Case


def _unit_names(session: Session, unit_ids: set[str]) -> dict[str, str]:
    if not unit_ids:
        return {}
    rows = session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(sorted(unit_ids)))).all()
    return {row.id: row.name for row in rows}


def case_list_out(session: Session, cases: Sequence[Case]) -> list[CaseOut]:
    """List items with chain status and camera unit, in a fixed number of queries."""
    statuses = chain_store.case_statuses(session, list(cases))
    units = camera_units(session, [(case.edge_id, case.camera_id) for case in cases])
    names = _unit_names(session, set(units.values()))
    out = []
    for case in cases:
        unit_id = units.get((case.edge_id, case.camera_id))
        out.append(
            case_out(
                case,
                statuses[case.id],
                unit_id=unit_id,
                unit_name=names.get(unit_id) if unit_id else None,
            )
        )
    return out


def case_detail_out(session: Session, case: Case) -> CaseDetail:
    """The full case: events, verdicts, chain, unit, transitions and disposals."""
    unit_id = camera_units(session, [(case.edge_id, case.camera_id)]).get(
        (case.edge_id, case.camera_id)
    )
    named = {u for u in (unit_id, case.assigned_unit_id, case.team_unit_id) if u is not None}
    units = session.scalars(select(Unit).where(Unit.id.in_(sorted(named)))).all() if named else ()
    return case_detail(
        case,
        chain_store.case_chain(session, case=case),
        unit_id=unit_id,
        unit_name=next((unit.name for unit in units if unit.id == unit_id), None),
        units=[UnitNameOut(id=unit.id, name=unit.name, name_en=unit.name_en) for unit in units],
        transitions=[
            TransitionOut.model_validate(row) for row in transitions(session, case_id=case.id)
        ],
        disposals=[
            DisposalOut(
                id=item.row.id,
                case_id=item.row.case_id,
                unit_id=item.row.unit_id,
                note=item.row.note,
                by=item.row.by,
                at=item.row.at,
                photos=[
                    DisposalPhotoOut(
                        sha256=photo.sha256,
                        content_type=photo.content_type,
                        byte_size=photo.byte_size,
                        width=photo.width,
                        height=photo.height,
                        url=evidence_url(photo.sha256),
                    )
                    for photo in item.photos
                ],
            )
            for item in disposals(session, case_id=case.id)
        ],
    )
