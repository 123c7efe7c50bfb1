"""The transactional outbox: events derived from committed rows, fanned out to subscriptions.

Nothing writes webhooks when a case changes: the dispatcher reads the append-only source
tables (``cases`` for ``created``, ``case_transitions`` for the lifecycle, ``camera_alarms``
for ``camera_alarm``: raised alarms; clearing one is not announced) after the fact, so a
webhook exists exactly when the change was committed, and a crash or restart loses nothing.

Per source a cursor (``webhook_cursors``) says up to which id every row has its event. A
round locks the cursor row (an UPDATE, so replicas take turns), makes an event for every row
above the cursor that has none yet (unique on ``(source, source_id)``: never twice), one
pending delivery per matching subscription, and moves the cursor up to the newest row older
than ``settle_s`` (a row whose transaction took its id earlier but committed later is still
above the cursor when it appears, and gets its event then). A cursor starts at the newest row
when first used: history is not replayed to receivers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from server.cameras.tables import CameraAlarm
from server.lifecycle.tables import CaseTransition, TransitionAction
from server.notices.shop import shop_from_payloads
from server.org.tables import Camera
from server.org.units import UnitIndex, camera_units, unit_index
from server.tables import Case, CaseEvent, CaseStatus
from server.webhooks.payloads import (
    CameraAlarmRef,
    CaseSummary,
    ShopRef,
    TransitionRef,
    UnitRef,
    WebhookBody,
)
from server.webhooks.tables import (
    DeliveryStatus,
    EventSource,
    WebhookCursor,
    WebhookDelivery,
    WebhookEvent,
    WebhookEventKind,
    WebhookSubscription,
)

logger = logging.getLogger(__name__)

KIND_OF_STATUS: dict[CaseStatus, WebhookEventKind] = {
    CaseStatus.CONFIRMED: WebhookEventKind.CONFIRMED,
    CaseStatus.DISPATCHED: WebhookEventKind.DISPATCHED,
    CaseStatus.CLOSED: WebhookEventKind.CLOSED,
}
"""A transition into these statuses is announced (dispatch, send back and reopen to a team
are all ``dispatched``; the body's ``transition.action`` tells them apart)."""


def transition_kind(action: TransitionAction, to_status: CaseStatus) -> WebhookEventKind | None:
    """The event a transition makes, or ``None`` when it is not announced."""
    if action is TransitionAction.OVERDUE:
        return WebhookEventKind.OVERDUE
    return KIND_OF_STATUS.get(to_status)


def _announced_transition() -> ColumnElement[bool]:
    return or_(
        CaseTransition.action == TransitionAction.OVERDUE,
        CaseTransition.to_status.in_(list(KIND_OF_STATUS)),
    )


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to store: what it is and the body (without its id, given once stored)."""

    kind: WebhookEventKind
    source_id: int
    case_id: int | None
    occurred_at: datetime
    body: WebhookBody
    unit_id: str | None
    """The unit handling the case (for subscriptions limited to a subtree)."""


@dataclass(frozen=True, slots=True)
class Source:
    """An append-only table events come from."""

    source: EventSource
    id_column: InstrumentedAttribute[int]
    at_column: InstrumentedAttribute[datetime]
    announced: Callable[[], ColumnElement[bool]] | None
    build: Callable[[_Units, Sequence[int]], list[NewEvent]]


class _Units:
    """The unit tree and the camera units of one round (read once)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.index: UnitIndex = unit_index(session)
        self._cameras: dict[tuple[str, str], str | None] = {}

    def home_unit(self, case: Case) -> str | None:
        """The unit handling the case: its assigned unit, else its camera's street."""
        if case.assigned_unit_id is not None:
            return case.assigned_unit_id
        key = (case.edge_id, case.camera_id)
        if key not in self._cameras:
            self._cameras[key] = camera_units(self.session, [key]).get(key)
        return self._cameras[key]


def _summary(units: _Units, case: Case) -> CaseSummary:
    unit_id = units.home_unit(case)
    node = units.index.nodes.get(unit_id) if unit_id is not None else None
    payloads = units.session.scalars(
        select(CaseEvent.payload).where(CaseEvent.case_id == case.id).order_by(CaseEvent.sent_at)
    )
    shop = shop_from_payloads(case.violation_type, payloads)
    return CaseSummary(
        id=case.id,
        event_id=case.event_id,
        status=case.status.value,
        violation_type=case.violation_type,
        edge_id=case.edge_id,
        camera_id=case.camera_id,
        zone_id=case.zone_id,
        rule=case.rule,
        label=case.label,
        confidence=case.confidence,
        first_seen=case.first_seen,
        last_seen=case.last_seen,
        model_version=case.model_version,
        unit=UnitRef(id=node.id, name=node.name, name_en=node.name_en, level=node.level.value)
        if node is not None
        else None,
        team_unit_id=case.team_unit_id,
        deadline_at=case.deadline_at,
        overdue=case.overdue_at is not None,
        closed_at=case.closed_at,
        shop=ShopRef(id=shop.id, name=shop.name) if shop is not None else None,
    )


def _created(units: _Units, ids: Sequence[int]) -> list[NewEvent]:
    out = []
    session = units.session
    for case in session.scalars(select(Case).where(Case.id.in_(ids)).order_by(Case.id)):
        summary = _summary(units, case)
        body = WebhookBody(
            event=0, kind=WebhookEventKind.CREATED, occurred_at=case.created_at, case=summary
        )
        out.append(
            NewEvent(
                kind=WebhookEventKind.CREATED,
                source_id=case.id,
                case_id=case.id,
                occurred_at=case.created_at,
                body=body,
                unit_id=summary.unit.id if summary.unit is not None else None,
            )
        )
    return out


def _transitions(units: _Units, ids: Sequence[int]) -> list[NewEvent]:
    session = units.session
    out = []
    query = select(CaseTransition).where(CaseTransition.id.in_(ids)).order_by(CaseTransition.id)
    for row in session.scalars(query):
        kind = transition_kind(row.action, row.to_status)
        case = session.get(Case, row.case_id)
        if kind is None or case is None:  # the case was deleted since: nothing to describe
            continue
        summary = _summary(units, case)
        transition = TransitionRef(
            id=row.id,
            action=row.action.value,
            from_status=row.from_status.value,
            to_status=row.to_status.value,
            actor=row.actor,
            unit_id=row.unit_id,
            at=row.at,
            note=row.note,
            detail=row.detail,
        )
        body = WebhookBody(
            event=0, kind=kind, occurred_at=row.at, case=summary, transition=transition
        )
        out.append(
            NewEvent(
                kind=kind,
                source_id=row.id,
                case_id=case.id,
                occurred_at=row.at,
                body=body,
                unit_id=summary.unit.id if summary.unit is not None else None,
            )
        )
    return out


def _alarms(units: _Units, ids: Sequence[int]) -> list[NewEvent]:
    out = []
    query = (
        select(CameraAlarm, Camera)
        .join(Camera, Camera.id == CameraAlarm.camera_pk)
        .where(CameraAlarm.id.in_(ids))
        .order_by(CameraAlarm.id)
    )
    for alarm, camera in units.session.execute(query).all():
        node = units.index.nodes.get(camera.unit_id)
        body = WebhookBody(
            event=0,
            kind=WebhookEventKind.CAMERA_ALARM,
            occurred_at=alarm.raised_at,
            alarm=CameraAlarmRef(
                id=alarm.id,
                camera=camera.id,
                edge_id=camera.edge_id,
                camera_id=camera.camera_id,
                camera_name=camera.name,
                unit=UnitRef(
                    id=node.id, name=node.name, name_en=node.name_en, level=node.level.value
                )
                if node is not None
                else None,
                kind=alarm.kind.value,
                raised_at=alarm.raised_at,
                detail=alarm.detail,
            ),
        )
        out.append(
            NewEvent(
                kind=WebhookEventKind.CAMERA_ALARM,
                source_id=alarm.id,
                case_id=None,
                occurred_at=alarm.raised_at,
                body=body,
                unit_id=camera.unit_id,
            )
        )
    return out


SOURCES: tuple[Source, ...] = (
    Source(EventSource.CASES, Case.id, Case.created_at, None, _created),
    Source(
        EventSource.CASE_TRANSITIONS,
        CaseTransition.id,
        CaseTransition.at,
        _announced_transition,
        _transitions,
    ),
    Source(EventSource.CAMERA_ALARMS, CameraAlarm.id, CameraAlarm.raised_at, None, _alarms),
)


def _lock_cursor(session: Session, source: Source, now: datetime) -> int | None:
    """Lock the source's cursor row and return its position; ``None``: just started."""
    locked = session.execute(
        update(WebhookCursor).where(WebhookCursor.source == source.source).values(updated_at=now)
    )
    if locked.rowcount == 0:  # type: ignore[attr-defined]
        newest = session.scalar(select(func.max(source.id_column))) or 0
        session.add(WebhookCursor(source=source.source, last_id=newest, updated_at=now))
        session.flush()
        logger.info("webhooks: %s read from id %d on (no history replayed)", source.source, newest)
        return None
    return session.scalar(
        select(WebhookCursor.last_id).where(WebhookCursor.source == source.source)
    )


def _fan_out(
    session: Session,
    units: _Units,
    new: NewEvent,
    event_id: int,
    subscriptions: Sequence[WebhookSubscription],
    now: datetime,
) -> None:
    """One pending delivery of the stored event per subscription that wants it."""
    for subscription in subscriptions:
        if new.kind.value not in subscription.kinds:
            continue
        if not units.index.within(new.unit_id, subscription.unit_id):
            continue
        session.add(
            WebhookDelivery(
                subscription_id=subscription.id,
                event_id=event_id,
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )


def derive_source(
    session: Session, source: Source, *, now: datetime, settle_s: float, batch: int
) -> int:
    """One round for one source inside the caller's transaction; returns the events made."""
    last = _lock_cursor(session, source, now)
    if last is None:
        return 0
    seen = exists().where(
        WebhookEvent.source == source.source, WebhookEvent.source_id == source.id_column
    )
    conditions = [source.id_column > last, ~seen]
    if source.announced is not None:
        conditions.append(source.announced())
    ids = list(
        session.scalars(
            select(source.id_column)
            .where(and_(*conditions))
            .order_by(source.id_column)
            .limit(batch)
        )
    )
    made = 0
    if ids:
        units = _Units(session)
        subscriptions = list(
            session.scalars(
                select(WebhookSubscription)
                .where(WebhookSubscription.enabled.is_(True))
                .order_by(WebhookSubscription.id)
            )
        )
        for new in source.build(units, ids):
            row = WebhookEvent(
                kind=new.kind,
                source=source.source,
                source_id=new.source_id,
                case_id=new.case_id,
                occurred_at=new.occurred_at,
                payload={},
                created_at=now,
            )
            session.add(row)
            session.flush()
            row.payload = new.body.model_copy(update={"event": row.id}).model_dump(mode="json")
            _fan_out(session, units, new, row.id, subscriptions, now)
            made += 1
    settled = now - timedelta(seconds=settle_s)
    upper = session.scalar(
        select(func.max(source.id_column)).where(
            source.id_column > last, source.at_column <= settled
        )
    )
    if upper is not None and len(ids) == batch:
        upper = min(upper, ids[-1])
    if upper is not None and upper > last:
        session.execute(
            update(WebhookCursor)
            .where(WebhookCursor.source == source.source, WebhookCursor.last_id < upper)
            .values(last_id=upper)
        )
    return made


def derive_events(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    settle_s: float,
    batch: int,
    sources: Sequence[Source] = SOURCES,
) -> int:
    """One round over every source, each in its own transaction; returns the events made.

    A replica that loses a race (the other one stored the same event first) rolls back its
    round for that source; the next round finds nothing left to do.
    """
    made = 0
    for source in sources:
        try:
            with session_factory() as session, session.begin():
                made += derive_source(session, source, now=now, settle_s=settle_s, batch=batch)
        except IntegrityError:
            logger.info("webhooks: another replica derived %s first", source.source.value)
    return made
