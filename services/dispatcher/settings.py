from pathlib import Path

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

DEFAULT_ROUTING = Path(__file__).parent / "routing.yaml"


class DispatcherSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLINE_DISPATCHER_", extra="ignore", populate_by_name=True)

    service_name: str = "dispatcher"
    http_port: int = 8002
    routing_path: Path = DEFAULT_ROUTING
