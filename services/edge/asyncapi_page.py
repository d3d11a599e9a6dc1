"""`/asyncapi`: the AsyncAPI document as a plain HTML page, rendered here from the document.

No offline AsyncAPI viewer is installed (the official one loads from a CDN), so the page is
built once, at start-up, from `contracts/schema/asyncapi.json`: channels, operations, and
messages with their JSON Schemas. Every text of the document is HTML-escaped; the page runs
no script and its Content-Security-Policy allows none.
"""

import json
from html import escape
from typing import Any

CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
_STYLE = """body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1f2328}code,pre{font:13px ui-monospace,monospace}pre{background:#f6f8fa;padding:.75rem;
overflow:auto;border-radius:6px}section{border-top:1px solid #d0d7de;margin-top:1.5rem}
h3 code{font-size:1rem}.action{text-transform:uppercase;font-size:12px;padding:1px 6px;
border-radius:4px;background:#ddf4ff}dt{font-weight:600}"""


def _name(reference: str) -> str:
    return reference.rsplit("/", 1)[-1]


def _link(reference: str) -> str:
    """A `$ref` inside the document as a link to its anchor on this page."""
    kind, name = reference.split("/")[-2:]
    return f'<a href="#{escape(kind)}-{escape(name)}"><code>{escape(name)}</code></a>'


def _pre(value: Any) -> str:
    return f"<pre>{escape(json.dumps(value, indent=2, ensure_ascii=False))}</pre>"


def _text(value: Any) -> str:
    return f"<p>{escape(str(value))}</p>" if value else ""


def _channels(document: dict[str, Any]) -> list[str]:
    parts = ["<h2>Channels</h2>"]
    for name, channel in document.get("channels", {}).items():
        messages = ", ".join(_link(m["$ref"]) for m in channel.get("messages", {}).values())
        parts += [
            f'<section id="channels-{escape(name)}"><h3><code>{escape(channel["address"])}</code>'
            f" {escape(channel.get('title', name))}</h3>",
            _text(channel.get("description")),
        ]
        if parameters := channel.get("parameters"):
            items = "".join(
                f"<dt><code>{escape(key)}</code></dt><dd>{escape(p.get('description', ''))}</dd>"
                for key, p in parameters.items()
            )
            parts.append(f"<dl>{items}</dl>")
        parts.append(f"<p>Messages: {messages}</p></section>")
    return parts


def _operations(document: dict[str, Any]) -> list[str]:
    parts = ["<h2>Operations</h2>"]
    for name, operation in document.get("operations", {}).items():
        messages = ", ".join(_link(_message_ref(m["$ref"])) for m in operation["messages"])
        parts += [
            f'<section id="operations-{escape(name)}"><h3><span class="action">'
            f"{escape(operation['action'])}</span> <code>{escape(name)}</code> on "
            f"{_link(operation['channel']['$ref'])}</h3>",
            _text(operation.get("summary")),
            f"<p>Messages: {messages}</p>",
        ]
        if reply := operation.get("reply"):
            replies = ", ".join(_link(_message_ref(m["$ref"])) for m in reply["messages"])
            parts.append(f"<p>Replies: {replies}</p>")
        parts.append("</section>")
    return parts


def _message_ref(reference: str) -> str:
    """`#/channels/x/messages/Name` → `#/components/messages/Name` (one anchor per message)."""
    return f"#/components/messages/{_name(reference)}"


def _messages(document: dict[str, Any]) -> list[str]:
    parts = ["<h2>Messages</h2>"]
    components = document.get("components", {})
    schemas = components.get("schemas", {})
    for name, message in components.get("messages", {}).items():
        payload = message.get("payload", {})
        schema = schemas.get(_name(payload.get("$ref", "")), payload)
        parts += [
            f'<section id="messages-{escape(name)}"><h3><code>{escape(message.get("name", name))}'
            f"</code> {escape(message.get('title', ''))}</h3>",
            _text(message.get("summary")),
            _text(message.get("description")),
            _pre(schema),
            "</section>",
        ]
    return parts


def _schemas(document: dict[str, Any]) -> list[str]:
    parts = ["<h2>Schemas</h2>"]
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        parts.append(
            f'<section id="schemas-{escape(name)}"><h3><code>{escape(name)}</code></h3>'
            f"{_pre(schema)}</section>"
        )
    return parts


def render(document: dict[str, Any], json_url: str) -> str:
    """The whole page."""
    info = document.get("info", {})
    title = escape(str(info.get("title", "AsyncAPI")))
    head = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        f"<p>AsyncAPI {escape(str(document.get('asyncapi', '')))}, version "
        f"{escape(str(info.get('version', '')))}. The document: "
        f'<a href="{escape(json_url)}"><code>{escape(json_url)}</code></a>; '
        'the HTTP API: <a href="/docs">/docs</a>.</p>',
        _text(info.get("description")),
    ]
    body = [*_channels(document), *_operations(document), *_messages(document)]
    return "".join([*head, *body, *_schemas(document), "</body></html>"])
