from pathlib import Path

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
    # The HTTP API refuses bigger request bodies (413): an appeal is at most 5,000 characters of text.
    max_body_bytes: int = 64 * 1024
