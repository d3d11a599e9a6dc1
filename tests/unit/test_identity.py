import pytest

from edge.errors import Unauthorized
from edge.identity import GuestSigner, resolve_user
from edge.settings import Settings
from edge.tickets import TICKET_USER

KEYS = {"k1": "alice"}
SECRET = "s" * 32


def scope(
    headers: dict[str, str] | None = None,
    query: str = "",
    guest: str | None = None,
    ticket_user: str | None = None,
) -> dict[str, object]:
    state: dict[str, str] = {}
    if guest:
        state["relayline_guest"] = guest
    if ticket_user:
        state[TICKET_USER] = ticket_user
    return {
        "type": "http",
        "headers": [
            (name.lower().encode(), value.encode()) for name, value in (headers or {}).items()
        ],
        "query_string": query.encode(),
        "state": state,
    }


def test_bearer_key_maps_to_its_user() -> None:
    assert resolve_user(scope({"Authorization": "Bearer k1"}), KEYS, False) == "alice"


@pytest.mark.parametrize(
    "request_scope",
    [
        scope({"Authorization": "Bearer nope"}),
        scope({"Authorization": "Basic k1"}),
        scope(),
        scope(query="a=1&api_key=k1"),
        scope({"Authorization": "Bearer k1"}, query="api_key=k1"),
        scope(query="api_key=", guest="ab" * 16),
        scope(query="ticket=abc", guest="ab" * 16),
    ],
)
def test_bad_or_missing_keys_and_keys_in_urls_are_unauthorized(
    request_scope: dict[str, object],
) -> None:
    with pytest.raises(Unauthorized):
        resolve_user(request_scope, KEYS, True)


def test_guest_mode_uses_the_guest_id_but_never_overrides_a_key() -> None:
    assert resolve_user(scope(guest="ab" * 16), KEYS, True) == f"guest-{'ab' * 16}"
    with pytest.raises(Unauthorized):
        resolve_user(scope({"Authorization": "Bearer nope"}, guest="ab" * 16), KEYS, True)


def test_a_redeemed_ticket_stands_for_its_user_but_a_key_comes_first() -> None:
    assert resolve_user(scope(ticket_user="bob", guest="ab" * 16), KEYS, True) == "bob"
    assert resolve_user(scope({"Authorization": "Bearer k1"}, ticket_user="bob"), KEYS, False) == (
        "alice"
    )


def test_guest_ids_are_signed_and_only_signed_ids_verify() -> None:
    signer = GuestSigner(SECRET)
    guest = signer.new_id("10.0.0.1")
    signed = signer.sign(guest)
    assert signer.verify(signed) == guest
    mac = signed.partition(".")[2]
    other = signer.new_id("10.0.0.1")
    old_form = "ab" * 16  # before ids carried their address: signed, but no longer taken
    for forged in (
        signer.sign(old_form),
        signer.sign(f"{guest}-x"),
        signer.sign(guest.upper()),
        guest,
        f"{guest}.",
        f"{other}.{mac}",
        f"{guest}.{mac.upper()}",
        f"{guest}.{mac[:-1]}",
        GuestSigner("t" * 32).sign(guest),
        None,
        "",
        f"{guest.upper()}.{mac}",
        "é" * 40,
    ):
        assert signer.verify(forged) is None, forged


def test_a_guest_id_names_its_address_by_a_keyed_tag_only() -> None:
    signer = GuestSigner(SECRET)
    first, second = signer.new_id("10.0.0.1"), signer.new_id("10.0.0.1")
    tag, _, random = first.partition("-")
    assert second.startswith(f"{tag}-") and first != second
    assert len(tag) == 12 and len(random) == 32
    assert not signer.new_id("10.0.0.2").startswith(tag)
    assert not GuestSigner("t" * 32).new_id("10.0.0.1").startswith(tag)  # keyed by the secret
    assert "10.0.0.1" not in first


def test_a_short_guest_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        GuestSigner("short")


def test_api_keys_setting_is_parsed_strictly() -> None:
    assert Settings(api_keys="a:alice, b:bob").api_key_map() == {"a": "alice", "b": "bob"}
    with pytest.raises(ValueError, match="not 'key:user'"):
        Settings(api_keys="just-a-key").api_key_map()
    with pytest.raises(ValueError, match="names guests"):
        Settings(api_keys="a:alice, b:guest-0123456789ab-x").api_key_map()
