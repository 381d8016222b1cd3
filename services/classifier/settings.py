from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.classifier.domain import Policy
from shared.settings import ServiceSettings

DEFAULT_RULES = Path(__file__).parent / "rules.yaml"
DEFAULT_MODEL = Path(__file__).parent / "model.npz"


class ClassifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLINE_CLASSIFIER_", extra="ignore", populate_by_name=True)

    service_name: str = "classifier"
    http_port: int = 8001
    rules_path: Path = DEFAULT_RULES
    # How often the rule file is checked for changes (it is reloaded without a restart when valid).
    rules_reload_s: float = 5.0
    # The learned second opinion (`cityline classify --train` writes it); without the file the rules decide alone.
    model_path: Path = DEFAULT_MODEL
    # A flagged appeal (the model disagrees with the rules) goes to a person when the rules' confidence is below this.
    second_opinion_triage_below: float = Field(0.6, ge=0, le=1)
    # Channels where the category chosen at filing is an operator's decision, not a resident's hint.
    operator_channels: frozenset[str] = frozenset({"phone"})

    def policy(self) -> Policy:
        return Policy(triage_below=self.second_opinion_triage_below, operator_channels=self.operator_channels)
