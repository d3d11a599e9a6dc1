import pytest

from contracts.pools import ModelKind, PoolConfig
from worker.engines.registry import Registry, default_registry
from worker.engines.simulated import SimulatedEngine
from worker.errors import UnknownEngine


def pool(engine: str) -> PoolConfig:
    return PoolConfig(name="p", kind=ModelKind.chat, engine=engine)


def test_builtin_engines_are_registered_and_built_lazily() -> None:
    registry = default_registry()
    assert registry.names() == ["embeddings", "openai", "simulated", "transformers"]
    assert isinstance(registry.create(pool("simulated")), SimulatedEngine)


def test_a_name_registered_twice_is_refused() -> None:
    registry = default_registry()
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("simulated", SimulatedEngine)


def test_an_unknown_engine_names_the_known_ones() -> None:
    with pytest.raises(UnknownEngine, match="known: embeddings, openai, simulated, transformers"):
        default_registry().create(pool("nope"))
    assert Registry().names() == []
