"""`scaffold ui`'s server through a plain HTTP client: every endpoint, every refusal
(token, Host, Origin, paths), loopback only, and Create / Update equal to the CLI's."""

from __future__ import annotations

import dataclasses
import difflib
import http.client
import io
import json
import shutil
import signal
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaffold.cli import app
from scaffold.options import Options
from scaffold.project import read_record
from scaffold.registry import DATA_KINDS, DEFAULT_TASK, FEATURES, METRICS, TASKS
from scaffold.render import render
from scaffold.ui.server import TOKEN_HEADER, UiServer

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()
POSTS = ["/api/render", "/api/create", "/api/plan", "/api/update", "/api/download"]


@dataclasses.dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


def call(
    server: UiServer,
    method: str,
    path: str,
    body=None,
    token: str | None = "right",
    headers: dict[str, str] | None = None,
) -> Answer:
    """One request; token "right" sends the server's token in the header."""
    sent = {"Content-Type": "application/json"}
    if token is not None:
        sent[TOKEN_HEADER] = server.token if token == "right" else token
    sent.update(headers or {})
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    data = None if body is None else json.dumps(body).encode()
    connection.request(method, path, body=data, headers=sent)
    response = connection.getresponse()
    answer = Answer(response.status, response.headers, response.read())
    connection.close()
    return answer


def post(server: UiServer, path: str, body, **kwargs) -> Answer:
    return call(server, "POST", path, body, **kwargs)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def new(output_dir: Path, *args: str) -> Path:
    result = runner.invoke(app, ["new", *args, "--output-dir", str(output_dir)])
    assert result.exit_code == 0, result.output
    return output_dir / args[0]


OPTIONS = {"name": "webtrainer", "metrics": ["accuracy", "topk"], "checkpoint": True}


# ---- who may ask ----


def test_the_page_and_its_files_need_the_token_in_the_address(serve):
    server = serve()
    page = call(server, "GET", f"/?token={server.token}", token=None)
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert f'content="{server.token}"' in page.body.decode()
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    for path in ("/static/app.js", "/static/style.css"):
        assert call(server, "GET", f"{path}?token={server.token}").status == 200
        assert call(server, "GET", path).status == 403
    assert call(server, "GET", "/", token=None).status == 403
    assert call(server, "GET", "/?token=guess", token=None).status == 403
    # Nothing else under the package is served, whatever the path says.
    escape = f"/static/../server.py?token={server.token}"
    assert call(server, "GET", escape).status == 404


@pytest.mark.parametrize("token", [None, "", "wrong", "x" * 43])
def test_every_api_call_without_the_right_token_is_refused(serve, tmp_path, token):
    server = serve()
    assert call(server, "GET", "/api/schema", token=token).status == 403
    for path in POSTS:
        answer = post(server, path, {"options": OPTIONS}, token=token)
        assert answer.status == 403, path
        assert "token" in answer.json["error"]
    assert not (tmp_path / "out").exists()


def test_the_token_in_the_address_does_not_open_the_api(serve):
    server = serve()
    answer = call(server, "GET", f"/api/schema?token={server.token}", token=None)
    assert answer.status == 403


@pytest.mark.parametrize(
    "host",
    ["evil.example:{port}", "evil.example", "127.0.0.1:1", "10.0.0.1:{port}", ""],
)
def test_a_foreign_host_is_refused_against_dns_rebinding(serve, tmp_path, host):
    server = serve()
    headers = {"Host": host.format(port=server.port)}
    assert call(server, "GET", "/api/schema", headers=headers).status == 403
    answer = post(server, "/api/create", {"options": OPTIONS}, headers=headers)
    assert answer.status == 403
    assert "Host" in answer.json["error"]
    assert not (tmp_path / "out").exists()


def test_localhost_by_name_is_this_server(serve):
    server = serve()
    headers = {"Host": f"localhost:{server.port}"}
    assert call(server, "GET", "/api/schema", headers=headers).status == 200


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "null",
        "http://127.0.0.1:1",
        "https://127.0.0.1",
        "127.0.0.1:{port}",
        "https://127.0.0.1:{port}",
    ],
)
def test_a_request_from_another_site_is_refused(serve, tmp_path, origin):
    server = serve()
    headers = {"Origin": origin.format(port=server.port)}
    answer = post(server, "/api/create", {"options": OPTIONS}, headers=headers)
    assert answer.status == 403
    assert not (tmp_path / "out").exists()


