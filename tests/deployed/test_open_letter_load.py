"""The "done means" check of the issue: 100 fresh visitors in a row, each on a connection of its
own and without cookies, GET /open-letter/ and POST its signing form with the token and cookie
of that GET, through gunicorn with the Procfile's 3 workers. Every POST must reach the "please
confirm" page: never a 403 (a token the worker does not accept) nor a 429.

Each visitor comes through the reverse proxy with an address of its own (X-Forwarded-For), as
in production, so the per-address throttle counts visitors, not the proxy.
"""

import collections
import http.client
import re
import secrets
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import redis

VISITORS = 100
LETTER = "/open-letter/"
TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
ACTION = re.compile(rb'<form method="post" action="([^"]+)"[^>]*id="sign-individual"')


def _visit(port: int, number: int) -> str:
    """One visitor: returns "" on success, else what went wrong."""
    forwarded = {"X-Forwarded-For": f"10.77.{number // 250}.{number % 250 + 1}"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request("GET", LETTER, headers=forwarded)
        response = connection.getresponse()
        body = response.read()
        cookies = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookies.load(header)
    finally:
        connection.close()
    if response.status != 200:
        return f"GET {response.status}"
    action, token = ACTION.search(body), TOKEN.search(body)
    if not (action and token and "csrftoken" in cookies):
        return "GET: no individual form, token or csrftoken cookie"
    form = {
        "csrfmiddlewaretoken": token.group(1).decode(),
        "kind": "individual",
        "ind-name": f"访客{number}",
        "ind-organisation": "负载测试",
        "ind-province": "11",
        "ind-email": f"load-{number}-{secrets.token_hex(3)}@example.net",
        "ind-privacy_consent": "on",
    }
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request(
            "POST",
            action.group(1).decode().replace("&amp;", "&"),
            body=urlencode(form),
            headers={
                **forwarded,
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={cookies['csrftoken'].value}",
                "Origin": f"http://127.0.0.1:{port}",
                "Referer": f"http://127.0.0.1:{port}{LETTER}",
            },
        )
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    location = response.headers.get("Location", "")
    if response.status in {302, 303} and location.endswith("/sign/thanks/"):
        return ""
    return f"POST {response.status} {location}".strip()


def test_hundred_fresh_visitors_sign_from_the_open_letter(stack):
    try:
        outcomes = [_visit(stack.port, number) for number in range(VISITORS)]
    finally:
        # Leave the throttle as it was for the journeys that sign after this test.
        client = redis.Redis.from_url(stack.redis.url)
        for key in client.scan_iter("*pledges:throttle:*"):
            client.delete(key)
        client.close()
    failures = [f"visitor {n}: {o}" for n, o in enumerate(outcomes) if o]
    summary = collections.Counter(o or "ok" for o in outcomes)
    assert not failures, f"{len(failures)} of {VISITORS} failed {dict(summary)}:\n" + "\n".join(
        failures[:10]
    )
