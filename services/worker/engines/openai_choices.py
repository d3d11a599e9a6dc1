"""What an OpenAI-compatible server streams back, gathered choice by choice.

A streamed chunk holds deltas of any number of choices (`n` > 1), each with text, pieces of
tool calls (`tool_calls[i].function.arguments` arrives in fragments) and `logprobs`. The
first choice's text is the job's text (its `text-delta` events and `output.text`); the
rest is kept for the job's `output.choices`, written only when the answer holds more than
that text (other choices, tool calls or logprobs), so a plain answer looks as it always did.
Everything gathered counts against the pool's output cap (`room`, in stored JSON bytes).
"""

from dataclasses import dataclass, field
from typing import Any

from contracts.errors import ErrorCode
from contracts.events import Usage
from worker.engines.base import fit_text, output_size, text_size
from worker.errors import EngineError


@dataclass(slots=True)
class _Call:
    id: str = ""
    type: str = "function"
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def output(self) -> dict[str, Any]:
        function = {"name": self.name, "arguments": "".join(self.arguments)}
        return {"id": self.id, "type": self.type, "function": function}


@dataclass(slots=True)
class _Choice:
    parts: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    calls: dict[int, _Call] = field(default_factory=dict)
    logprobs: list[Any] | None = None


class Choices:
    """The choices of one streamed answer, gathered under `room` bytes."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.choices: dict[int, _Choice] = {0: _Choice()}
        self.usage: Usage | None = None
        self.cut = False
        """The cap was reached: stop reading, finish with `length`."""

    def add(self, chunk: Any) -> str:
        """One parsed chunk; returns the first choice's new text (as much as fits)."""
        if not isinstance(chunk, dict):
            raise TypeError("a chunk is a JSON object")
        if "error" in chunk:  # a failure after the stream started
            error = chunk["error"] if isinstance(chunk["error"], dict) else {}
            raise EngineError(
                f"the upstream failed mid-answer: {str(error.get('message', ''))[:300]}",
                ErrorCode.upstream_error,
            )
        if chunk.get("usage"):
            self.usage = Usage(**{k: int(chunk["usage"].get(k, 0)) for k in Usage.model_fields})
        text = ""
        for delta_choice in chunk.get("choices") or []:
            text += self._add_choice(delta_choice)
        return text

    def _add_choice(self, delta_choice: dict[str, Any]) -> str:
        index = int(delta_choice.get("index", 0))
        choice = self.choices.setdefault(index, _Choice())
        if finish := delta_choice.get("finish_reason"):
            choice.finish_reason = str(finish)
        delta = delta_choice.get("delta") or {}
        content = str(delta.get("content") or "")
        kept = self._take(content)
        if kept:
            choice.parts.append(kept)
        for call_delta in delta.get("tool_calls") or []:
            self._add_call(choice, call_delta)
        logprobs = (delta_choice.get("logprobs") or {}).get("content")
        if logprobs and self._fits(output_size(logprobs)):
            choice.logprobs = (choice.logprobs or []) + list(logprobs)
        return kept if index == 0 else ""

    def _add_call(self, choice: _Choice, delta: dict[str, Any]) -> None:
        call = choice.calls.setdefault(int(delta.get("index", 0)), _Call())
        call.id = str(delta.get("id") or call.id)
        call.type = str(delta.get("type") or call.type)
        function = delta.get("function") or {}
        if name := function.get("name"):
            call.name += self._take(str(name))
        if arguments := function.get("arguments"):
            call.arguments.append(self._take(str(arguments)))

    def _take(self, text: str) -> str:
        kept = fit_text(text, self.room)
        self.room -= text_size(kept)
        if kept != text:
            self.cut = True
        return kept

    def _fits(self, size: int) -> bool:
        if size > self.room:
            self.cut = True
            return False
        self.room -= size
        return True

    def output(self) -> dict[str, Any]:
        """The job's output: the first choice's text and finish reason, and `choices` when
        the answer holds more than that."""
        first = self.choices[0]
        finish = "length" if self.cut else first.finish_reason or "stop"
        output: dict[str, Any] = {"text": "".join(first.parts), "finish_reason": finish}
        extra = len(self.choices) > 1 or any(
            choice.calls or choice.logprobs is not None for choice in self.choices.values()
        )
        if extra:
            output["choices"] = [
                self._choice_output(index, choice, finish if index == 0 else None)
                for index, choice in sorted(self.choices.items())
            ]
        return output

    def _choice_output(self, index: int, choice: _Choice, finish: str | None) -> dict[str, Any]:
        reason = finish or ("length" if self.cut else choice.finish_reason or "stop")
        return {
            "index": index,
            "text": "".join(choice.parts),
            "finish_reason": reason,
            "tool_calls": [call.output() for _, call in sorted(choice.calls.items())],
            "logprobs": None if choice.logprobs is None else {"content": choice.logprobs},
        }
