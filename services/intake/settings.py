from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.channels import DEFAULT_CHANNELS
from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLINE_INTAKE_", extra="ignore", populate_by_name=True)

    service_name: str = "intake"
    http_port: int = 8000
    channels_path: Path = DEFAULT_CHANNELS
    # Appeals still `registered` and undecided this long after registration, and registered before the classifier
    # had taken everything published (its committed offsets: a backlog moves that time back), are announced again:
    # their event was lost with the broker or never published. Checked every `redrive_interval_s`.
    redrive_after_s: float = 30.0
    redrive_interval_s: float = 15.0
    # max_body_bytes (CITYLINE_INTAKE_MAX_BODY_BYTES, 64 KiB): an appeal is at most 5,000 characters of text.
    # Anonymous reads (status, Open311 lists) a minute from one client address; channels have their own limit, staff
    # none. Behind a proxy, let uvicorn take the client address from X-Forwarded-For (CITYLINE_FORWARDED_ALLOW_IPS).
    public_reads_per_minute: int = Field(60, ge=1)
    # The knowledge service `GET /v1/answers` asks (with the staff token), and how long it waits for it.
    knowledge_url: str = "http://127.0.0.1:8005"
    knowledge_timeout_s: float = Field(2.0, gt=0)
    # The secret the SMS gateway sends in X-CityLine-Gateway-Secret with each resident's reply it passes on to
    # POST /v1/sms/inbound; unset, that endpoint answers 503. `cityline up` sets one for its SMS sink.
    sms_inbound_secret: SecretStr | None = None
