import hashlib
from datetime import timedelta
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services.dispatcher.domain import LEGAL_MAX_DUE
from services.dispatcher.domain.config import ExecutionRules
from shared.settings import ServiceSettings

DEFAULT_ROUTING = Path(__file__).parent / "routing.yaml"


class DispatcherSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLINE_DISPATCHER_", extra="ignore", populate_by_name=True)

    service_name: str = "dispatcher"
    http_port: int = 8002
    routing_path: Path = DEFAULT_ROUTING

    # Due time by urgency, overriding the taxonomy's (24h / 3d / 15d / 30d). ISO 8601 ("PT12H", "P20D") or seconds.
    due_critical: timedelta | None = None
    due_high: timedelta | None = None
    due_normal: timedelta | None = None
    due_low: timedelta | None = None

    # How often open appeals are checked against their due time.
    overdue_check_interval_s: float = Field(60.0, gt=0)
    overdue_check_batch: int = Field(5000, gt=0)

    # Execution control: the days a resident has to say whether a resolved appeal is fixed (no answer: closed) and to
    # answer a department's question, and how many times "not fixed" reopens it before a supervisor decides.
    verdict_days: float = Field(14, gt=0)
    answer_days: float = Field(14, gt=0)
    reopens_before_supervisor: int = Field(1, ge=0)
    # The key single-use reply tokens are derived with (only their hashes are stored); unset: derived from the staff
    # token, so `cityline up` needs nothing more. Set it in production and keep it secret.
    reply_key: SecretStr | None = None

    @field_validator("due_critical", "due_high", "due_normal", "due_low")
    @classmethod
    def _within_the_law(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and not timedelta(0) < value <= LEGAL_MAX_DUE:
            raise ValueError(f"a due time must be positive and at most {LEGAL_MAX_DUE.days} days (the legal maximum)")
        return value

    def execution(self) -> ExecutionRules:
        given = self.reply_key or self.staff_token
        secret = given.get_secret_value() if given else ""
        return ExecutionRules(
            reply_key=hashlib.sha256(f"cityline-reply:{secret}".encode()).digest(),
            verdict_window=timedelta(days=self.verdict_days),
            answer_window=timedelta(days=self.answer_days),
            reopens_before_supervisor=self.reopens_before_supervisor,
        )

    def deadlines(self) -> dict[str, timedelta]:
        given = {"critical": self.due_critical, "high": self.due_high, "normal": self.due_normal, "low": self.due_low}
        return {urgency: due for urgency, due in given.items() if due is not None}
