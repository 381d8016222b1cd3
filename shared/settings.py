"""Settings shared by every service; each service subclasses ServiceSettings with its own env prefix.

Nothing else in the project reads os.environ: main modules build settings once and pass values down.
"""

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

EMBEDDED_KAFKA = "127.0.0.1:39092"
EMBEDDED_MONGODB = "mongodb://127.0.0.1:37017/?retryWrites=false"
DEFAULT_TAXONOMY = Path(__file__).parent / "data" / "taxonomy.yaml"


def _common(name: str, *aliases: str) -> AliasChoices:
    """Fields every service reads from the same variable, whatever the service's own prefix."""
    return AliasChoices(*aliases, f"CITYLINE_{name.upper()}")


def group_of(service: str) -> str:
    """A service's consumer group: what its committed offsets are kept under."""
    return f"cityline-{service}"


class ConnectionSettings(BaseSettings):
    """Where the broker and the store are; used by the services and by the command line."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field(
        EMBEDDED_KAFKA, validation_alias=_common("kafka_bootstrap_servers", "KAFKA_BOOTSTRAP_SERVERS")
    )
    mongodb_uri: SecretStr = Field(SecretStr(EMBEDDED_MONGODB), validation_alias=_common("mongodb_uri", "MONGODB_URI"))
    mongodb_database: str = Field("cityline", validation_alias=_common("mongodb_database"))
    taxonomy_path: Path = Field(DEFAULT_TAXONOMY, validation_alias=_common("taxonomy_path"))
    # The store client's own bounds: how long it looks for a server, connects (also the heartbeat's limit, so a frozen
    # store is noticed within about heartbeat + connect), and waits for one answer (a backstop for batch work; HTTP
    # requests have their own shorter deadline, http_deadline_s).
    mongodb_server_selection_timeout_ms: int = Field(
        2_000, validation_alias=_common("mongodb_server_selection_timeout_ms")
    )
    mongodb_connect_timeout_ms: int = Field(2_000, validation_alias=_common("mongodb_connect_timeout_ms"))
    mongodb_socket_timeout_ms: int = Field(30_000, validation_alias=_common("mongodb_socket_timeout_ms"))
    mongodb_heartbeat_frequency_ms: int = Field(1_000, validation_alias=_common("mongodb_heartbeat_frequency_ms"))


class ServiceSettings(ConnectionSettings):
    service_name: str = "cityline"
    log_level: str = Field("INFO", validation_alias=_common("log_level"))
    http_host: str = "127.0.0.1"
    http_port: int = 8000

    # Consumer tuning. The embedded profile lowers the session timeout because Tansu completes a
    # group join only after about half of it; real Kafka refuses < 6 s.
    kafka_session_timeout_ms: int = Field(10_000, validation_alias=_common("kafka_session_timeout_ms"))
    kafka_heartbeat_interval_ms: int = Field(3_000, validation_alias=_common("kafka_heartbeat_interval_ms"))
    # Tansu holds a fetch for this long even when data is waiting (trap 6): keep it short.
    kafka_fetch_max_wait_ms: int = Field(20, validation_alias=_common("kafka_fetch_max_wait_ms"))
    # Every publish waits for all in-sync replicas: with replication 3 and min.insync.replicas=2 on a real cluster an
    # acknowledged event survives the loss of a broker. One broker (the embedded one) acknowledges alone.
    kafka_acks: Literal["all", "1", "0"] = Field("all", validation_alias=_common("kafka_acks"))
    batch_max_records: int = Field(500, validation_alias=_common("batch_max_records"))
    batch_timeout_ms: int = Field(20, validation_alias=_common("batch_timeout_ms"))
    # In-place retries of a batch whose store or broker call failed transiently, before parking it.
    transient_retry_attempts: int = Field(6, validation_alias=_common("transient_retry_attempts"))
    transient_retry_max_wait_s: float = Field(5.0, validation_alias=_common("transient_retry_max_wait_s"))
    # How often each consumer's partitions are checked (lag, a position beyond the log end, a stall), and how long a
    # committed offset may stand still with records waiting before /ready says the consumer is stalled.
    consumer_watch_interval_s: float = Field(5.0, validation_alias=_common("consumer_watch_interval_s"))
    consumer_stall_after_s: float = Field(60.0, validation_alias=_common("consumer_stall_after_s"))
    # Each stage announces again, from the store, what the next stage should have had and has not (shared/reconcile):
    # checked every `reconcile_interval_s`, for appeals at least `reconcile_after_s` past their last step.
    reconcile_interval_s: float = Field(15.0, validation_alias=_common("reconcile_interval_s"))
    reconcile_after_s: float = Field(30.0, validation_alias=_common("reconcile_after_s"))

    # "development" lets a service with staff endpoints start without a staff token (they then refuse everyone);
    # any other profile refuses to start without one.
    profile: Literal["development", "production"] = Field("production", validation_alias=_common("profile"))
    # The token staff tools (the console, scripts) send as `Authorization: Bearer <token>`; the same for every service.
    # `cityline up` generates one into its run folder; compose and Kubernetes take it from a Secret.
    staff_token: SecretStr | None = Field(None, validation_alias=_common("staff_token"))

    # HTTP APIs (shared.http_guard): each request's store and broker work within the deadline, else 503 with
    # Retry-After; request bodies up to the size and within the time, else 413 / 408; the request line and headers
    # within their time of the connection (or of the last answer on it), else 408 and closed.
    http_deadline_s: float = Field(1.0, gt=0, validation_alias=_common("http_deadline_s"))
    max_body_bytes: int = Field(64 * 1024, gt=0)
    http_body_timeout_s: float = Field(10.0, gt=0, validation_alias=_common("http_body_timeout_s"))
    http_header_timeout_s: float = Field(10.0, gt=0, validation_alias=_common("http_header_timeout_s"))
    # Open connections and requests at once; past it uvicorn answers 503 straight away.
    http_max_connections: int = Field(200, ge=1, validation_alias=_common("http_max_connections"))
    http_keep_alive_s: int = Field(5, ge=1, validation_alias=_common("http_keep_alive_s"))
    # The proxies whose X-Forwarded-For names the client (per-client limits); "*" behind a trusted ingress only.
    forwarded_allow_ips: str = Field("127.0.0.1", validation_alias=_common("forwarded_allow_ips"))

    @property
    def group_id(self) -> str:
        return group_of(self.service_name)

    @property
    def producer_acks(self) -> int | str:
        return "all" if self.kafka_acks == "all" else int(self.kafka_acks)


class StackSettings(BaseSettings):
    """The embedded stack that `cityline up` and the tests start as local processes."""

    model_config = SettingsConfigDict(env_prefix="CITYLINE_STACK_", extra="ignore")

    run_dir: Path = Path(".run")
    broker_port: int = 39092
    # Where the embedded broker keeps topics, records and committed offsets. "s3" (the default): Tansu's s3:// engine
    # on the embedded object store, files under the run folder, so what the broker acknowledged survives a kill of
    # either process. "memory": nothing survives a restart (the stages' reconciliation then repairs from the store what
    # had reached it); for tests that want the broker's full speed.
    broker_storage: Literal["s3", "memory"] = "s3"
    s3_port: int = 39094
    store_port: int = 37017
    # SecantusDB lives in its own virtual environment (GPL-2.0: the project only talks to it over the wire).
    secantusd: Path | None = None
    intake_port: int = 8000
    classifier_port: int = 8001
    dispatcher_port: int = 8002
    notifier_port: int = 8003
    console_port: int = 8004
    knowledge_port: int = 8005
    # Local stand-ins for the SMS gateway (and app webhooks) and the mail server; what they receive is in .run/outbox.
    sms_sink_port: int = 39025
    smtp_sink_port: int = 39026
    start_timeout_s: float = 60.0
