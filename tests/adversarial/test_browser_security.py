"""Attacks a web page or a stolen URL can make on a user of a Relayline edge, each while a second
user (Bob) streams a job that must still reach `job-end` in time.

Cross-site WebSocket hijacking and cross-site SSE (a foreign `Origin`), DNS rebinding (a
foreign `Host`), a guest cookie claiming another guest's id, API keys in URLs, tickets that are
expired, forged, used twice or used for another purpose, and query strings in the access log.
"""

import hashlib
import json
import os
from collections.abc import Iterator

import pytest
import redis as redis_client
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from tests.adversarial.browser_support import (
    EVIL_ORIGIN,
    REBOUND_HOST,
    BrowserStack,
    alice_job,
    browser_stack,
    client,
    error_code,
    handshake,
    host,
    ticket,
    while_bob_streams,
)
from tests.support.stack import Edge, auth
from tests.support.wait import async_wait_for

pytestmark = pytest.mark.integration

CHAT = {"model": "slow", "input": {"messages": [{"role": "user", "content": "hi"}]}}


@pytest.fixture(scope="module")
def web(redis_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserStack]:
    with browser_stack(redis_server_url, tmp_path_factory.mktemp("browser")) as stack:
        yield stack


async def test_a_foreign_origin_cannot_open_the_websocket(web: BrowserStack) -> None:
    edge = web.edge
    async with while_bob_streams(edge):
        key = auth("alice")["Authorization"]
        for origin in (EVIL_ORIGIN, f"http://127.0.0.1:{edge.port + 1}", "null"):
            status, answer = await handshake(
                edge, {"Host": host(edge), "Origin": origin, "Authorization": key}
            )
            assert status == 403 and b"origin_not_allowed" in answer, answer
        # The same with a real client, and with a guest's cookie instead of a key.
        async with client(edge) as guest:
            await guest.get("/v1/models")
            cookie = f"rl_guest={guest.cookies['rl_guest']}"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                edge.ws_url, origin=Origin(EVIL_ORIGIN), additional_headers={"Cookie": cookie}
            ):
                pass
        assert refused.value.response.status_code == 403
        # The edge's own page may.
        async with connect(
            edge.ws_url, origin=Origin(web.own_origin), additional_headers={"Cookie": cookie}
        ) as own:
            await own.send('{"type": "ping"}')
            assert "pong" in str(await own.recv())


async def test_a_foreign_origin_cannot_read_events_or_submit(web: BrowserStack) -> None:
    edge = web.edge
    job_id = await alice_job(edge)
    async with while_bob_streams(edge), client(edge, headers=auth("alice")) as alice:
        evil = {"Origin": EVIL_ORIGIN}
        events = await alice.get(f"/v1/jobs/{job_id}/events", headers=evil)
        submitted = await alice.post("/v1/jobs", json=CHAT, headers=evil)
        tickets = await alice.post("/v1/tickets", json={"purpose": "ws"}, headers=evil)
        openai = await alice.post(
            "/v1/chat/completions",
            json={"model": "slow", "messages": [{"role": "user", "content": "hi"}]},
            headers=evil,
        )
        for response in (events, submitted, tickets):
            assert response.status_code == 403 and error_code(response) == "origin_not_allowed"
        assert openai.status_code == 403
        assert openai.json()["error"]["code"] == "origin_not_allowed"  # OpenAI's shape
        listed = await alice.get("/v1/jobs", params={"limit": 100})
        assert [job["id"] for job in listed.json()["data"]] == [job_id], "a job was submitted"
        own = await alice.get("/v1/models", headers={"Origin": web.own_origin})
        assert own.status_code == 200


async def test_a_foreign_origin_cannot_cancel_a_guests_job(web: BrowserStack) -> None:
    """Cancel takes no body, so JSON-only bodies do not protect it: the Origin check does
    (a form another page posts carries the guest's cookie on a same-site port)."""
    edge = web.edge
    async with while_bob_streams(edge), client(edge) as guest:
        job = await guest.post("/v1/jobs", json={**CHAT, "params": {"max_tokens": 400}})
        job_id = job.json()["id"]
        for origin in (EVIL_ORIGIN, f"http://localhost:{edge.port + 1}"):
            cancel = await guest.post(
                f"/v1/jobs/{job_id}/cancel",
                headers={"Origin": origin, "Content-Type": "application/x-www-form-urlencoded"},
            )
            assert cancel.status_code == 403 and error_code(cancel) == "origin_not_allowed"
        record = await guest.get(f"/v1/jobs/{job_id}")
        assert record.json()["status"] in ("queued", "running"), record.json()
        mine = await guest.post(f"/v1/jobs/{job_id}/cancel", headers={"Origin": web.own_origin})
        assert mine.status_code == 202


