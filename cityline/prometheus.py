"""Prometheus for CityLine: the alert settings, the rule files rendered from them, and a real Prometheus run beside
the embedded stack (`cityline up --prometheus`, and the tests).

The thresholds, windows and `for:` durations of every rule live in one file (deploy/prometheus/alerting.yaml);
the rule templates (deploy/prometheus/templates/*.yml.j2) name them and never hold a number of their own.
`cityline prometheus-rules` renders deploy/prometheus/rules/; a test keeps the committed rules equal to the render.
"""

import shutil
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import jinja2
import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.metrics import STAGE_BUCKETS, STAGES
from shared.yamlfile import DataFileError, describe_errors, load_located

PROMETHEUS_DIR = Path(__file__).resolve().parents[1] / "deploy" / "prometheus"
ALERTING_SETTINGS = PROMETHEUS_DIR / "alerting.yaml"
TEMPLATES = PROMETHEUS_DIR / "templates"
RULES = PROMETHEUS_DIR / "rules"
SERVICES = ("intake", "classifier", "dispatcher", "notifier")
# Every CityLine scrape target carries it, so rules select the system's targets without naming them.
SYSTEM_LABEL = {"system": "cityline"}

# A Prometheus duration: 30s, 5m, 1h, 3d.
Duration = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]*(ms|s|m|h|d|w)$")]
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration_seconds(duration: str) -> float:
    unit = "ms" if duration.endswith("ms") else duration[-1]
    return float(duration[: -len(unit)]) * _UNIT_SECONDS[unit]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    for_: Duration = Field(alias="for")


class ServiceDown(_Section):
    pass


class ConsumerLag(_Section):
    seconds: float = Field(gt=0)
    growth_window: Duration


class DeadLetters(_Section):
    per_minute: float = Field(gt=0)
    window: Duration


class NotificationsFailing(_Section):
    ratio: float = Field(gt=0, lt=1)
    window: Duration


class Unclassified(_Section):
    share: float = Field(gt=0, lt=1)
    window: Duration
    min_appeals: int = Field(ge=1)


class OverdueGrowing(_Section):
    growth: int = Field(ge=1)
    window: Duration


class IntakeSilent(_Section):
    window: Duration
    day_start_hour_utc: int = Field(ge=0, le=23)
    day_end_hour_utc: int = Field(ge=1, le=24)

    @model_validator(mode="after")
    def _day(self) -> "IntakeSilent":
        if self.day_end_hour_utc <= self.day_start_hour_utc:
            raise ValueError("day_end_hour_utc must come after day_start_hour_utc")
        return self


class BurnWindow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    long: Duration
    short: Duration
    burn_rate: float = Field(gt=0)


class BurnAlert(_Section):
    windows: list[BurnWindow] = Field(min_length=1)


class Slo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$")]
    stage: Literal[STAGES]  # type: ignore[valid-type]
    latency_s: float
    objective: float = Field(gt=0, lt=1)
    period: Duration
    page: BurnAlert
    ticket: BurnAlert

    @model_validator(mode="after")
    def _bucket(self) -> "Slo":
        # The good events are read from one histogram bucket: the latency must be one of its boundaries.
        if self.latency_s not in STAGE_BUCKETS:
            raise ValueError(f"latency_s must be a bucket of cityline_appeal_stage_seconds: {STAGE_BUCKETS}")
        return self

    @property
    def error_budget(self) -> float:
        return round(1 - self.objective, 10)

    @property
    def le(self) -> str:
        """The bucket's `le` label as prometheus_client writes it (1.0, 2.5)."""
        return repr(float(self.latency_s))

    @property
    def windows(self) -> list[str]:
        """Every window a burn-rate alert reads, shortest first: each gets a recording rule."""
        found = {w for alert in (self.page, self.ticket) for pair in alert.windows for w in (pair.long, pair.short)}
        return sorted(found, key=duration_seconds)


class AlertingSettings(BaseModel):
    """deploy/prometheus/alerting.yaml: every threshold, window and `for:` of CityLine's rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service_down: ServiceDown
    consumer_not_ready: ServiceDown
    consumer_lag: ConsumerLag
    dead_letters: DeadLetters
    notifications_failing: NotificationsFailing
    unclassified: Unclassified
    overdue_growing: OverdueGrowing
    intake_silent: IntakeSilent
    slo: Slo

    @classmethod
    def load(cls, path: Path = ALERTING_SETTINGS) -> "AlertingSettings":
        """Raises DataFileError naming the file and line of what is wrong."""
        data, locator = load_located(path.read_text(encoding="utf-8"), str(path))
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise DataFileError("\n".join(describe_errors(error, locator))) from error

    def with_changes(self, changes: dict[str, dict[str, Any]]) -> "AlertingSettings":
        """The same settings with some sections' fields changed (a test's short `for:` and thresholds)."""
        data = self.model_dump(by_alias=True)
        for section, fields in changes.items():
            data[section] = {**data[section], **fields}
        return type(self).model_validate(data)


def render_rules(settings: AlertingSettings, templates: Path = TEMPLATES) -> dict[str, str]:
    """{rule file name: its text} for every template, rendered with the settings."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        # Prometheus's own templates ({{ $labels.job }}) stay as they are: ours are << >> and <% %>, which PromQL
        # never writes.
        variable_start_string="<<",
        variable_end_string=">>",
        block_start_string="<%",
        block_end_string="%>",
        comment_start_string="<#",
        comment_end_string="#>",
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # 120.0 -> 120, 0.25 -> 0.25: thresholds read as people write them.
    environment.filters["num"] = lambda value: f"{value:g}"
    header = "# Rendered by `cityline prometheus-rules` from {template} and alerting.yaml: edit those, not this file.\n"
    return {
        template.name.removesuffix(".j2"): header.format(template=f"templates/{template.name}")
        + environment.get_template(template.name).render(s=settings)
        for template in sorted(templates.glob("*.yml.j2"))
    }


