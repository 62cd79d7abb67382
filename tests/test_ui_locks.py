"""`scaffold ui`'s locks against near misses, through the real server: the token
must be the whole token, the Host and Origin exactly this server's. Each case is
one that a check looser than equality (a prefix, a substring, a case fold, a
parsed-and-repaired URL) would let through.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from scaffold.options import Options
from scaffold.ui.server import UiServer

from .test_ui_server import OPTIONS, call, new, post


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


# ---- paths: the page names files of the project, never other files ----

ENCODED_ESCAPES = [
    "/static/%2e%2e/server.py",
    "/static/%2E%2E/api.py",
    "/static/..%2fserver.py",
    "/static/%2e%2e%2fserver.py",
    "/static/.%2e/.%2e/__init__.py",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/static%2fapp.js",
    "/static/app.js/..",
    "/static/./app.js",
    "/static/app.js%00.html",
    "/STATIC/APP.JS",
]


@pytest.mark.parametrize("path", ENCODED_ESCAPES)
def test_an_encoded_or_dotted_page_path_serves_nothing(server, path):
    answer = call(server, "GET", f"{path}?token={server.token}")
    assert answer.status == 404, answer.body
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json == {"error": f"no GET {path} here"}


# Paths from the page that leave the project, or name it other than canonically, in
# POSIX and in Windows form: absolute, drive (and drive-relative), UNC, device,
# backslashed, with `..` percent-encoded as a server that decodes would read it.
FOREIGN_FILE_PATHS = [
    "/webtrainer/train.py",
    "/etc/passwd",
    "//server/share/webtrainer/train.py",
    "C:\\Windows\\win.ini",
    "c:/webtrainer/train.py",
    "c:webtrainer/train.py",
    "\\\\server\\share\\train.py",
    "\\\\?\\C:\\train.py",
    "\\webtrainer\\train.py",
    "webtrainer\\train.py",
    "webtrainer/../webtrainer/train.py",
    "webtrainer/./train.py",
    "webtrainer/train.py/",
    "webtrainer/train.py\0.txt",
]


@pytest.mark.parametrize("path", FOREIGN_FILE_PATHS)
def test_a_file_path_in_either_os_convention_that_leaves_the_project_is_refused(
    server, path
):
    answer = post(server, "/api/render", {"options": OPTIONS, "path": path})
    assert answer.status == 403, answer.body
    assert answer.json["error"].endswith("is not a path inside the project")


@pytest.mark.parametrize("path", ["%2e%2e/%2e%2e/etc/passwd", "webtrainer/%2e%2e"])
def test_a_percent_encoded_dot_dot_is_a_name_not_a_way_out(server, path):
    """The page's paths are JSON strings, never decoded again: an encoded `..` is
    a file name no render has, so the answer is the default file."""
    answer = post(server, "/api/render", {"options": OPTIONS, "path": path})
    assert answer.status == 200, answer.body
    assert answer.json["path"] == "webtrainer/train.py"


@pytest.mark.parametrize("target", ["elsewhere", "elsewhere/missing"])
def test_create_refuses_a_project_folder_that_links_out_of_the_output_folder(
    server, tmp_path, target
):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / OPTIONS["name"]).symlink_to(tmp_path / target)
    answer = post(server, "/api/create", {"options": OPTIONS})
    assert answer.status == 403, answer.body
    assert "is a link out of" in answer.json["error"]
    assert list((tmp_path / "elsewhere").iterdir()) == []
    assert [p.name for p in (tmp_path / "out").iterdir()] == [OPTIONS["name"]]


def test_create_follows_a_link_that_stays_in_the_output_folder(server, tmp_path):
    (tmp_path / "out" / "real").mkdir(parents=True)
    (tmp_path / "out" / OPTIONS["name"]).symlink_to("real")
    answer = post(server, "/api/create", {"options": OPTIONS})
    assert answer.status == 200, answer.body
    assert (tmp_path / "out" / "real" / ".scaffold.json").is_file()


def test_update_leaves_a_file_that_links_out_of_the_project_alone(serve, tmp_path):
    """The link and the file it points to stay as they are; the new version is
    written beside the link, inside the project."""
    edited = new(tmp_path / "projects", "webtrainer")
    outside = tmp_path / "outside.py"
    outside.write_text("# not the project's\n")
    linked = edited / "webtrainer" / "evaluation.py"
    linked.unlink()
    linked.symlink_to(outside)
    server = serve(edited)
    options = {**Options(name="webtrainer").to_record(), "metrics": ["topk"]}

    answer = post(server, "/api/update", {"options": options})

    assert answer.status == 200, answer.body
    skipped = {g["action"]: g["files"] for g in answer.json["report"]}["skipped"]
    assert skipped == [
        {"path": "webtrainer/evaluation.py", "target": "webtrainer/evaluation.py.new"}
    ]
    assert linked.is_symlink() and linked.readlink() == outside
    assert outside.read_text() == "# not the project's\n"
    assert (edited / "webtrainer" / "evaluation.py.new").is_file()
    assert list(tmp_path.glob("outside*")) == [outside]
