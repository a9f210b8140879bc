"""`ingest.api.JsonApi` against the real local server: rate-limit headers of every
platform, 429, error messages, secrets masked, bodies capped."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr

from core.clock import ManualClock
from ingest.api import ApiError, JsonApi
from tests.ingest.apiserver import ApiServer, Reply

TOKEN = SecretStr("s3cr3t-token-value")


def make(api: ApiServer, http: httpx.Client, clock: ManualClock, **kw: object) -> JsonApi:
    return JsonApi(
        http,
        api.url,
        clock=clock,
        user_agent="stormwatch-test/1",
        timeout=3,
        auth={"Authorization": SecretStr(f"Bearer {TOKEN.get_secret_value()}")},
        **kw,  # type: ignore[arg-type]
    )


def test_get_sends_auth_and_user_agent_and_drops_none_params(
    api: ApiServer, http: httpx.Client, clock: ManualClock
) -> None:
    api.routes["/v"] = lambda r: Reply({"ok": True})
    reply = make(api, http, clock).get("/v", {"q": "acme", "skip": None, "tags": ["a", "b"]})
    assert reply.data == {"ok": True}
    sent = api.calls("/v")[0]
    assert sent.headers["authorization"] == "Bearer s3cr3t-token-value"
    assert sent.headers["user-agent"] == "stormwatch-test/1"
    assert sent.query == {"q": ["acme"], "tags": ["a", "b"]}


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        # X: epoch seconds, measured against the response's Date (the fake's now)
        ({"x-rate-limit-remaining": "0", "x-rate-limit-reset": "+900"}, 900),
        # Reddit: seconds from now, remaining as a float
        ({"x-ratelimit-remaining": "0.0", "x-ratelimit-reset": "412"}, 412),
        # Mastodon: an ISO time
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "+300iso"}, 300),
        # Bluesky: the IETF draft names, an epoch
        ({"ratelimit-remaining": "0", "ratelimit-reset": "+60"}, 60),
        # nothing said about when: a minute
        ({"x-rate-limit-remaining": "0"}, 60),
    ],
)
def test_an_exhausted_limit_holds_every_request_until_the_reset(
    api: ApiServer, http: httpx.Client, clock: ManualClock, headers: dict[str, str], wait: int
) -> None:
    now = api.now
    resolved = {}
    for name, written in headers.items():
        value = written
        if written.endswith("iso"):
            value = (now + timedelta(seconds=int(written[1:-3]))).isoformat()
        elif written.startswith("+"):
            value = str(int(now.timestamp()) + int(written[1:]))
        resolved[name] = value
    api.routes["/v"] = lambda r: Reply({"ok": True}, headers=resolved)
    client = make(api, http, clock)
    client.get("/v")  # the last allowed request still answers
    assert client.hold() == pytest.approx(wait, abs=1)
    with pytest.raises(ApiError) as err:
        client.get("/v")
    assert err.value.status == 429 and err.value.retry_after == pytest.approx(wait, abs=1)
    assert len(api.calls("/v")) == 1  # held: nothing was sent
    clock.advance(wait + 1)
    assert client.hold() == 0
    client.get("/v")
    assert len(api.calls("/v")) == 2


def test_remaining_calls_do_not_hold(
    api: ApiServer, http: httpx.Client, clock: ManualClock
) -> None:
    api.routes["/v"] = lambda r: Reply({}, headers={"x-ratelimit-remaining": "99.0"})
    client = make(api, http, clock)
    client.get("/v")
    assert client.hold() == 0


def test_a_429_holds_for_retry_after(
    api: ApiServer, http: httpx.Client, clock: ManualClock
) -> None:
    api.routes["/v"] = lambda r: Reply(
        {"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429},
        429,
        {"Retry-After": "120"},
    )
    client = make(api, http, clock)
    with pytest.raises(ApiError) as err:
        client.get("/v")
    assert err.value.status == 429
    assert err.value.retry_after == 120
    assert err.value.reason == "HTTP 429 Too Many Requests"
    assert client.hold() == 120


@pytest.mark.parametrize(
    ("body", "reason", "code"),
    [
        (
            {"error": "The access token is invalid"},
            "HTTP 401 Unauthorized: The access token is invalid",
            "The access token is invalid",
        ),
        (
            {"error": "InvalidRequest", "message": "Bad query"},
            "HTTP 401 Unauthorized: Bad query",
            "InvalidRequest",
        ),
        (
            {
                "error": {
                    "code": 401,
                    "message": "API key not valid.",
                    "errors": [{"reason": "badRequest"}],
                }
            },
            "HTTP 401 Unauthorized: API key not valid.",
            "badRequest",
        ),
        (
            {"errors": [{"message": "Invalid since_id"}]},
            "HTTP 401 Unauthorized: Invalid since_id",
            None,
        ),
        (b"<html>oops</html>", "HTTP 401 Unauthorized", None),
    ],
)
def test_errors_carry_the_platforms_words(
    api: ApiServer,
    http: httpx.Client,
    clock: ManualClock,
    body: object,
    reason: str,
    code: str | None,
) -> None:
    api.routes["/v"] = lambda r: Reply(body, 401)
    with pytest.raises(ApiError) as err:
        make(api, http, clock).get("/v")
    assert err.value.reason == reason
    assert err.value.code == code
    assert err.value.status == 401


def test_secrets_are_masked_in_reasons(
    api: ApiServer, http: httpx.Client, clock: ManualClock
) -> None:
    # a platform that echoes the credential back must not get it into our logs
    api.routes["/v"] = lambda r: Reply({"error": f"token {TOKEN.get_secret_value()} revoked"}, 403)
    with pytest.raises(ApiError) as err:
        make(api, http, clock).get("/v")
    assert TOKEN.get_secret_value() not in str(err.value)
    assert err.value.reason == "HTTP 403 Forbidden: token *** revoked"


def test_secrets_are_masked_where_an_error_quotes_them_escaped(
    api: ApiServer, http: httpx.Client, clock: ManualClock
) -> None:
    # httpx refuses a header with a line break and quotes its bytes: b'Bearer s3cr3t\\n'
    broken = JsonApi(
        http,
        api.url,
        clock=clock,
        user_agent="t",
        timeout=3,
        auth={"Authorization": SecretStr("Bearer s3cr3t-token\n")},
    )
    with pytest.raises(ApiError) as err:
        broken.get("/v")
    assert "s3cr3t" not in str(err.value)
    assert "***" in str(err.value)


def test_a_transport_failure_and_non_json_are_api_errors(
    api: ApiServer, http: httpx.Client, clock: ManualClock, closed_port: int
) -> None:
    down = JsonApi(http, f"http://127.0.0.1:{closed_port}", clock=clock, user_agent="t", timeout=2)
    with pytest.raises(ApiError, match="ConnectError") as err:
        down.get("/v")
    assert err.value.status is None
    api.routes["/v"] = lambda r: Reply("not json", content_type="text/plain")
    with pytest.raises(ApiError, match="not JSON"):
        make(api, http, clock).get("/v")


def test_a_body_over_the_cap_is_refused(
    api: ApiServer, http: httpx.Client, clock: ManualClock
) -> None:
    api.routes["/v"] = lambda r: Reply({"x": "y" * 5000})
    with pytest.raises(ApiError, match="too large"):
        make(api, http, clock, max_bytes=1024).get("/v")
