"""PROXY_HOPS: behind trusted proxies the client address, scheme and host are the forwarded ones; without
it the X-Forwarded-* headers are ignored, since any client can send them."""

from __future__ import annotations

import flask
import pytest

from components.request_guard import install_request_guard
from services.settings import Settings

PEER = "10.0.0.5"  # the proxy, as the app's socket sees it
CLIENT = "203.0.113.9"
PUBLIC = "bt.example.com"
INTERNAL = "127.0.0.1:8050"


def server(proxy_hops: int) -> flask.Flask:
    app = flask.Flask(__name__)
    install_request_guard(app, Settings(proxy_hops=proxy_hops, allowed_hosts=PUBLIC))

    @app.route("/whoami", methods=["GET", "POST"])
    def whoami():
        request = flask.request
        return {"client": request.remote_addr, "scheme": request.scheme, "host": request.host}

    return app


def ask(app: flask.Flask, method: str = "GET", **headers: str):
    client = app.test_client()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": PUBLIC} | headers
    return client.open(
        "/whoami",
        method=method,
        base_url=f"http://{INTERNAL}",
        headers=forwarded,
        environ_base={"REMOTE_ADDR": PEER},
    )


def test_one_trusted_proxy_gives_the_client_address_scheme_and_public_host() -> None:
    # The client wrote its own X-Forwarded-For entry; the proxy appended the address it saw.
    answer = ask(server(1), **{"X-Forwarded-For": f"6.6.6.6, {CLIENT}"})
    assert answer.status_code == 200
    assert answer.get_json() == {"client": CLIENT, "scheme": "https", "host": PUBLIC}


def test_without_proxy_hops_the_forwarded_headers_are_ignored() -> None:
    answer = ask(server(0), **{"X-Forwarded-For": CLIENT})
    assert answer.get_json() == {"client": PEER, "scheme": "http", "host": INTERNAL}


def test_behind_a_proxy_a_same_site_post_passes_the_origin_check_only_with_proxy_hops() -> None:
    origin = {"Origin": f"https://{PUBLIC}", "X-Forwarded-For": CLIENT}
    assert ask(server(1), "POST", **origin).status_code == 200
    # Without it the app compares the browser's Origin with the proxy's internal Host, and refuses.
    assert ask(server(0), "POST", **origin).status_code == 403


def test_a_forwarded_host_outside_allowed_hosts_is_refused() -> None:
    answer = ask(server(1), **{"X-Forwarded-Host": "attacker.example", "X-Forwarded-For": CLIENT})
    assert answer.status_code == 400 and b"ALLOWED_HOSTS" in answer.data


@pytest.mark.parametrize("hops", [-1, 6])
def test_proxy_hops_out_of_range_is_a_settings_error(hops: int) -> None:
    with pytest.raises(ValueError, match="proxy_hops"):
        Settings(proxy_hops=hops)
