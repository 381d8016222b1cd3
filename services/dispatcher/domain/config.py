"""Routing configuration: the routing file (district names, contact sharing, the gazetteer, incident rules) and the
due times by urgency, loaded and checked once; every decision of the dispatcher reads it."""

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from services.dispatcher.gazetteer import Gazetteer, GazetteerError, load_gazetteer
from shared.taxonomy import Taxonomy
from shared.textmatch import TermIndex, compile_term
from shared.yamlfile import load_model

CONTACT_CENTER = "contact_center"
UNCLASSIFIED = "unclassified"


class RoutingError(ValueError):
    """The routing file is not valid; the message names the file and the entry."""


# The law on citizens' appeals: at most one month, 45 days with a justified extension.
LEGAL_MAX_DUE = timedelta(days=45)


@dataclass(frozen=True)
class ExecutionRules:
    """Execution control: how long a resident has to say whether a resolved appeal is fixed (or to answer a
    department's question), how many times the resident may reopen it before a supervisor decides, and the key the
    single-use reply tokens are derived with (a derived token is the same for a redelivered report)."""

    reply_key: bytes = b""
    verdict_window: timedelta = timedelta(days=14)
    answer_window: timedelta = timedelta(days=14)
    reopens_before_supervisor: int = 1

    def reply_token(self, appeal_id: str, question_id: str) -> str:
        digest = hmac.new(self.reply_key, f"{appeal_id}:{question_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def token_hash(token: str) -> str:
    """What the store keeps of a reply token: its SHA-256, so a read of the store cannot answer for the resident."""
    return hashlib.sha256(token.encode()).hexdigest()


class IncidentRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    window_hours: float = Field(12, gt=0, le=24 * 30)
    categories: list[str] = Field(default_factory=list)
    # Categories about a street rather than a building: appeals naming the same street group without a house number.
    by_street: list[str] = Field(default_factory=list)


class RoutingFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    district_names: dict[str, list[str]]
    share_contact_with: list[str]
    gazetteer: str | None = None
    incidents: IncidentRules = IncidentRules()


@dataclass(frozen=True)
class Routing:
    taxonomy: Taxonomy
    district_names: TermIndex  # terms labelled with their district code
    share_contact_with: frozenset[str]
    department_codes: frozenset[str]
    gazetteer: Gazetteer | None = None
    # Due times by urgency that override the taxonomy's (the dispatcher's settings); each within LEGAL_MAX_DUE.
    deadlines: Mapping[str, timedelta] = field(default_factory=dict)
    incidents: IncidentRules = field(default_factory=IncidentRules)
    execution: ExecutionRules = field(default_factory=ExecutionRules)

    def due_after(self, urgency: str) -> timedelta:
        return self.deadlines.get(urgency) or self.taxonomy.due_after(urgency)


def check_deadlines(deadlines: Mapping[str, timedelta], taxonomy: Taxonomy) -> None:
    """Raises ValueError naming the urgency whose due time is unknown, not positive, or beyond the legal maximum."""
    for urgency, due in deadlines.items():
        if urgency not in taxonomy.urgency:
            raise ValueError(f"deadline for unknown urgency {urgency!r}")
        if not timedelta(0) < due <= LEGAL_MAX_DUE:
            raise ValueError(
                f"deadline for {urgency} is {due}: it must be positive and at most {LEGAL_MAX_DUE.days} days"
            )


def load_routing(
    path: Path,
    taxonomy: Taxonomy,
    deadlines: Mapping[str, timedelta] | None = None,
    execution: ExecutionRules | None = None,
) -> Routing:
    raw = load_model(path, RoutingFile, RoutingError)
    unknown = [c for c in (*raw.incidents.categories, *raw.incidents.by_street) if c not in taxonomy.categories]
    if unknown:
        raise RoutingError(f"{path}: incidents: unknown category codes {unknown}")
    try:
        check_deadlines(deadlines or {}, taxonomy)
        gazetteer = load_gazetteer(path.parent / raw.gazetteer, taxonomy.districts) if raw.gazetteer else None
    except (ValueError, GazetteerError) as error:
        raise RoutingError(f"{path}: {error}") from error
    unknown = [code for code in raw.district_names if code not in taxonomy.districts]
    if unknown:
        raise RoutingError(f"{path}: unknown district codes {unknown}")
    departments = set(taxonomy.department_codes())
    unknown = [code for code in raw.share_contact_with if code not in departments]
    if unknown:
        raise RoutingError(f"{path}: unknown department codes {unknown}")
    try:
        terms = [compile_term(code, name) for code, names in raw.district_names.items() for name in names]
    except ValueError as error:
        raise RoutingError(f"{path}: {error}") from error
    return Routing(
        taxonomy,
        TermIndex(terms),
        frozenset(raw.share_contact_with),
        frozenset(departments),
        gazetteer=gazetteer,
        deadlines=dict(deadlines or {}),
        incidents=raw.incidents,
        execution=execution or ExecutionRules(),
    )
