"""`scaffold ui`'s locks against near misses, through the real server: the token
must be the whole token, the Host and Origin exactly this server's. Each case is
one that a check looser than equality (a prefix, a substring, a case fold, a
parsed-and-repaired URL) would let through.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from scaffold.ui.server import UiServer

from .test_ui_server import OPTIONS, call, post


@pytest.fixture
def server(serve) -> UiServer:
    return serve()


def near_misses(token: str, padded: bool = True) -> list[str]:
    """Every proper prefix and suffix of the token, the token with each character
    changed, in another case, percent-encoded, twice, and (`padded`) with a space
    before or after it, which in a header is no part of the value (RFC 9110)."""
    changed = [
        token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        for i in range(len(token))
    ]
    misses = [
        *(token[:n] for n in range(1, len(token))),
        *(token[n:] for n in range(1, len(token))),
        *changed,
        token.swapcase(),
        "".join(f"%{ord(c):02X}" for c in token),
        token + token,
        *([f" {token}", f"{token} "] if padded else []),
    ]
    return [miss for miss in misses if miss != token]


def test_no_near_miss_of_the_token_opens_the_api(server):
    for miss in near_misses(server.token, padded=False):
        answer = call(server, "GET", "/api/schema", token=miss)
        assert answer.status == 403, repr(miss)
    assert call(server, "GET", "/api/schema").status == 200


def test_no_near_miss_of_the_token_in_the_address_opens_the_page(server):
    for miss in near_misses(server.token):
        answer = call(server, "GET", f"/?token={quote(miss)}", token=None)
        assert answer.status == 403, repr(miss)
    # The same token, percent-encoded as a browser may send it, is the token.
    encoded = "".join(f"%{ord(c):02X}" for c in server.token)
    assert call(server, "GET", f"/?token={encoded}", token=None).status == 200


def test_the_token_in_the_address_and_a_wrong_one_in_the_header_is_refused(server):
    answer = call(server, "GET", f"/api/schema?token={server.token}", token="wrong")
    assert answer.status == 403


LOOK_ALIKE_HOSTS = [
    "127.0.0.1:{port}.evil.example",
    "127.0.0.1:{port}@evil.example",
    "evil.example@127.0.0.1:{port}",
    "127.0.0.1.:{port}",
    "localhost.:{port}",
    "127.0.0.1:0{port}",
    "127.0.0.1",
    "localhost",
    "127.0.0.2:{port}",
    "[::1]:{port}",
    "127.0.0.1:{port}:{port}",
]


@pytest.mark.parametrize("host", LOOK_ALIKE_HOSTS)
def test_a_host_that_only_looks_like_this_server_is_refused(server, tmp_path, host):
    headers = {"Host": host.format(port=server.port)}
    assert call(server, "GET", "/api/schema", headers=headers).status == 403
    answer = post(server, "/api/create", {"options": OPTIONS}, headers=headers)
    assert answer.status == 403
    assert not (tmp_path / "out").exists()


LOOK_ALIKE_ORIGINS = [
    "http://127.0.0.1:{port}.evil.example",
    "http://127.0.0.1:{port}@evil.example",
    "http://evil.example@127.0.0.1:{port}",
    "http://user@127.0.0.1:{port}",
    "http://127.0.0.1.:{port}",
    "http://localhost.:{port}",
    "http://127.0.0.1:{port}/",
    "http://127.0.0.1:{port} ",
    "http://127.0.0.1:0{port}",
    "http://127.0.0.1",
    "http://localhost:1",
    "http://127.0.0.1:{port}, http://evil.example",
    "ws://127.0.0.1:{port}",
    "null",
    "",
]


@pytest.mark.parametrize("origin", LOOK_ALIKE_ORIGINS)
def test_an_origin_that_only_looks_like_this_page_is_refused(server, tmp_path, origin):
    headers = {"Origin": origin.format(port=server.port)}
    answer = post(server, "/api/create", {"options": OPTIONS}, headers=headers)
    assert answer.status == 403, answer.body
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_this_servers_own_origins_are_accepted_under_either_name(server, host):
    headers = {"Origin": f"http://{host}:{server.port}"}
    assert call(server, "GET", "/api/schema", headers=headers).status == 200
