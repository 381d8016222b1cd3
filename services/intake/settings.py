from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.channels import DEFAULT_CHANNELS
from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLINE_INTAKE_", extra="ignore", populate_by_name=True)

    service_name: str = "intake"
    http_port: int = 8000
    channels_path: Path = DEFAULT_CHANNELS
    # Appeals still `registered` this long after registration are announced again (their event may have
    # been lost with the broker); checked soon after start-up and then every `redrive_interval_s`. Longer
    # than any backlog the pipeline clears, so appeals that are merely queued are not announced twice.
    redrive_after_s: float = 300.0
    redrive_interval_s: float = 60.0
    # max_body_bytes (CITYLINE_INTAKE_MAX_BODY_BYTES, 64 KiB): an appeal is at most 5,000 characters of text.
    # Anonymous reads (status, Open311 lists) a minute from one client address; channels have their own limit, staff
    # none. Behind a proxy, let uvicorn take the client address from X-Forwarded-For (CITYLINE_FORWARDED_ALLOW_IPS).
    public_reads_per_minute: int = Field(60, ge=1)