async def test_a_rebound_host_name_is_refused(web: BrowserStack) -> None:
    edge = web.edge
    async with while_bob_streams(edge), client(edge, headers=auth("alice")) as alice:
        for name in (REBOUND_HOST, f"{REBOUND_HOST}:{edge.port}", "localhost.attacker.example"):
            response = await alice.get("/v1/models", headers={"Host": name})
            assert response.status_code == 400, response.text
            assert error_code(response) == "host_not_allowed"
        # A rebound page is same-origin with itself: its Origin matches its Host, and still no.
        same = {"Host": REBOUND_HOST, "Origin": f"http://{REBOUND_HOST}"}
        status, answer = await handshake(edge, {**same, "Authorization": auth()["Authorization"]})
        assert status == 400 and b"host_not_allowed" in answer, answer
        for name in (f"localhost:{edge.port}", host(edge)):
            assert (await alice.get("/v1/models", headers={"Host": name})).status_code == 200


async def test_a_forged_guest_cookie_never_gets_the_claimed_identity(web: BrowserStack) -> None:
    edge = web.edge
    async with while_bob_streams(edge), client(edge) as victim:
        response = await victim.post("/v1/jobs", json={**CHAT, "params": {"max_tokens": 5}})
        job_id = response.json()["id"]
        guest_id, _, mac = victim.cookies["rl_guest"].partition(".")
        assert (await victim.get(f"/v1/jobs/{job_id}")).status_code == 200
        tampered = mac[:-1] + ("1" if mac[-1] == "0" else "0")
        other_mac = hashlib.sha256(b"another secret").hexdigest()
        forgeries = [guest_id, f"{guest_id}.", f"{guest_id}.{tampered}", f"{guest_id}.{other_mac}"]
        for forged in forgeries:
            async with client(edge, cookies={"rl_guest": forged}) as attacker:
                answer = await attacker.get(f"/v1/jobs/{job_id}")
                assert answer.status_code == 404 and error_code(answer) == "job_not_found"
                fresh = answer.cookies.get("rl_guest") or ""
                assert fresh and fresh.partition(".")[0] != guest_id, "the claimed id was kept"
                events = await attacker.get(f"/v1/jobs/{job_id}/events")
                assert events.status_code == 404 and error_code(events) == "job_not_found"
        cookie = {"Cookie": f"rl_guest={guest_id}"}
        async with connect(edge.ws_url, additional_headers=cookie) as socket:
            await socket.send(json.dumps({"type": "subscribe", "job_id": job_id, "ref": "r"}))
            reply = json.loads(await socket.recv())
            assert reply["type"] == "error" and reply["code"] == "job_not_found", reply