def test_the_page_own_origin_is_accepted(serve, tmp_path):
    server = serve()
    for origin in (
        f"http://127.0.0.1:{server.port}",
        f"http://localhost:{server.port}",
    ):
        answer = post(
            server, "/api/render", {"options": OPTIONS}, headers={"Origin": origin}
        )
        assert answer.status == 200, answer.body


def non_loopback_addresses() -> set[str]:
    """Every address of this machine but the loopback ones: `ip`, and the host name."""
    found: set[str] = set()
    try:
        listing = subprocess.run(
            ["ip", "-o", "addr"], capture_output=True, text=True, check=False
        ).stdout
    except FileNotFoundError:
        listing = ""
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[2] in ("inet", "inet6"):
            found.add(fields[3].split("/")[0])
    try:
        for *_, address in socket.getaddrinfo(socket.gethostname(), None):
            found.add(str(address[0]).split("%")[0])
    except socket.gaierror:
        pass
    return {a for a in found if not a.startswith("127.") and a not in ("::1", "")}


def test_it_listens_on_the_loopback_address_only(serve):
    server = serve()
    assert server.socket.getsockname()[0] == "127.0.0.1"
    addresses = non_loopback_addresses()
    if not addresses:
        pytest.skip("this machine has no address but the loopback one")
    for address in addresses:
        if address.startswith("fe80:"):
            continue  # link-local: connecting needs the interface as well
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.settimeout(5)
            with pytest.raises(OSError):
                probe.connect((address, server.port))
                pytest.fail(f"reached the server on {address}")


# ---- what it answers ----


def test_schema_is_the_registry_and_the_default_options(serve, tmp_path):
    server = serve()
    schema = call(server, "GET", "/api/schema").json
    assert schema["mode"] == "new"
    assert schema["output_dir"] == str((tmp_path / "out").resolve())
    assert [d["name"] for d in schema["data"]] == list(DATA_KINDS)
    assert [m["name"] for m in schema["metrics"]] == list(METRICS)
    assert [m["summary"] for m in schema["metrics"]] == [
        spec.summary for spec in METRICS.values()
    ]
    assert [f["name"] for f in schema["features"]] == list(FEATURES)
    assert schema["options"] == Options(name="mytrainer").to_record()


def test_schema_carries_the_tasks_and_the_data_and_metrics_of_each(serve):
    server = serve()
    schema = call(server, "GET", "/api/schema").json
    assert schema["tasks"] == [
        {
            "name": task.name,
            "summary": task.summary,
            "data": task.data,
            "metrics": list(task.metrics),
        }
        for task in TASKS.values()
    ]
    assert schema["options"]["task"] == DEFAULT_TASK
    for task in TASKS:
        kinds = [d["name"] for d in schema["data"] if d["task"] == task]
        assert kinds == [k for k, spec in DATA_KINDS.items() if spec.task == task]
        metrics = [m["name"] for m in schema["metrics"] if task in m["tasks"]]
        assert metrics == [n for n, spec in METRICS.items() if task in spec.tasks]
    # What the page sends for a task: its name, the data and metrics left to it.
    for task in TASKS.values():
        options = {"name": "webtrainer", "task": task.name}
        answer = post(server, "/api/render", {"options": options, "all": True})
        assert answer.status == 200, answer.json
        chosen = Options(name="webtrainer", task=task.name)
        assert (chosen.data, chosen.metrics) == (task.data, task.metrics)
        assert answer.json["texts"] == render(chosen)
    task, (kind, spec) = list(TASKS)[-1], next(iter(DATA_KINDS.items()))
    assert spec.task != task
    mixed = {"name": "t", "task": task, "data": kind}
    answer = post(server, "/api/render", {"options": mixed})
    assert answer.status == 400
    assert f"data kind {kind!r} is for {spec.task}" in answer.json["error"]


