"""Host and Origin checks and the guest cookie's attributes, in process (no Redis needed: the
paths used here answer before any route touches the job store)."""

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from edge.main import create_app
from edge.settings import Settings

SECRET = "x" * 40
MISSING = "/v1/no-such-route"


def app_client(base_url: str = "http://testserver", **settings: object) -> TestClient:
    options = {"guest_mode": True, "guest_secret": SECRET, **settings}
    return TestClient(create_app(Settings(**options)), base_url=base_url)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost:8000", True),
        ("LOCALHOST", True),
        ("127.0.0.1:8000", True),
        ("[::1]:8000", True),
        ("testserver", True),  # the address the client connected to
        ("attacker.example", False),
        ("localhost.attacker.example", False),
        ("127.0.0.1.nip.io", False),
        ("user@localhost", False),
        ("localhost:notaport", False),
        ("", False),
    ],
)
def test_only_allowed_hosts_are_answered(host: str, allowed: bool) -> None:
    response = app_client().get(MISSING, headers={"Host": host})
    if allowed:
        assert response.status_code == 404
    else:
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "host_not_allowed"


def test_allowed_hosts_setting_adds_names_and_star_turns_the_check_off() -> None:
    named = app_client(allowed_hosts="relay.example.com")
    assert named.get(MISSING, headers={"Host": "relay.example.com"}).status_code == 404
    assert named.get(MISSING, headers={"Host": "localhost"}).status_code == 400
    anything = app_client(allowed_hosts="*")
    assert anything.get(MISSING, headers={"Host": "whatever.example"}).status_code == 404


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("http://localhost:8000", "localhost:8000", True),
        ("https://localhost", "localhost:443", True),
        ("http://localhost", "localhost", True),
        ("http://localhost:8001", "localhost:8000", False),
        ("https://evil.example", "localhost:8000", False),
        ("null", "localhost:8000", False),
        ("http://localhost:8000/path", "localhost:8000", False),
        ("http://localhost:8000@evil.example", "localhost:8000", False),
        ("file://", "localhost:8000", False),
        ("http://[::1", "localhost:8000", False),
    ],
)
def test_only_the_edges_own_origin_is_allowed(origin: str, host: str, allowed: bool) -> None:
    response = app_client().get(MISSING, headers={"Host": host, "Origin": origin})
    assert response.status_code == (404 if allowed else 403), response.text
    if not allowed:
        assert response.json()["error"]["code"] == "origin_not_allowed"


def test_allowed_origins_setting_admits_listed_origins() -> None:
    client = app_client(allowed_origins="https://app.example.com/, https://other.example")
    for origin in ("https://app.example.com", "https://OTHER.example"):
        assert client.get(MISSING, headers={"Origin": origin}).status_code == 404
    assert client.get(MISSING, headers={"Origin": "https://evil.example"}).status_code == 403


def test_a_foreign_origin_cannot_open_the_websocket_in_process() -> None:
    client = app_client()
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        client.websocket_connect("/v1/ws", headers={"Origin": "https://evil.example"}),
    ):
        pass
    assert refused.value.status_code == 403
    assert refused.value.json()["error"]["code"] == "origin_not_allowed"


def test_the_guest_cookie_is_signed_httponly_lax_and_secure_only_over_tls() -> None:
    plain = app_client().get(MISSING).headers["set-cookie"]
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    value = plain.split(";")[0].partition("=")[2]
    guest, _, mac = value.partition(".")
    assert len(guest) == 12 + 1 + 32 and len(mac) == 64
    over_tls = app_client(base_url="https://localhost").get(MISSING).headers["set-cookie"]
    assert "; Secure" in over_tls


def test_forwarded_proto_counts_only_when_proxy_headers_are_trusted() -> None:
    forwarded = {"X-Forwarded-Proto": "https"}
    untrusted = app_client().get(MISSING, headers=forwarded).headers["set-cookie"]
    assert "Secure" not in untrusted
    trusted = app_client(trust_proxy_headers=True).get(MISSING, headers=forwarded)
    assert "; Secure" in trusted.headers["set-cookie"]


def test_a_forwarded_host_counts_only_when_proxy_headers_are_trusted() -> None:
    headers = {"X-Forwarded-Host": "attacker.example"}
    assert app_client().get(MISSING, headers=headers).status_code == 404
    assert app_client(trust_proxy_headers=True).get(MISSING, headers=headers).status_code == 400


def test_a_request_with_a_key_gets_no_guest_cookie() -> None:
    response = app_client().get(MISSING, headers={"Authorization": "Bearer whatever"})
    assert "set-cookie" not in response.headers


def test_guest_mode_does_not_start_without_a_secret() -> None:
    with pytest.raises(RuntimeError, match="EDGE_GUEST_SECRET"):
        create_app(Settings(guest_mode=True))
    with pytest.raises(ValueError, match="at least 32"):
        create_app(Settings(guest_mode=True, guest_secret="short"))
    create_app(Settings(api_keys="k:alice"))  # keys only: no secret needed
    with pytest.raises(RuntimeError, match="nobody could use"):
        create_app(Settings())


def test_an_error_from_the_guest_minting_hook_is_the_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where limits on new guests hook in: an ApiError there answers the request."""
    from edge import identity
    from edge.errors import TooManyRequests

    async def refuse_new_guests(scope: object, signer: object) -> str:
        raise TooManyRequests("rate_limited", "too many new guests", {"Retry-After": "7"})

    monkeypatch.setattr(identity, "mint_guest", refuse_new_guests)
    response = app_client().get(MISSING)
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert "set-cookie" not in response.headers
    signer = identity.GuestSigner(SECRET)
    signed = signer.sign(signer.new_id("10.0.0.1"))
    existing = app_client().get(MISSING, headers={"Cookie": f"rl_guest={signed}"})
    assert existing.status_code == 404, "a known guest is not a new one"
