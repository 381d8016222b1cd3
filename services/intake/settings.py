from pathlib import Path

from pydantic_settings import SettingsConfigDict

from shared.channels import DEFAULT_CHANNELS
from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLINE_INTAKE_", extra="ignore", populate_by_name=True)

    service_name: str = "intake"
    http_port: int = 8000
    channels_path: Path = DEFAULT_CHANNELS
