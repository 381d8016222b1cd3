"""Logging set up once per process: JSON lines to stdout, residents' contacts masked in every line."""

import logging
import sys
from collections.abc import Mapping
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from shared.redaction import redact

# The fields that let one follow an appeal through every service's log.
APPEAL_FIELDS = ("appeal_id", "event_id", "correlation_id")


class RedactingJsonFormatter(JsonFormatter):
    """The whole line is masked, so a phone or e-mail in a message, an argument, an extra or a traceback is too."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def appeal_fields(source: Mapping[str, Any]) -> dict[str, str]:
    """`extra=` for a log line about one appeal's record or notice: its appeal_id, event_id and correlation_id."""
    return {name: str(source[name]) for name in APPEAL_FIELDS if source.get(name) not in (None, "")}


def configure_logging(level: str, service: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        RedactingJsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # FastStream logs every message at INFO: at thousands per second that is real work (trap 10).
    logging.getLogger("faststream.access").setLevel(logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
