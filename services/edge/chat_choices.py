"""The `choices` of a chat completion, from a chat job's output.

A job's output is `{"text", "finish_reason"}`, plus `choices` when the answer held more than
the first choice's text (an `openai`-engine pool forwarding `n`, `tools` or `logprobs`, see
`worker.engines.openai_choices`): each `{"index", "text", "finish_reason", "tool_calls",
"logprobs"}`. Streamed, the first choice's text has gone out as it came; the rest follows at
the end, one chunk per choice, then one chunk with every finish reason.
"""

from typing import Any


def _choices(output: dict[str, Any]) -> list[dict[str, Any]]:
    if isinstance(output.get("choices"), list):
        return list(output["choices"])
    text, finish = output.get("text", ""), output.get("finish_reason", "stop")
    return [{"index": 0, "text": text, "finish_reason": finish, "tool_calls": []}]


def _tool_calls(choice: dict[str, Any]) -> list[dict[str, Any]]:
    return list(choice.get("tool_calls") or [])


def completion_choices(output: dict[str, Any]) -> list[dict[str, Any]]:
    """The `choices` of a (not streamed) `chat.completion`."""
    answer = []
    for choice in _choices(output):
        calls = _tool_calls(choice)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": choice.get("text") or (None if calls else ""),
        }
        if calls:
            message["tool_calls"] = calls
        entry = {"index": choice["index"], "message": message, "logprobs": choice.get("logprobs")}
        answer.append({**entry, "finish_reason": choice.get("finish_reason", "stop")})
    return answer


def end_chunks(output: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The `choices` of each `chat.completion.chunk` sent at the end of a stream."""
    choices = _choices(output)
    chunks: list[list[dict[str, Any]]] = []
    if "choices" in output:
        for choice in choices:
            delta: dict[str, Any] = {}
            if choice["index"] != 0:  # the first one's text was streamed already
                delta = {"role": "assistant", "content": choice.get("text", "")}
            if calls := _tool_calls(choice):
                delta["tool_calls"] = [{"index": n, **call} for n, call in enumerate(calls)]
            entry = {"index": choice["index"], "delta": delta, "finish_reason": None}
            chunks.append([{**entry, "logprobs": choice.get("logprobs")}])
    finish = [
        {"index": choice["index"], "delta": {}, "finish_reason": choice.get("finish_reason")}
        for choice in choices
    ]
    return [*chunks, finish]
