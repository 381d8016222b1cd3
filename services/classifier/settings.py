from pathlib import Path

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

DEFAULT_RULES = Path(__file__).parent / "rules.yaml"


class ClassifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLINE_CLASSIFIER_", extra="ignore", populate_by_name=True)

    service_name: str = "classifier"
    http_port: int = 8001
    rules_path: Path = DEFAULT_RULES
    # How often the rule file is checked for changes (it is reloaded without a restart when valid).
    rules_reload_s: float = 5.0