def test_render_answers_the_file_list_and_one_file(serve):
    server = serve()
    expected = render(Options.from_record(OPTIONS))
    answer = post(server, "/api/render", {"options": OPTIONS}).json
    assert [f["path"] for f in answer["files"]] == list(expected)
    assert answer["path"] == "webtrainer/train.py"
    assert answer["text"] == expected["webtrainer/train.py"]
    chosen = "webtrainer/handlers/checkpoint.py"
    answer = post(server, "/api/render", {"options": OPTIONS, "path": chosen}).json
    assert (answer["path"], answer["text"]) == (chosen, expected[chosen])
    every = post(server, "/api/render", {"options": OPTIONS, "all": True}).json
    assert every["texts"] == expected


def test_a_file_these_options_do_not_generate_falls_back_to_train_py(serve):
    server = serve()
    body = {"options": {"name": "webtrainer"}, "path": "webtrainer/metrics/topk.py"}
    assert post(server, "/api/render", body).json["path"] == "webtrainer/train.py"


@pytest.mark.parametrize(
    "path",
    [
        "../.bashrc",
        "webtrainer/../../etc/passwd",
        "/etc/passwd",
        "//etc/passwd",
        "C:/Windows/win.ini",
        "webtrainer\\..\\..\\x",
        "./webtrainer/train.py",
        "webtrainer//train.py",
        "",
        7,
    ],
)
def test_a_file_path_that_leaves_the_project_is_refused(serve, path):
    server = serve()
    answer = post(server, "/api/render", {"options": OPTIONS, "path": path})
    assert answer.status == 403
    assert answer.json["error"]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"name": "my-trainer"}, "project name 'my-trainer' is not a valid"),
        ({"name": "torch"}, "would shadow the module 'torch'"),
        ({"name": "t", "metrics": ["auc"]}, "unknown metric 'auc'"),
        ({"name": "t", "metrics": []}, "no metric chosen"),
        (
            {"name": "t", "checkpoint": "yes"},
            "option 'checkpoint' must be true or false",
        ),
        ({"name": "t", "colour": True}, "unknown option(s) colour"),
        ({"name": "t", "scheduler": "linear"}, "unknown scheduler 'linear'"),
        ({}, "option 'name' is missing"),
    ],
)
def test_bad_options_come_back_as_one_line(serve, options, message):
    server = serve()
    for path in ("/api/render", "/api/create", "/api/download"):
        answer = post(server, path, {"options": options})
        assert answer.status == 400
        assert message in answer.json["error"]
        assert "\n" not in answer.json["error"]


def test_a_body_that_is_not_a_json_object_is_refused(serve):
    server = serve()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    for kind, data, status in [
        ("application/json", b"[1, 2]", 400),
        ("application/json", b"{nope", 400),
        ("text/plain", b"{}", 415),
    ]:
        connection.request(
            "POST",
            "/api/render",
            body=data,
            headers={"Content-Type": kind, TOKEN_HEADER: server.token},
        )
        response = connection.getresponse()
        assert (response.status, "error" in json.loads(response.read())) == (
            status,
            True,
        )
        connection.close()


# ---- what it writes ----


def test_create_writes_what_scaffold_new_writes(serve, tmp_path):
    server = serve()
    answer = post(server, "/api/create", {"options": OPTIONS})
    assert answer.status == 200, answer.body
    root = tmp_path / "out" / "webtrainer"
    assert answer.json["root"] == str(root.resolve())
    assert answer.json["train"].endswith("python -m webtrainer.train --data-dir data")
    by_cli = new(
        tmp_path / "cli",
        "webtrainer",
        "--metrics",
        "accuracy,topk",
        "--checkpoint",
    )
    assert snapshot(root) == snapshot(by_cli)

    again = post(server, "/api/create", {"options": OPTIONS})
    assert again.status == 400
    assert "already a scaffold project" in again.json["error"]


