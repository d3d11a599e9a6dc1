import pytest

from edge.errors import Unauthorized
from edge.identity import resolve_user
from edge.settings import Settings

KEYS = {"k1": "alice"}


def scope(
    headers: dict[str, str] | None = None, query: str = "", guest: str | None = None
) -> dict[str, object]:
    result: dict[str, object] = {
        "type": "http",
        "headers": [
            (name.lower().encode(), value.encode()) for name, value in (headers or {}).items()
        ],
        "query_string": query.encode(),
    }
    if guest:
        result["state"] = {"relayline_guest": guest}
    return result


def test_bearer_key_and_query_key_map_to_users() -> None:
    assert resolve_user(scope({"Authorization": "Bearer k1"}), KEYS, False) == "alice"
    assert resolve_user(scope(query="a=1&api_key=k1"), KEYS, False) == "alice"


@pytest.mark.parametrize(
    "request_scope",
    [scope({"Authorization": "Bearer nope"}), scope({"Authorization": "Basic k1"}), scope()],
)
def test_bad_or_missing_keys_are_unauthorized(request_scope: dict[str, object]) -> None:
    with pytest.raises(Unauthorized):
        resolve_user(request_scope, KEYS, False)


def test_guest_mode_uses_the_guest_id_but_never_overrides_a_key() -> None:
    assert resolve_user(scope(guest="ab" * 16), KEYS, True) == f"guest-{'ab' * 16}"
    with pytest.raises(Unauthorized):
        resolve_user(scope({"Authorization": "Bearer nope"}, guest="ab" * 16), KEYS, True)


def test_api_keys_setting_is_parsed_strictly() -> None:
    assert Settings(api_keys="a:alice, b:bob").api_key_map() == {"a": "alice", "b": "bob"}
    with pytest.raises(ValueError, match="not 'key:user'"):
        Settings(api_keys="just-a-key").api_key_map()
