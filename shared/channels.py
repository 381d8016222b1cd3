"""The list of channels allowed to submit appeals, validated on load."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, HttpUrl

from shared.yamlfile import load_model

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
    """Raises DataFileError (a ValueError) naming the file and line."""
    return load_model(path, ChannelList)