def test_create_writes_nothing_over_a_folder_in_the_way(serve, tmp_path):
    server = serve()
    (tmp_path / "out" / "webtrainer").mkdir(parents=True)
    (tmp_path / "out" / "webtrainer" / "notes.txt").write_text("mine\n")
    answer = post(server, "/api/create", {"options": OPTIONS})
    assert answer.status == 400
    assert "is not empty" in answer.json["error"]
    assert snapshot(tmp_path / "out") == {"webtrainer/notes.txt": b"mine\n"}


def test_download_zips_the_project_new_writes_under_its_name(serve, tmp_path):
    server = serve()
    answer = post(server, "/api/download", {"options": OPTIONS})
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/zip"
    assert 'filename="webtrainer.zip"' in answer.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(answer.body))
    zipped = {name: archive.read(name) for name in archive.namelist()}
    by_cli = new(
        tmp_path / "cli", "webtrainer", "--metrics", "accuracy,topk", "--checkpoint"
    )
    assert zipped == {f"webtrainer/{p}": data for p, data in snapshot(by_cli).items()}


def test_plan_and_update_need_a_project(serve):
    server = serve()
    for path in ("/api/plan", "/api/update"):
        answer = post(server, path, {"options": OPTIONS})
        assert answer.status == 400
        assert "scaffold ui PATH" in answer.json["error"]


@pytest.fixture
def edited(tmp_path) -> Path:
    """A default project with a line of the user's at the end of train.py."""
    root = new(tmp_path / "projects", "webtrainer")
    with open(root / "webtrainer" / "train.py", "a") as train:
        train.write("# my own note\n")
    return root


def test_update_preview_is_scaffold_diff_and_update_keeps_the_edit(
    serve, tmp_path, edited
):
    server = serve(edited)
    schema = call(server, "GET", "/api/schema").json
    assert schema["mode"] == "update"
    assert schema["options"] == Options(name="webtrainer").to_record()
    options = {**schema["options"], "checkpoint": True}
    twin = tmp_path / "twin"
    shutil.copytree(edited, twin)

    plan = post(server, "/api/plan", {"options": options}).json
    diff = runner.invoke(app, ["diff", str(edited), "--checkpoint"])
    assert plan["diff"] == diff.stdout
    assert "".join(plan["diffs"].values()) == plan["diff"]
    words = {
        group["action"]: [f["path"] for f in group["files"]] for group in plan["report"]
    }
    assert "webtrainer/handlers/checkpoint.py" in words["created"]
    assert words["merged"] == ["webtrainer/train.py"]
    assert plan["up_to_date"] is False and plan["conflicts"] == []
    assert snapshot(edited) == snapshot(twin)  # previewing wrote nothing

    answer = post(server, "/api/update", {"options": options})
    assert answer.status == 200, answer.body
    assert answer.json["report"] == plan["report"]
    assert (edited / "webtrainer" / "train.py").read_text().endswith("# my own note\n")
    assert read_record(edited).options.checkpoint is True
    assert runner.invoke(app, ["update", str(twin), "--checkpoint"]).exit_code == 0
    assert snapshot(edited) == snapshot(twin)
    assert post(server, "/api/plan", {"options": options}).json["up_to_date"] is True


def test_update_mode_shows_each_file_as_the_project_holds_it_after_update(
    serve, tmp_path, edited
):
    """Not the template: the user's file, merged as update would write it."""
    server = serve(edited)
    options = {**Options(name="webtrainer").to_record(), "checkpoint": True}
    twin = tmp_path / "twin"
    shutil.copytree(edited, twin)
    assert runner.invoke(app, ["update", str(twin), "--checkpoint"]).exit_code == 0
    shown = {}
    for path in ("train.py", "handlers/checkpoint.py", "engine/engine.py"):
        body = {"options": options, "path": f"webtrainer/{path}"}
        answer = post(server, "/api/render", body).json
        assert answer["text"] == (twin / "webtrainer" / path).read_text(), path
        shown[path] = answer["source"], answer["label"]
    assert shown["train.py"][0] == "merged"
    assert shown["train.py"][1].startswith("your file after update")
    assert shown["handlers/checkpoint.py"][0] == "created"
    assert shown["engine/engine.py"] == (
        "yours",
        "your file: update leaves it as it is",
    )
    assert answer["plan"] == post(server, "/api/plan", {"options": options}).json

    # With the recorded options nothing changes: every file is the user's.
    same = {"options": read_record(edited).options.to_record()}
    answer = post(server, "/api/render", same).json
    assert answer["text"].endswith("# my own note\n")
    assert answer["source"] == "yours" and answer["plan"]["up_to_date"]