async def test_api_keys_in_urls_are_refused(web: BrowserStack) -> None:
    edge = web.edge
    job_id = await alice_job(edge)
    async with while_bob_streams(edge), client(edge) as anyone:
        for path in ("/v1/jobs", f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/events", "/v1/models"):
            response = await anyone.get(path, params={"api_key": "alice-key"})
            assert response.status_code == 401, (path, response.text)
            assert error_code(response) == "unauthorized"
            assert "not accepted in URLs" in response.json()["error"]["message"]
        # Not even next to a valid header: the key in the URL has leaked already.
        with_header = await anyone.get("/v1/jobs?api_key=x", headers=auth("alice"))
        assert with_header.status_code == 401
        status, _ = await handshake(edge, {"Host": host(edge)}, query="?api_key=alice-key")
        assert status != 101, "the WebSocket opened with a key in its URL"


async def test_a_ticket_opens_one_stream_of_its_purpose_once(web: BrowserStack) -> None:
    edge = web.edge
    job_id = await alice_job(edge)
    events_path = f"/v1/jobs/{job_id}/events"
    async with while_bob_streams(edge), client(edge) as anyone:
        # A valid ticket streams the job to its end, with no key and no cookie.
        events_ticket = await ticket(edge, "events")
        async with anyone.stream("GET", events_path, params={"ticket": events_ticket}) as stream:
            assert stream.status_code == 200
            body = "".join([chunk async for chunk in stream.aiter_text()])
        assert '"job-end"' in body
        # Used once: the same ticket again is refused.
        again = await anyone.get(events_path, params={"ticket": events_ticket})
        assert again.status_code == 401 and error_code(again) == "invalid_ticket"

        ws_ticket = await ticket(edge, "ws")
        async with connect(f"{edge.ws_url}?ticket={ws_ticket}") as socket:
            await socket.send(json.dumps({"type": "subscribe", "job_id": job_id, "after": 0}))
            first = json.loads(await socket.recv())
            assert first["type"] == "subscribed", first
        status, answer = await handshake(edge, {"Host": host(edge)}, query=f"?ticket={ws_ticket}")
        assert status == 401 and b"invalid_ticket" in answer, answer

        # Another purpose: a WebSocket ticket on SSE, an SSE ticket on the WebSocket.
        wrong = await anyone.get(events_path, params={"ticket": await ticket(edge, "ws")})
        assert wrong.status_code == 401 and error_code(wrong) == "invalid_ticket"
        status, _ = await handshake(
            edge, {"Host": host(edge)}, query=f"?ticket={await ticket(edge, 'events')}"
        )
        assert status == 401
        # Anywhere else, or as a key, a ticket is nothing.
        elsewhere = await ticket(edge, "events")
        for response in (
            await anyone.get(f"/v1/jobs/{job_id}", params={"ticket": elsewhere}),
            await anyone.post("/v1/tickets", json={"purpose": "ws"}, params={"ticket": elsewhere}),
            await anyone.get(
                f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {elsewhere}"}
            ),
        ):
            assert response.status_code == 401, response.text
        # Bob's ticket opens Bob's streams, never Alice's job.
        bobs = await anyone.get(events_path, params={"ticket": await ticket(edge, "events", "bob")})
        assert bobs.status_code == 404 and error_code(bobs) == "job_not_found"


async def test_forged_and_expired_tickets_are_refused(web: BrowserStack) -> None:
    edge = web.edge
    job_id = await alice_job(edge)
    events_path = f"/v1/jobs/{job_id}/events"
    redis = web.stack.redis()
    async with while_bob_streams(edge), client(edge) as anyone:
        for forged in ("A" * 43, "x", "../" * 20, "é" * 43, "", "A" * 5000, "\x00" * 43):
            response = await anyone.get(events_path, params={"ticket": forged})
            assert response.status_code == 401 and error_code(response) == "invalid_ticket"
        # Two tickets at once are none: the edge does not guess which one is meant.
        pair: list[tuple[str, str | int | float | bool | None]] = [
            ("ticket", await ticket(edge, "events")),
            ("ticket", await ticket(edge, "events")),
        ]
        doubled = await anyone.get(events_path, params=pair)
        assert doubled.status_code == 401 and error_code(doubled) == "invalid_ticket"
        expiring = await ticket(edge, "events")
        key = web.stack.keys.ticket(hashlib.sha256(expiring.encode()).hexdigest())
        assert 0 < redis.ttl(key) <= 60, "a ticket is stored without its expiry"
        redis.pexpire(key, 1)
        await async_wait_for(lambda: _gone(redis, key), what="the ticket to expire")
        expired = await anyone.get(events_path, params={"ticket": expiring})
        assert expired.status_code == 401 and error_code(expired) == "invalid_ticket"
    redis.close()


async def _gone(redis: "redis_client.Redis", key: str) -> bool:
    return not redis.exists(key)


async def test_no_query_string_reaches_the_access_log(web: BrowserStack) -> None:
    edge = web.edge
    job_id = await alice_job(edge)
    marker = f"secret{os.urandom(8).hex()}"
    async with while_bob_streams(edge), client(edge) as anyone:
        await anyone.get(f"/v1/jobs/{job_id}/events", params={"ticket": f"{marker}A" * 2})
        await anyone.get("/v1/jobs", params={"api_key": marker, "cursor": marker})
        await handshake(edge, {"Host": host(edge)}, query=f"?api_key={marker}")
        ws_ticket = await ticket(edge, "ws")
        async with connect(f"{edge.ws_url}?ticket={ws_ticket}&note={marker}"):
            pass
        last = f"/v1/last-{os.urandom(8).hex()}"  # the path is logged, so it shows the log is done
        await anyone.get(last, params={"anything": marker})
        await async_wait_for(lambda: _logged(edge, last), what="the access log to be written")
    log = edge.log()
    assert marker not in log and ws_ticket not in log, log[-3000:]
    assert "/v1/jobs?[redacted]" in log and f"{last}?[redacted]" in log


async def _logged(edge: Edge, text: str) -> bool:
    return text in edge.log()


async def test_form_and_text_bodies_stay_refused(web: BrowserStack) -> None:
    """CSRF: a form or `text/plain` post (what a page of another site can send without a
    preflight) is refused, with the guest's cookie and without any Origin."""
    edge = web.edge
    async with while_bob_streams(edge), client(edge) as guest:
        await guest.get("/v1/models")
        json_text = '{"model": "slow", "input": {"messages": [{"role": "user", "content": "x"}]}}'
        form = {"model": "slow", "input": "x"}
        for path, openai_shape in (
            ("/v1/jobs", False),
            ("/v1/tickets", False),
            ("/v1/chat/completions", True),
            ("/v1/embeddings", True),
        ):
            as_form = await guest.post(path, data=form)
            as_text = await guest.post(
                path, content=json_text, headers={"Content-Type": "text/plain"}
            )
            for response in (as_form, as_text):
                assert response.status_code == (400 if openai_shape else 422), response.text
                assert "error" in response.json()
        listed = await guest.get("/v1/jobs")
        assert listed.json()["data"] == [], "a cross-site body made a job"
