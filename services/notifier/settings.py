from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.channels import DEFAULT_CHANNELS
from shared.settings import ServiceSettings

DEFAULT_TEMPLATES = Path(__file__).parent / "templates.yaml"
# The embedded stack's sinks (`cityline up`): they write what they receive under .run/outbox/.
EMBEDDED_SMS_GATEWAY = "http://127.0.0.1:39025/sms"
EMBEDDED_SMS_BATCH_URL = "http://127.0.0.1:39025/sms/batch"
EMBEDDED_SMTP_PORT = 39026


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLINE_NOTIFIER_", extra="ignore", populate_by_name=True)

    service_name: str = "notifier"
    http_port: int = 8003
    templates_path: Path = DEFAULT_TEMPLATES
    channels_path: Path = DEFAULT_CHANNELS
    # What a resident is told to do to check the status (shown in the registration notice).
    status_hint: str = "1551 або kyiv1551.gov.ua"
    # Where residents answer a notice's question (intake's public address): the link is
    # <reply_url>/v1/appeals/<number>/reply?token=<single-use token>.
    reply_url: str = "http://127.0.0.1:8000"

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
    # Batches: up to `sms_batch_size` messages in one POST to `sms_batch_url` (`{"messages": [payload, ...]}`), each
    # answered for by itself (see SmsBatchFormat). Empty `sms_batch_url`: one POST per message, for gateways without
    # batches. The embedded sink takes batches at /sms/batch.
    sms_batch_url: str | None = EMBEDDED_SMS_BATCH_URL
    sms_batch_size: int = Field(default=100, ge=1, le=1000)
    sms_batch_messages_field: str = "messages"
    sms_batch_results_field: str = "messages"
    sms_batch_status_path: str = "status"
    sms_batch_accepted: list[str] = Field(default_factory=lambda: ["accepted"])
    sms_batch_detail_path: str = "error"
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
    # Channels registered in the store with their own webhook (`cityline channels add NAME --webhook URL`) come
    # first; they are read again at most this often.
    channel_cache_s: float = Field(default=5.0, ge=0)

    # Retries: bounded exponential backoff, base, base*2, ... up to the cap; then the notice fails (dead letter).
    # The defaults keep trying for about half an hour.
    retry_base_s: float = 2.0
    retry_cap_s: float = 300.0
    retry_max_attempts: int = 12
    # How often due notices are looked for, and how many are sent at once. A notice is sent at once by the process
    # that records it. What a process sends it holds under a lease, renewed every `delivery_heartbeat_s` while it
    # sends (unset: a quarter of the lease): if the process dies, another takes its notices over when the lease ends
    # (a few seconds later).
    delivery_interval_s: float = 0.25
    delivery_concurrency: int = 16
    delivery_lease_s: float = Field(default=6.0, gt=0)
    delivery_heartbeat_s: float | None = Field(default=None, gt=0)
    # On SIGTERM: how long the notices being sent get to finish; the rest is released to the other senders at once.
    # Below the supervisor's wait before SIGKILL (10 s for `cityline up` and compose, 30 s for Kubernetes).
    shutdown_grace_s: float = Field(default=5.0, ge=0)
    # Notices sent and settled together (one store update per outcome kind per chunk).
    delivery_chunk: int = Field(default=100, ge=1)

    @field_validator("sms_batch_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return value or None

    @model_validator(mode="after")
    def _batches_go_to_the_same_gateway(self) -> "NotifierSettings":
        # A gateway set without its batch URL would leave batches going to the embedded sink: refuse, and say how.
        if self.sms_batch_url == EMBEDDED_SMS_BATCH_URL and self.sms_gateway_url != EMBEDDED_SMS_GATEWAY:
            raise ValueError(
                f"sms_gateway_url is {self.sms_gateway_url} but sms_batch_url is still the embedded sink's "
                f"({EMBEDDED_SMS_BATCH_URL}): set CITYLINE_NOTIFIER_SMS_BATCH_URL to the gateway's batch endpoint, "
                "or to an empty value for one request per message"
            )
        return self

    @property
    def heartbeat_s(self) -> float:
        return self.delivery_heartbeat_s or self.delivery_lease_s / 4

    @model_validator(mode="after")
    def _lease_survives_a_missed_heartbeat(self) -> "NotifierSettings":
        # Two heartbeats may be late (a busy event loop, a slow store write) before a live sender loses its lease and
        # another sends its notices too.
        if self.heartbeat_s * 3 > self.delivery_lease_s:
            raise ValueError(
                f"delivery_heartbeat_s ({self.heartbeat_s}) must be at most a third of delivery_lease_s "
                f"({self.delivery_lease_s})"
            )
        return self