def write_rules(out: Path = RULES, settings: AlertingSettings | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_rules(settings or AlertingSettings.load()).items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


# ---- a Prometheus beside the embedded stack --------------------------------------------------------------------


class PrometheusSettings(BaseSettings):
    """How `cityline up --prometheus` runs Prometheus (Debian's `prometheus` package, or any 2.x binary)."""

    model_config = SettingsConfigDict(env_prefix="CITYLINE_PROMETHEUS_", extra="ignore")

    binary: str = "prometheus"
    port: int = 39090
    scrape_interval: Duration = "5s"
    evaluation_interval: Duration = "5s"


def prometheus_binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"no Prometheus binary {name!r}: `apt-get install prometheus` (Debian's package)")
    return found


def scrape_config(targets: dict[str, str], rules_dir: Path, settings: PrometheusSettings) -> dict[str, Any]:
    """One job per service (job = the service's name), every target labelled system=cityline."""
    return {
        "global": {
            "scrape_interval": settings.scrape_interval,
            "evaluation_interval": settings.evaluation_interval,
        },
        "rule_files": [str(rules_dir / "*.yml")],
        "scrape_configs": [
            {"job_name": service, "static_configs": [{"targets": [address], "labels": dict(SYSTEM_LABEL)}]}
            for service, address in targets.items()
        ],
    }


def stack_targets(stack: Any) -> dict[str, str]:
    return {service: f"127.0.0.1:{stack.service_port(service)}" for service in SERVICES}


def add_prometheus(
    stack: Any,
    settings: PrometheusSettings | None = None,
    alerting: AlertingSettings | None = None,
) -> str:
    """Start Prometheus as one more process of the stack, scraping its four services with the rules loaded.

    Its config, rules and data live in the run folder's `prometheus/`; it stops (and restarts after a crash) with
    the stack. `alerting` renders the rules with other settings (a test's short `for:`); by default the shipped
    rules. Returns its address once it answers ready.
    """
    from cityline.stack import ManagedProcess, StackError

    settings = settings or PrometheusSettings()
    home = stack.run_dir / "prometheus"
    rules_dir = home / "rules"
    rules_dir.mkdir(parents=True, exist_ok=True)
    for stale in rules_dir.glob("*.yml"):
        stale.unlink()
    if alerting is None:
        for shipped in RULES.glob("*.yml"):
            shutil.copyfile(shipped, rules_dir / shipped.name)
    else:
        write_rules(rules_dir, alerting)
    config = home / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(stack_targets(stack), rules_dir, settings), sort_keys=False))
    address = f"127.0.0.1:{settings.port}"
    try:
        binary = prometheus_binary(settings.binary)
    except FileNotFoundError as error:
        raise StackError(str(error)) from None
    managed = ManagedProcess(
        name="prometheus",
        command=[
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address={address}",
            "--web.enable-lifecycle",
        ],
        pid_file=stack.run_dir / "pids" / "prometheus.pid",
        log_file=stack.run_dir / "logs" / "prometheus.log",
        marker="prometheus",
    )
    managed.start()
    stack.processes.append(managed)
    url = f"http://{address}"
    deadline = time.monotonic() + stack.settings.start_timeout_s
    while time.monotonic() < deadline:
        if not managed.running():
            raise StackError(f"Prometheus exited at start; its log says:\n{managed.log_tail()}")
        try:
            if httpx.get(f"{url}/-/ready", timeout=1.0).status_code == 200:
                return url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise StackError(f"Prometheus was not ready within {stack.settings.start_timeout_s:.0f} s")


# ---- `cityline prometheus-rules` ---------------------------------------------------------------------------------


def _text_of(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def cmd_prometheus_rules(args: Any) -> int:
    from cityline.output import UserError, console

    try:
        settings = AlertingSettings.load(Path(args.settings))
    except (DataFileError, OSError) as error:
        raise UserError(str(error)) from None
    out = Path(args.out)
    rendered = render_rules(settings)
    if args.check:
        stale = [name for name, text in rendered.items() if _text_of(out / name) != text]
        if stale:
            raise UserError(f"{', '.join(stale)} in {out} differ from {args.settings}: run `cityline prometheus-rules`")
        console.print(f"{out}: up to date with {args.settings}")
        return 0
    for path in write_rules(out, settings):
        console.print(f"wrote {path}")
    return 0


def add_parser(commands: Any) -> None:
    rules = commands.add_parser(
        "prometheus-rules", help="write Prometheus's rule files from the alert settings (deploy/prometheus)"
    )
    rules.add_argument("--settings", default=str(ALERTING_SETTINGS), help="the thresholds, windows and for: durations")
    rules.add_argument("--out", default=str(RULES), help="folder for the rule files")
    rules.add_argument("--check", action="store_true", help="write nothing; fail if the files differ from a render")
    rules.set_defaults(func=cmd_prometheus_rules)
