"""OpenAI's embeddings answer, built from a `job-end`'s JSON without parsing its output.

An embeddings output reaches 16 MiB; `json.loads` and `json.dumps` of it are single C calls
that hold the GIL for seconds on a busy machine, so a thread would not free the event loop.
The output is the embeddings engine's compact JSON (`pydantic_core.to_json`),
`{"embeddings":[[n,…],…],"dimensions":d}`: a vector holds only numbers, so `],[` separates
vectors, and each is copied into OpenAI's shape as it is. Base64 parses numbers vector by
vector, in Python steps that let the loop run.
"""

import array
import base64
import json
import re
from typing import Any

from edge.ends import OUTPUT_KEY

_HEAD = '{"embeddings":['
_TAIL = re.compile(r'\],"dimensions":(\d+)\}')


def split_end(data: str) -> tuple[dict[str, Any], str | None]:
    """A `job-end`'s fields but its output, parsed, and its output as raw JSON, when the
    output is its last field (as `edge.ends` delivers it); else all of it parsed, and None."""
    index = data.find(OUTPUT_KEY)
    if index < 0:
        return json.loads(data), None
    raw = data[index + len(OUTPUT_KEY) : -1]
    if not raw.startswith(_HEAD) or not _TAIL.search(raw[-32:]):
        return json.loads(data), None  # an older `job-end` holding its output inside
    head: dict[str, Any] = json.loads(data[:index].rstrip(",") + "}")
    return head, raw


def vectors_of(raw: str) -> tuple[list[str], int]:
    """The vectors of a raw embeddings output, each the text between its brackets, and its
    number of dimensions."""
    tail = raw.rfind('],"dimensions":')
    dimensions = int(raw[tail + len('],"dimensions":') : -1])
    inner = raw[len(_HEAD) : tail]
    return (inner[1:-1].split("],[") if inner else []), dimensions


def answer(vectors: list[str], encoding: str, model: str, usage: dict[str, Any]) -> bytes:
    """OpenAI's `{"object": "list", "data": [...], "model", "usage"}` as JSON bytes."""
    items = []
    for index, vector in enumerate(vectors):
        if encoding == "base64":
            packed = array.array("f", map(float, vector.split(","))).tobytes()
            embedding = f'"{base64.b64encode(packed).decode()}"'
        else:
            embedding = f"[{vector}]"
        items.append(f'{{"object":"embedding","index":{index},"embedding":{embedding}}}')
    tail = {
        "model": model,
        "usage": {
            "prompt_tokens": usage.get("prompt_tokens", 0),
            "total_tokens": usage.get("total_tokens", 0),
        },
    }
    rest = json.dumps(tail, ensure_ascii=False, separators=(",", ":"))[1:]
    return f'{{"object":"list","data":[{",".join(items)}],{rest}'.encode()
