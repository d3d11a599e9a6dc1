"""The OpenAI embeddings answer built from a `job-end`'s raw output is the one the parsed
output gives, float and base64, for a `job-end` as `edge.ends` delivers it and an older one."""

import array
import base64
import json
from typing import Any

import pytest
from pydantic_core import to_json

from edge.embeddings_answer import answer, split_end, vectors_of
from edge.ends import with_output

VECTORS = [[0.1, -2.5e-07, 3.0, 1e20], [-0.0, 0.5, 2.0, -1.25]]
USAGE = {"prompt_tokens": 7, "total_tokens": 7}
END = json.dumps(
    {"seq": 4, "type": "job-end", "job_id": "a", "ts": 1.0, "status": "succeeded", "usage": USAGE},
    separators=(",", ":"),
)


def expected(vectors: list[list[float]], encoding: str) -> dict[str, Any]:
    def encode(vector: list[float]) -> Any:
        if encoding == "base64":
            return base64.b64encode(array.array("f", vector).tobytes()).decode()
        return vector

    data = [
        {"object": "embedding", "index": index, "embedding": encode(vector)}
        for index, vector in enumerate(vectors)
    ]
    return {"object": "list", "data": data, "model": "embed", "usage": USAGE}


@pytest.mark.parametrize("encoding", ["float", "base64"])
@pytest.mark.parametrize("vectors", [VECTORS, VECTORS[:1], []])
def test_the_answer_from_raw_output_is_the_parsed_ones(
    vectors: list[list[float]], encoding: str
) -> None:
    output = to_json({"embeddings": vectors, "dimensions": len(vectors[0]) if vectors else 0})
    end, raw = split_end(with_output(END, output.decode()))
    assert raw is not None and end["status"] == "succeeded" and end["usage"] == USAGE
    texts, dimensions = vectors_of(raw)
    assert dimensions == (4 if vectors else 0)
    content = answer(texts, encoding, "embed", end["usage"])
    assert json.loads(content) == expected(vectors, encoding)


def test_an_older_job_end_with_its_output_inside_is_parsed_whole() -> None:
    output = {"embeddings": VECTORS, "dimensions": 4}
    data = json.dumps({**json.loads(END), "output": output, "error": None})
    end, raw = split_end(data)
    assert raw is None and end["output"] == output


def test_a_chat_output_is_parsed_whole() -> None:
    end, raw = split_end(with_output(END, '{"text":"hi","finish_reason":"stop"}'))
    assert raw is None and end["output"] == {"text": "hi", "finish_reason": "stop"}
