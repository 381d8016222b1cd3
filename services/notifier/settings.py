from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.channels import DEFAULT_CHANNELS
from shared.settings import ServiceSettings

DEFAULT_TEMPLATES = Path(__file__).parent / "templates.yaml"
# The embedded stack's sinks (`cityline up`): they write what they receive under .run/outbox/.
EMBEDDED_SMS_GATEWAY = "http://127.0.0.1:39025/sms"
EMBEDDED_SMTP_PORT = 39026


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLINE_NOTIFIER_", extra="ignore", populate_by_name=True)

    service_name: str = "notifier"
    http_port: int = 8003
    templates_path: Path = DEFAULT_TEMPLATES
    channels_path: Path = DEFAULT_CHANNELS
    # What a resident is told to do to check the status (shown in the registration notice).
    status_hint: str = "1551 або kyiv1551.gov.ua"

    # SMS through an HTTP gateway: a JSON POST whose field names are the gateway's. `sms_payload_fields` maps each
    # gateway field to one of our values (to, text, reference, language); `sms_payload_static` is sent as is.
    sms_gateway_url: str = EMBEDDED_SMS_GATEWAY
    sms_gateway_token: SecretStr = SecretStr("")
    sms_auth_header: str = "Authorization"
    sms_auth_scheme: str = "Bearer"
    sms_payload_fields: dict[str, str] = Field(
        default_factory=lambda: {"to": "to", "text": "text", "reference": "reference"}
    )
    sms_payload_static: dict[str, Any] = Field(default_factory=lambda: {"sender": "Kyiv1551"})
    http_timeout_s: float = 10.0

    # E-mail over SMTP.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = EMBEDDED_SMTP_PORT
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_start_tls: bool | None = None  # None: STARTTLS if the server offers it
    smtp_use_tls: bool = False
    smtp_timeout_s: float = 30.0
    mail_from: str = "Контактний центр 1551 <noreply@1551.gov.ua>"

    # Webhooks of app channels: the URL is the channel's (channels.yaml), unless overridden here per channel code;
    # each body is signed with the channel's secret (HMAC-SHA256) when one is set.
    webhook_urls: dict[str, str] = Field(default_factory=dict)
    webhook_secrets: dict[str, SecretStr] = Field(default_factory=dict)

    # Retries: bounded exponential backoff, base, base*2, ... up to the cap; then the notice fails (dead letter).
    # The defaults keep trying for about half an hour.
    retry_base_s: float = 2.0
    retry_cap_s: float = 300.0
    retry_max_attempts: int = 12
    # How often due notices are looked for, and how many are sent at once. A notice is sent at once by the process
    # that records it; if that process dies before settling it, the delivery job takes it over after the lease (also
    # the lease of each retry). It must outlast every transport's timeout, or a slow send could be made twice.
    delivery_interval_s: float = 0.25
    delivery_concurrency: int = 16
    delivery_lease_s: float = 60.0

    @model_validator(mode="after")
    def _lease_outlasts_timeouts(self) -> "NotifierSettings":
        if self.delivery_lease_s <= max(self.http_timeout_s, self.smtp_timeout_s):
            raise ValueError(
                f"delivery_lease_s ({self.delivery_lease_s}) must exceed http_timeout_s ({self.http_timeout_s}) "
                f"and smtp_timeout_s ({self.smtp_timeout_s})"
            )
        return self
