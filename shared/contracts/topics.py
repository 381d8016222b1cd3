"""Topic names and partition counts: the one place that knows them."""

from shared.taxonomy import Taxonomy

APPEALS_INTAKE = "appeals.intake"
APPEALS_REGISTERED = "appeals.registered"
APPEALS_CLASSIFIED = "appeals.classified"
APPEALS_ASSIGNED = "appeals.assigned"
DEPARTMENT_UPDATES = "dept.updates"
# Department reports the dispatcher accepted, one event per appeal: what the notifier tells residents after assignment.
APPEALS_STATUS = "appeals.status"
# Appeals past their due time while still open, found by the dispatcher's periodic check.
APPEALS_ESCALATED = "appeals.escalated"
# Residents' replies (intake checked them): fixed or not, or the answer to a department's question.
APPEALS_REPLIES = "appeals.replies"

# Residents' questions answered from the knowledge base (at the call desk, by a channel, or automatically).
CONSULTATIONS_GIVEN = "consultations.given"

# Notices the notifier could not deliver (a permanent refusal, or retries exhausted), with the reason.
NOTIFICATIONS_DLQ = "notifications.dlq"

# Messages are keyed by appeal id; the partition follows the key, so one appeal's events stay in order.
DEFAULT_PARTITIONS = 3

PIPELINE_TOPICS = (
    APPEALS_INTAKE,
    APPEALS_REGISTERED,
    APPEALS_CLASSIFIED,
    APPEALS_ASSIGNED,
    DEPARTMENT_UPDATES,
    APPEALS_STATUS,
    APPEALS_ESCALATED,
    APPEALS_REPLIES,
)


def department_assignments(department_code: str) -> str:
    return f"dept.{department_code}.assignments"


def department_incidents(department_code: str) -> str:
    """Mass incidents: many appeals about one building or street segment, sent to the department as one task."""
    return f"dept.{department_code}.incidents"


def dead_letter(topic: str) -> str:
    return f"{topic}.dlq"


def all_topics(taxonomy: Taxonomy) -> dict[str, int]:
    """Every topic the system uses, with its partition count, as start-up creates them."""
    topics = list(PIPELINE_TOPICS)
    topics += [department_assignments(code) for code in taxonomy.department_codes()]
    topics += [department_incidents(code) for code in taxonomy.department_codes()]
    topics += [dead_letter(topic) for topic in PIPELINE_TOPICS]
    topics.append(NOTIFICATIONS_DLQ)
    topics.append(CONSULTATIONS_GIVEN)
    return {topic: DEFAULT_PARTITIONS for topic in topics}
