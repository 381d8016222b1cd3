from pathlib import Path

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

DEFAULT_TEMPLATES = Path(__file__).parent / "templates.yaml"


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLINE_NOTIFIER_", extra="ignore", populate_by_name=True)

    service_name: str = "notifier"
    http_port: int = 8003
    templates_path: Path = DEFAULT_TEMPLATES
    # What a resident is told to do to check the status (shown in the registration notice).
    status_hint: str = "1551 або kyiv1551.gov.ua"
