from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

# The shortest session secret accepted outside development (bytes of a urlsafe token: 256 bits).
MIN_SECRET_LENGTH = 32
# Secrets people copy from examples; refused outside development, like any secret shorter than the minimum.
KNOWN_DEFAULT_SECRETS = frozenset({"changethis", "secret", "development", "cityline"})


class ConsoleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLINE_CONSOLE_", extra="ignore", populate_by_name=True)

    service_name: str = "console"
    http_port: int = 8004
    # development: a missing session secret is replaced by a random one for this process (sessions end on restart),
    # and cookies may travel over plain http. Anything else needs a real secret and sends cookies over https only.
    environment: Literal["development", "production"] = "development"
    session_secret: SecretStr | None = None
    session_max_age_s: int = Field(12 * 3600, gt=0)

    # The services the console asks (it never imports them): intake registers, classifier and dispatcher preview.
    intake_url: str = "http://127.0.0.1:8000"
    classifier_url: str = "http://127.0.0.1:8001"
    dispatcher_url: str = "http://127.0.0.1:8002"
    knowledge_url: str = "http://127.0.0.1:8005"
    # The phone channel's intake API key: appeals registered at the call desk are the phone channel's.
    intake_key: SecretStr | None = None
    # The staff services' token (Authorization: Bearer ...) for previews, street suggestions and triage.
    staff_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("CITYLINE_STAFF_TOKEN", "CITYLINE_CONSOLE_STAFF_TOKEN", "staff_token")
    )
    # How long the console waits for another service before it says the service is unavailable.
    service_timeout_s: float = Field(3.0, gt=0)

    # Sign-in attempts allowed per user name and per client address, in a window of `sign_in_window_s`.
    sign_in_attempts_per_user: int = Field(5, ge=1)
    sign_in_attempts_per_ip: int = Field(20, ge=1)
    sign_in_window_s: int = Field(300, ge=1)
    page_size: int = Field(25, ge=1, le=200)
    # The supervisor board's figures of what happened (today's intake, 30 days' resolutions, open incidents) are
    # grouped from the store in the background this often; the page shows the latest with its time. What is open
    # and overdue is live, from the queues.
    supervisor_refresh_s: float = Field(300.0, gt=0)
    # The queues in memory follow the dispatcher's events; a scan of the store's open appeals this often heals a
    # missed one (each scan reads every open appeal: hours, not seconds).
    queue_reconcile_s: float = Field(600.0, gt=0)

    @model_validator(mode="after")
    def _real_secret_outside_development(self) -> "ConsoleSettings":
        if self.environment == "development":
            return self
        secret = self.session_secret.get_secret_value() if self.session_secret else ""
        if len(secret) < MIN_SECRET_LENGTH or secret.lower() in KNOWN_DEFAULT_SECRETS:
            raise ValueError(
                f"CITYLINE_CONSOLE_SESSION_SECRET must be a random string of at least {MIN_SECRET_LENGTH} characters "
                f"outside development (environment={self.environment})"
            )
        return self

    @property
    def secure_cookies(self) -> bool:
        return self.environment != "development"
