"""What every batch decision of the dispatcher returns besides its writes: the events to publish, and the incoming
events it refuses, with their reasons, for the dead-letter topic."""

from dataclasses import dataclass, field

from shared.contracts.dispatcher import (
    AppealAssigned,
    AppealEscalated,
    AppealStatusChanged,
    DepartmentTask,
    IncidentTask,
)


@dataclass(frozen=True)
class Refusal:
    reason: str
    detail: str


@dataclass(frozen=True)
class Refused:
    """An incoming event the decision refuses, by its event id."""

    event_id: str
    refusal: Refusal


@dataclass(frozen=True)
class Announcements:
    """The events of one batch, published after its write: assignments for everyone, each department's tasks and
    incidents, and residents' status changes in order (an appeal changed twice in a batch appears twice)."""

    assigned: list[AppealAssigned] = field(default_factory=list)
    tasks: list[DepartmentTask] = field(default_factory=list)
    incidents: list[IncidentTask] = field(default_factory=list)
    statuses: list[AppealStatusChanged] = field(default_factory=list)
    # Appeals a supervisor must decide (a resolution the resident disputed twice).
    escalated: list[AppealEscalated] = field(default_factory=list)
