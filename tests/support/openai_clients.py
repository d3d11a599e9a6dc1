"""`openai` clients for tests, closed after each test (tests/conftest.py): a client left to the
garbage collector leaves its socket open until then, and the `ResourceWarning` it raises
fails whichever later test the collection happens in."""

import openai

_OPEN: list[openai.OpenAI] = []


def openai_client(url: str, key: str = "alice-key") -> openai.OpenAI:
    """The official client at the edge `url` (its `/v1`), as `key`'s user, without retries."""
    api = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
    _OPEN.append(api)
    return api


def close_all() -> None:
    while _OPEN:
        _OPEN.pop().close()
