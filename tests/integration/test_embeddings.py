"""The embeddings engine with the real all-MiniLM-L6-v2, offline, through the whole stack."""

import math

import pytest

from tests.support.client import assert_complete, submit, ws_follow
from tests.support.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.models]


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


async def test_embeddings_place_a_paraphrase_closer_than_an_unrelated_sentence(
    stack: Stack,
) -> None:
    edge = stack.edge()
    stack.worker("embed")
    texts = [
        "The cat sat on the mat.",
        "A cat was sitting on a rug.",
        "Quarterly revenue grew by eight percent.",
        "Stock markets closed higher today.",
        "The weather is sunny and warm.",
    ]
    job_id = submit(edge, model="embed", input={"texts": texts})
    events = await ws_follow(edge, job_id)
    assert_complete(events)
    progress = [(event["done"], event["total"]) for event in events if event["type"] == "progress"]
    assert progress == [(4, 5), (5, 5)]  # the test pool encodes in batches of 4
    end = events[-1]
    assert end["status"] == "succeeded", end
    vectors = end["output"]["embeddings"]
    assert end["output"]["dimensions"] == 384
    assert len(vectors) == 5 and all(len(vector) == 384 for vector in vectors)
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.3
    assert end["usage"]["prompt_tokens"] > 0
