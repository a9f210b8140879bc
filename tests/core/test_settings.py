from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from core.config import ConfigError, DurationTooLong, parse_duration
from core.settings import Settings, load_settings


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "stormwatch.yaml"
    p.write_text(text)
    return p


def test_no_file_means_everything_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORMWATCH_SETTINGS", raising=False)
    s = load_settings(None)
    assert s == Settings()
    assert s.bus.adapter == "embedded" and s.store.adapter == "embedded"


def test_a_full_production_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_PASSWORD", "s3cret-kafka")
    monkeypatch.setenv("ES_API_KEY", "s3cret-es")
    p = write(
        tmp_path,
        """
bus:
  adapter: kafka
  kafka:
    bootstrap_servers: [k1:9092, k2:9092]
    security_protocol: SASL_SSL
    sasl_mechanism: SCRAM-SHA-512
    username: stormwatch
    password: ${KAFKA_PASSWORD}
store:
  adapter: elasticsearch
  elasticsearch:
    hosts: [https://es:9200]
    api_key: ${ES_API_KEY}
""",
    )
    s = load_settings(p)
    assert s.bus.kafka.bootstrap_servers == ("k1:9092", "k2:9092")
    assert s.bus.kafka.password is not None
    assert s.bus.kafka.password.get_secret_value() == "s3cret-kafka"
    assert "s3cret" not in repr(s) and "s3cret" not in str(s)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "bus:\n  adapter: rabbit\n",
            ":2: bus.adapter: Input should be 'embedded' or 'kafka' (got 'rabbit')",
        ),
        (
            "store:\n  adapter: solr\n",
            ":2: store.adapter: Input should be 'embedded' or 'elasticsearch'",
        ),
        (
            "bus:\n  kafka:\n    partitions: many\n",
            ":3: bus.kafka.partitions: Input should be a valid integer",
        ),
        (
            "bus:\n  kafka:\n    bootstrap_servers: [localhost]\n",
            ":3: bus.kafka.bootstrap_servers: Value error, 'localhost' is not host:port",
        ),
        ("bus:\n  kafkaa: {}\n", ":2: bus.kafkaa: unknown setting"),
        (
            "store:\n  elasticsearch:\n    hosts: [es:9200]\n",
            ":3: store.elasticsearch.hosts: Value error, 'es:9200' is not an http(s) URL",
        ),
        (
            "bus:\n  kafka:\n    password: ${NOPE_NOT_SET}\n",
            ":3: bus.kafka.password: environment variable NOPE_NOT_SET is not set",
        ),
        ("bus: [\n", "not valid YAML"),
        ("bus:\n  adapter: kafka\n  adapter: embedded\n", ":3: bus.adapter: duplicate key"),
        (
            "bus:\n  kafka:\n    security_protocol: SASL_SSL\n",
            ":2: bus.kafka: Value error, security_protocol SASL_SSL needs sasl_mechanism",
        ),
        (
            "bus:\n  kafka:\n    password: [1, 2]\n",
            ":3: bus.kafka.password: Input should be a valid string",
        ),
        # a blank value is null, as safe_load reads it (it was a bare PyYAML traceback)
        ("bus:\n  kafka:\n    client_id:\n", ":3: bus.kafka.client_id: Input should be a valid"),
    ],
)
def test_bad_settings_name_file_line_and_setting(tmp_path: Path, text: str, expected: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(p)
    message = str(info.value)
    assert message.startswith(str(p))
    assert expected in message
    assert "\n" not in message


def test_secret_values_never_appear_in_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PW", "hunter2-secret")
    p = write(tmp_path, "store:\n  elasticsearch:\n    password: ${PW}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(p)
    assert "hunter2" not in str(info.value)
    assert "username and password go together" in str(info.value)


def test_a_password_in_an_elasticsearch_url_is_refused_unrepeated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for url in ("https://elastic:S3cretPw@es.internal:9200", "elastic:S3cretPw@es:9200"):
        monkeypatch.setenv("ES_URL", url)
        p = write(tmp_path, "store:\n  elasticsearch:\n    hosts: ['${ES_URL}']\n")
        with pytest.raises(ConfigError) as info:
            load_settings(p)
        assert "S3cretPw" not in str(info.value)
        assert "put credentials in username and password (or api_key)" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "nope.yaml")


def test_a_file_not_in_utf8_names_its_line(tmp_path: Path) -> None:
    # an editor saving Latin-1: a message, not a UnicodeDecodeError traceback
    p = tmp_path / "stormwatch.yaml"
    p.write_bytes("bus:\n  kafka:\n    client_id: R\u00fcckruf\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_settings(p)
    assert str(info.value) == f"{p}:3: not UTF-8 text (byte 0xfc): save it as UTF-8"


def test_durations_past_ten_years_are_refused() -> None:
    assert parse_duration("3650d") == timedelta(days=3650)
    for value in ("3651d", "99999999999d", float("inf"), float("nan")):
        with pytest.raises(DurationTooLong, match="is longer than 3650 days"):
            parse_duration(value)