def test_update_mode_shows_a_conflict_and_a_deleted_file_as_they_will_be(serve, edited):
    edit_where_the_update_changes(edited, "webtrainer/train.py", {"checkpoint": True})
    (edited / "webtrainer" / "evaluate.py").unlink()
    server = serve(edited)
    options = {**Options(name="webtrainer").to_record(), "checkpoint": True}
    train = post(server, "/api/render", {"options": options}).json
    assert train["source"] == "conflicted"
    assert "<<<<<<< your version" in train["text"] and "# my own lines" in train["text"]
    body = {"options": options, "path": "webtrainer/evaluate.py"}
    deleted = post(server, "/api/render", body).json
    assert deleted["source"] == "deleted"
    rendered = render(Options.from_record(options))["webtrainer/evaluate.py"]
    assert deleted["text"] == rendered


def page_state(server: UiServer) -> dict:
    """The first view the page arrives with, read from its HTML."""
    answer = call(server, "GET", f"/?token={server.token}", token=None)
    assert answer.status == 200
    html = answer.body.decode()
    start = html.index('<script id="initial" type="application/json">')
    text = html[html.index(">", start) + 1 : html.index("</script>", start)]
    return json.loads(text)


def test_the_page_arrives_with_its_schema_tree_and_code(serve, tmp_path, edited):
    state = page_state(serve())
    assert state["schema"] == call(serve(), "GET", "/api/schema").json | {
        "output_dir": state["schema"]["output_dir"]
    }
    files = render(Options(name="mytrainer"))
    assert [f["path"] for f in state["view"]["files"]] == list(files)
    assert state["view"]["text"] == files["mytrainer/train.py"]

    updating = page_state(serve(edited))
    assert updating["schema"]["mode"] == "update"
    assert updating["view"]["text"].endswith("# my own note\n")
    assert updating["view"]["plan"]["up_to_date"] is True


def test_a_file_cannot_break_out_of_the_page_it_is_shown_in(serve, edited):
    hostile = "</script><script>alert(document.cookie)</script><!--&\u2028\n"
    with open(edited / "webtrainer" / "train.py", "a") as train:
        train.write(f"# {hostile}")
    server = serve(edited)
    html = call(server, "GET", f"/?token={server.token}", token=None).body.decode()
    assert "alert" in html and "<script>alert" not in html
    assert html.count("</script>") == 2  # the page's own two scripts
    assert page_state(server)["view"]["text"].endswith(f"# {hostile}")


def edit_where_the_update_changes(root: Path, path: str, changes: dict) -> None:
    """Rewrite, in the user's copy, the lines around the first template change."""
    base = (root / ".scaffold" / "base" / path).read_text().splitlines(keepends=True)
    options = read_record(root).options.replace(**changes)
    theirs = render(options)[path].splitlines(keepends=True)
    opcodes = difflib.SequenceMatcher(a=base, b=theirs).get_opcodes()
    _, start, end, _, _ = next(op for op in opcodes if op[0] != "equal")
    mine = [*base[: max(start - 1, 0)], "# my own lines\n", *base[end + 1 :]]
    (root / path).write_text("".join(mine))


def test_update_reports_conflicts_and_says_how_to_resolve_them(serve, edited):
    edit_where_the_update_changes(edited, "webtrainer/train.py", {"checkpoint": True})
    server = serve(edited)
    options = {**Options(name="webtrainer").to_record(), "checkpoint": True}
    plan = post(server, "/api/plan", {"options": options}).json
    assert plan["conflicts"] == ["webtrainer/train.py"]
    answer = post(server, "/api/update", {"options": options}).json
    assert answer["conflicts"] == ["webtrainer/train.py"]
    assert answer["conflict_message"].startswith(
        "conflicts in 1 file: webtrainer/train.py"
    )
    assert "<<<<<<< your version" in (edited / "webtrainer" / "train.py").read_text()
    again = post(server, "/api/plan", {"options": options})
    assert again.status == 400
    assert "conflict markers" in again.json["error"]


