"""Engine names to engine factories. Engines register explicitly; a name registered twice is
refused at start-up. Model libraries are imported only when their engine is built, so a
worker of the `simulated` pool never imports torch."""

import importlib

from contracts.pools import PoolConfig
from worker.engines.base import Engine, EngineFactory
from worker.errors import UnknownEngine

_BUILTIN = {
    "embeddings": "worker.engines.embeddings:EmbeddingsEngine",
    "openai": "worker.engines.openai_relay:OpenAIEngine",
    "simulated": "worker.engines.simulated:SimulatedEngine",
    "transformers": "worker.engines.huggingface:HuggingFaceEngine",
}


class Registry:
    def __init__(self) -> None:
        self._factories: dict[str, EngineFactory | str] = {}

    def register(self, name: str, factory: EngineFactory | str) -> None:
        """Register a factory, or a `module:attribute` path imported on first use."""
        if name in self._factories:
            raise ValueError(f"engine {name!r} is registered twice")
        self._factories[name] = factory

    def names(self) -> list[str]:
        return sorted(self._factories)

    def create(self, pool: PoolConfig) -> Engine:
        factory = self._factories.get(pool.engine)
        if factory is None:
            known = ", ".join(self.names())
            raise UnknownEngine(f"pool {pool.name!r} names engine {pool.engine!r}; known: {known}")
        if isinstance(factory, str):
            module_name, _, attribute = factory.partition(":")
            factory = getattr(importlib.import_module(module_name), attribute)
            self._factories[pool.engine] = factory
        return factory(pool)


def default_registry() -> Registry:
    registry = Registry()
    for name, target in _BUILTIN.items():
        registry.register(name, target)
    return registry
