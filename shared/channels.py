"""The list of channels allowed to submit appeals, validated on load."""

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, HttpUrl, ValidationError

DEFAULT_CHANNELS = Path(__file__).parent / "data" / "channels.yaml"


class Channel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    # Where the notifier POSTs the notices of residents who came through this channel's app (signed: docs/notifier.md).
    webhook_url: HttpUrl | None = None


class ChannelList(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    channels: dict[str, Channel]


def load_channels(path: Path = DEFAULT_CHANNELS) -> ChannelList:
    try:
        return ChannelList.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise ValueError(f"{path}: {error}") from error