def test_update_cannot_rename_the_project(serve, edited):
    server = serve(edited)
    answer = post(server, "/api/update", {"options": {"name": "other"}})
    assert answer.status == 400
    assert "cannot rename" in answer.json["error"]


# ---- the command ----


@pytest.mark.usefixtures("take_ctrl_c")
def test_scaffold_ui_prints_the_address_serves_and_stops_on_ctrl_c(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "scaffold", "ui", "--no-browser", "-o", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        address = process.stdout.readline().strip()
        assert address.startswith("scaffold ui: http://127.0.0.1:")
        url = address.removeprefix("scaffold ui: http://127.0.0.1:")
        port, query = url.split("/", 1)
        connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
        connection.request("GET", f"/{query}")
        assert connection.getresponse().status == 200
        connection.close()
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert err == ""


def test_scaffold_ui_refuses_a_folder_that_is_no_project(tmp_path):
    result = runner.invoke(app, ["ui", str(tmp_path), "--no-browser"])
    assert result.exit_code == 1
    assert (
        result.output.strip()
        == f"error: {tmp_path} is not a scaffold project (no .scaffold.json)"
    )


def test_scaffold_ui_refuses_a_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["ui", "--no-browser", "--port", str(port)])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: cannot listen on 127.0.0.1:{port} (")


def test_the_wheel_ships_the_page(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    static = REPO / "scaffold" / "ui" / "static"
    assert {f"scaffold/ui/static/{p.name}" for p in static.iterdir()} <= names


# ---- how it answers ----


def test_every_answer_is_200_and_a_bug_or_a_closed_tab_is_told_apart(
    serve, edited, capsys
):
    server = serve(edited)
    options = Options(name="webtrainer").to_record()
    for path in ("/api/render", "/api/plan", "/api/update", "/api/download"):
        assert post(server, path, {"options": options}).status == 200, path

    # A tab closed mid-answer is no error; a bug prints its traceback.
    for error in (ConnectionResetError("closed"), ValueError("a bug")):
        try:
            raise error
        except Exception:  # noqa: BLE001 (what the server catches)
            server.handle_error(None, ("127.0.0.1", 1))
    printed = capsys.readouterr().err
    assert "ValueError: a bug" in printed
    assert "ConnectionResetError" not in printed


def test_a_body_without_a_length_or_over_the_limit_is_refused(serve):
    server = serve()
    cases = [
        ({}, 411, "the request has no Content-Length"),
        ({"Content-Length": "many"}, 411, "the request has no Content-Length"),
        (
            {"Content-Length": str(2**20 + 1)},
            413,
            "the request body is over 1048576 bytes",
        ),
        ({"Content-Length": "-1"}, 413, "the request body is over 1048576 bytes"),
    ]
    for headers, status, error in cases:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.putrequest("POST", "/api/render")
        for name, value in {
            "Content-Type": "application/json",
            TOKEN_HEADER: server.token,
            **headers,
        }.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())) == (
            status,
            {"error": error},
        ), headers
        connection.close()


@pytest.mark.parametrize(
    "raised, status, error",
    [
        (
            OSError(28, "No space left on device"),
            400,
            "[Errno 28] No space left on device",
        ),
        (KeyError("a bug"), 500, "internal error: KeyError('a bug')"),
    ],
    ids=["os-error", "bug"],
)
def test_an_os_error_or_a_bug_comes_back_as_one_line(
    serve, monkeypatch, capsys, raised, status, error
):
    def preview(workspace, body):
        raise raised

    monkeypatch.setattr("scaffold.ui.api.preview", preview)
    server = serve()
    answer = post(server, "/api/render", {"options": OPTIONS})
    assert (answer.status, answer.json) == (status, {"error": error})
    # The terminal gets a bug's traceback; an OSError is the user's to fix.
    assert ("Traceback" in capsys.readouterr().err) == (status == 500)
