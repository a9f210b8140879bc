"""Settings: which bus and store adapters run, and their options.

One YAML file (``--settings``/``STORMWATCH_SETTINGS``); with none, everything is
embedded. Secrets are `SecretStr` (they print as ``**********``) and come from the
environment through ``${NAME}``.

Example::

    bus:
      adapter: kafka
      kafka:
        bootstrap_servers: [kafka-1:9092, kafka-2:9092]
        security_protocol: SASL_SSL
        sasl_mechanism: SCRAM-SHA-512
        username: stormwatch
        password: ${KAFKA_PASSWORD}
    store:
      adapter: elasticsearch
      elasticsearch:
        hosts: [https://es.internal:9200]
        api_key: ${ES_API_KEY}
        ca_file: /etc/stormwatch/ca.pem
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from core.config import ConfigError, load_model


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EmbeddedBusSettings(_Model):
    path: Path | None = None
    """SQLite file that keeps the log across restarts; none: in memory only (the
    `stormwatch` command's settings default it to ``state_dir/bus.db``)."""
    partitions: int = Field(default=4, ge=1, le=256)
    """Partitions of each topic the embedded bus creates."""


class KafkaSettings(_Model):
    bootstrap_servers: tuple[str, ...] = ("127.0.0.1:9092",)
    client_id: str = "stormwatch"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    username: str | None = None
    password: SecretStr | None = None
    ssl_cafile: Path | None = None
    topic_prefix: str = ""
    partitions: int = Field(default=6, ge=1)
    """Partitions of the topics stormwatch creates."""
    replication_factor: int = Field(default=1, ge=1)
    linger_ms: int = Field(default=5, ge=0)
    batch_size: int = Field(default=262_144, ge=1024)
    compression: Literal["gzip", "lz4", "snappy", "zstd"] | None = "lz4"
    session_timeout_ms: int = Field(default=10_000, ge=1000)
    request_timeout_s: float = Field(default=30.0, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    """How long to try the bootstrap servers before saying the bus is unreachable."""

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_port(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("at least one host:port is needed")
        for server in v:
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"{server!r} is not host:port")
        return v

    @model_validator(mode="after")
    def _sasl(self) -> Self:
        if self.security_protocol.startswith("SASL") and not self.sasl_mechanism:
            raise ValueError(f"security_protocol {self.security_protocol} needs sasl_mechanism")
        if self.sasl_mechanism and not (self.username and self.password):
            raise ValueError("sasl_mechanism needs username and password")
        return self


class BusSettings(_Model):
    adapter: Literal["embedded", "kafka"] = "embedded"
    embedded: EmbeddedBusSettings = EmbeddedBusSettings()
    kafka: KafkaSettings = KafkaSettings()


class EmbeddedStoreSettings(_Model):
    path: Path | None = None
    """SQLite file; none: in memory only (the `stormwatch` command's settings default it
    to ``state_dir/store.db``)."""


class ElasticsearchSettings(_Model):
    hosts: tuple[str, ...] = ("http://127.0.0.1:9200",)
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None
    verify_certs: bool = True
    index_prefix: str = "stormwatch"
    shards: int = Field(default=1, ge=1)
    replicas: int = Field(default=0, ge=0)
    request_timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("hosts")
    @classmethod
    def _urls(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("at least one URL is needed")
        for host in v:
            if "@" in host:  # checked first: the reason must not repeat a password
                raise ValueError(
                    "put credentials in username and password (or api_key), not in the URL"
                )
            if not host.startswith(("http://", "https://")):
                raise ValueError(f"{host!r} is not an http(s) URL")
        return v

    @model_validator(mode="after")
    def _auth(self) -> Self:
        if self.api_key and (self.username or self.password):
            raise ValueError("give either api_key or username/password, not both")
        if bool(self.username) != bool(self.password):
            raise ValueError("username and password go together")
        return self


class StoreSettings(_Model):
    adapter: Literal["embedded", "elasticsearch"] = "embedded"
    embedded: EmbeddedStoreSettings = EmbeddedStoreSettings()
    elasticsearch: ElasticsearchSettings = ElasticsearchSettings()


class Settings(_Model):
    bus: BusSettings = BusSettings()
    store: StoreSettings = StoreSettings()


SETTINGS_ENV = "STORMWATCH_SETTINGS"


def load_settings(path: str | Path | None = None) -> Settings:
    """Settings from ``path``, else from ``$STORMWATCH_SETTINGS``, else the embedded default.

    Raises `ConfigError` (file, line, setting, reason) on anything invalid.
    """
    chosen = path or os.environ.get(SETTINGS_ENV)
    if not chosen:
        return Settings()
    return load_model(Settings, chosen)


__all__ = [
    "BusSettings",
    "ConfigError",
    "ElasticsearchSettings",
    "EmbeddedBusSettings",
    "EmbeddedStoreSettings",
    "KafkaSettings",
    "Settings",
    "StoreSettings",
    "load_settings",
]
