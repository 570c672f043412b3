"""The host's settings files (issue 10, item 5): one format that every reader gets right.

read_settings.py (the writer, run by user_data with SSM values) writes /etc/<app>/env (the app's
EnvironmentFile=) and /etc/<app>/deploy (the repository, read by user_data and deploy.sh). Here it
runs for real, with a stub boto3 that hands it hostile values, and both files are read back by
- bash (`set -a; . file`, as verify.sh and deploy.sh do, and user_data for the deploy file), and
- systemd's parser: `parse_env_file_internal` of src/basic/env-file.c (v252-v256), ported below
  state for state, plus the value check of `env_value_is_valid` (v252: control characters other
  than tab and newline make systemd drop the variable).
Every value must come back byte for byte from both, and no command in a value may run.
The end-to-end check with a real systemd is the app-host test (see the hook at its end).

Also the repository URL: a token in it stays out of ps (argv), .git/config and world-readable
files, and the clone and fetch of user_data still authenticate with it.
"""

import base64
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import urllib.parse
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness import REPO

READ_SETTINGS = REPO / "crates/aws/templates/read_settings.py"
USER_DATA = REPO / "generated/dev/user_data.sh"


def settings_spec() -> str:
    """The spec generated/dev/user_data.sh hands read_settings.py: the generator makes it from
    the app contract (the keys to read, every variable of the env file), so no key is copied here."""
    for line in USER_DATA.read_text().splitlines():
        if line.startswith("SETTINGS_SPEC="):
            return shlex.split(line.removesuffix(" \\"))[0].split("=", 1)[1]
    raise AssertionError("user_data hands read_settings.py no SETTINGS_SPEC")


STUB_BOTO3 = '''
import json, os


class _SSM:
    def get_parameters(self, Names, WithDecryption):
        values = json.loads(os.environ["STUB_SSM"])
        short = [n.rsplit("/", 1)[1] for n in Names]
        return {"Parameters": [{"Name": n, "Value": values[s]} for n, s in zip(Names, short) if s in values],
                "InvalidParameters": [n for n, s in zip(Names, short) if s not in values]}


def client(service, **kw):
    assert service == "ssm"
    return _SSM()
'''
# What read_settings.py may import from botocore (client config, error types).
STUB_BOTOCORE = {
    "__init__.py": "",
    "config.py": "class Config:\n    def __init__(self, **kw):\n        pass\n",
    "exceptions.py": "class BotoCoreError(Exception):\n    pass\n\n\nclass ClientError(Exception):\n    pass\n",
}


def hostile(marker: Path) -> dict:
    m = f"touch {marker}"
    return {
        "db_host": "127.0.0.1", "db_port": "5432", "db_name": "app", "db_username": "app",
        "db_password": f"p$a`s's\"w#o%r\\d$({m})",
        "tavily_api_key": f"line1\nline2 $({m}) `{m}` 'q' \"dq\" #hash %h %% \\ \t tab ${{HOME}} $HOME\n",
        "gemini_api_key": "  spaces kept  '\"'\"' x\\",
        "repo_url": "https://build%40ci:t0k$en'`x`@git.example.invalid:8443/team/app.git",
        "repo_branch": "release/v1.2",
    }


def run_writer(tmp_path: Path, values: dict) -> subprocess.CompletedProcess:
    stub = tmp_path / "stub"
    (stub / "boto3").mkdir(parents=True, exist_ok=True)
    (stub / "boto3/__init__.py").write_text(STUB_BOTO3)
    (stub / "botocore").mkdir(exist_ok=True)
    for name, text in STUB_BOTOCORE.items():
        (stub / "botocore" / name).write_text(text)
    conf = tmp_path / "conf"
    conf.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ["PATH"], "PYTHONPATH": str(stub), "AWS_REGION": "us-east-1",
        "SSM_PREFIX": "/fastapi-infra/dev", "SETTINGS_SPEC": settings_spec(),
        "DB_CA_FILE": "/etc/ssl/certs/rds-ca.pem", "SETTINGS_WAIT_SECONDS": "5", "ENV_OUT": str(conf / "env"), "DEPLOY_OUT": str(conf / "deploy"), "STUB_SSM": json.dumps(values),
    }
    return subprocess.run([sys.executable, str(READ_SETTINGS)], env=env, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)


# --- systemd's reader: parse_env_file_internal (src/basic/env-file.c), state for state ---------
WHITESPACE, NEWLINE, COMMENTS = " \t\n\r", "\n\r", "#;"
SHELL_NEED_ESCAPE = '"\\`$'


def systemd_env_file(text: str) -> dict:
    out, key, value, state = {}, "", None, "PRE_KEY"
    last_key_ws = last_value_ws = None

    def push():
        k = key[:last_key_ws] if last_key_ws is not None else key
        v = value if value is not None else ""
        if state == "VALUE" and last_value_ws is not None:
            v = v[:last_value_ws]
        # load_env_file_push, then strv_env_clean in the service manager (env_value_is_valid, v252).
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) and not any(
                (ord(c) < 32 and c not in "\t\n") or ord(c) == 127 for c in v):
            out[k] = v

    for c in text:
        if state == "PRE_KEY":
            if c in COMMENTS:
                state = "COMMENT"
            elif c not in WHITESPACE:
                state, key, last_key_ws = "KEY", c, None
        elif state == "KEY":
            if c in NEWLINE:
                state, key = "PRE_KEY", ""
            elif c == "=":
                state, last_value_ws = "PRE_VALUE", None
            else:
                if c not in WHITESPACE:
                    last_key_ws = None
                elif last_key_ws is None:
                    last_key_ws = len(key)
                key += c
        elif state == "PRE_VALUE":
            if c in NEWLINE:
                push()
                state, key, value = "PRE_KEY", "", None
            elif c == "'":
                state = "SINGLE_QUOTE_VALUE"
            elif c == '"':
                state = "DOUBLE_QUOTE_VALUE"
            elif c == "\\":
                state = "VALUE_ESCAPE"
            elif c not in WHITESPACE:
                state, value = "VALUE", (value or "") + c
        elif state == "VALUE":
            if c in NEWLINE:
                push()
                state, key, value = "PRE_KEY", "", None
            elif c == "\\":
                state, last_value_ws = "VALUE_ESCAPE", None
            else:
                if c not in WHITESPACE:
                    last_value_ws = None
                elif last_value_ws is None:
                    last_value_ws = len(value or "")
                value = (value or "") + c
        elif state == "VALUE_ESCAPE":
            state = "VALUE"
            if c not in NEWLINE:
                value = (value or "") + c
        elif state == "SINGLE_QUOTE_VALUE":
            if c == "'":
                state = "PRE_VALUE"
            else:
                value = (value or "") + c
        elif state == "DOUBLE_QUOTE_VALUE":
            if c == '"':
                state = "PRE_VALUE"
            elif c == "\\":
                state = "DOUBLE_QUOTE_VALUE_ESCAPE"
            else:
                value = (value or "") + c
        elif state == "DOUBLE_QUOTE_VALUE_ESCAPE":
            state = "DOUBLE_QUOTE_VALUE"
            if c in SHELL_NEED_ESCAPE:
                value = (value or "") + c
            elif c != "\n":
                value = (value or "") + "\\" + c
        elif state == "COMMENT":
            if c == "\\":
                state = "COMMENT_ESCAPE"
            elif c in NEWLINE:
                state = "PRE_KEY"
        elif state == "COMMENT_ESCAPE":
            state = "PRE_KEY" if c in NEWLINE else "COMMENT"
    if state in ("PRE_VALUE", "VALUE", "VALUE_ESCAPE", "SINGLE_QUOTE_VALUE", "DOUBLE_QUOTE_VALUE",
                 "DOUBLE_QUOTE_VALUE_ESCAPE"):
        push()
    return out


def bash_env_file(path: Path, cwd: Path) -> dict:
    """What `set -a; . file` gives a bash script (as verify.sh and deploy.sh read the files)."""
    code = 'set -a; . "$1"; set +a; exec env -0'
    proc = subprocess.run(["env", "-i", f"PATH={os.environ['PATH']}", "bash", "-c", code, "_", str(path)],
                          capture_output=True, text=True, timeout=30, cwd=cwd)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    env = dict(e.split("=", 1) for e in proc.stdout.split("\0")[:-1])
    for k in ("PATH", "PWD", "SHLVL", "_", "OLDPWD"):
        env.pop(k, None)
    return env


def test_writer_output_reads_back_the_same_in_bash_and_systemd(tmp_path):
    # First, the port against systemd.exec(5), EnvironmentFile=: the rules the format relies on.
    assert systemd_env_file("A='x $y `z` \"q\" #c %h \\\\'\n") == {"A": 'x $y `z` "q" #c %h \\\\'}
    assert systemd_env_file("A='multi\nline'\n") == {"A": "multi\nline"}
    assert systemd_env_file("A='it'\"'\"'s'\n") == {"A": "it's"}
    assert systemd_env_file("A=  two  words  \n# c\n;c\nB=\\$x\n") == {"A": "two  words", "B": "$x"}
    assert systemd_env_file('A="a\\$b\\qc"\n') == {"A": "a$b\\qc"}
    assert systemd_env_file("A='a\rb'\n") == {}, "systemd 252 drops a value with a CR"
    # Where the shell and systemd differ (the format avoids these): an unquoted ' after a
    # backslash-escaped quote is literal for systemd, a quote for bash.
    assert systemd_env_file("A='a'\\''b'\n") == {"A": "a''b'"}

    marker = tmp_path / "MARKER"
    values = hostile(marker)
    assert sorted(values) == sorted(json.loads(settings_spec())["ssm"]), "a value for every setting the spec reads"
    proc = run_writer(tmp_path, values)
    assert proc.returncode == 0, proc.stderr
    env_file, deploy_file = tmp_path / "conf/env", tmp_path / "conf/deploy"
    for f in (env_file, deploy_file):
        assert f.stat().st_mode & 0o777 == 0o600, f"{f.name} must be readable by its owner only"
    # The values that come from SSM or the generator, each exactly; the writer may add others.
    want_env = {
        "PGHOST": "127.0.0.1", "PGPORT": "5432", "PGDATABASE": "app", "PGUSER": "app",
        "PGPASSWORD": values["db_password"], "TAVILY_API_KEY": values["tavily_api_key"],
        "GEMINI_API_KEY": values["gemini_api_key"], "APP_ENV": "dev", "S3_BUCKET_CONTENT": "fastapi-infra-dev-content",
        "PGSSLMODE": "verify-full", "PGSSLROOTCERT": "/etc/ssl/certs/rds-ca.pem", "AWS_REGION": "us-east-1",
    }
    want_deploy = {
        "REPO_URL": "https://git.example.invalid:8443/team/app.git", "REPO_BRANCH": "release/v1.2",
        "REPO_USERNAME": "build@ci", "REPO_PASSWORD": "t0k$en'`x`",
    }
    for f, want in ((env_file, want_env), (deploy_file, want_deploy)):
        text = f.read_text()
        by_systemd, by_bash = systemd_env_file(text), bash_env_file(f, tmp_path)
        assert by_systemd == by_bash, text
        assert by_systemd == dict(by_systemd, **want), text
        assert len(by_systemd) == text.count("\n") - sum(v.count("\n") for v in by_systemd.values()), \
            "every line of the file is one variable for systemd"
    db_url = urllib.parse.urlsplit(systemd_env_file(env_file.read_text())["DATABASE_URL"])
    assert (urllib.parse.unquote(db_url.username), urllib.parse.unquote(db_url.password)) == \
        (values["db_username"], values["db_password"])
    assert not marker.exists(), "a command in a value ran"
    assert "t0k" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("bad", ["a\rb", "a\x01b", "a\x7fb", "a\x1bb"])
def test_writer_refuses_what_systemd_would_drop(tmp_path, bad):
    values = dict(hostile(tmp_path / "MARKER"), tavily_api_key=bad)
    proc = run_writer(tmp_path, values)
    assert proc.returncode != 0
    assert "TAVILY_API_KEY" in proc.stderr and bad not in proc.stderr, proc.stderr
    assert not (tmp_path / "conf/env").exists(), "no file is written when a value is refused"


@pytest.mark.parametrize("url", [
    "ext::sh -c touch% /tmp/x", "-uhttps://x/y", "file:///etc/passwd", "https://host/a b", "https://host/a\nb",
    "fd::17", "https://:8443/x", "ssh://user:pw@host/x", "https://example.net", "",
])
def test_writer_refuses_repo_urls_git_would_misread(tmp_path, url):
    values = dict(hostile(tmp_path / "MARKER"), repo_url=url)
    proc = run_writer(tmp_path, values)
    assert proc.returncode != 0 and "repo_url" in proc.stderr, proc.stderr
    if url:
        assert url not in proc.stderr, "the URL (it may hold a token) is never printed"


@pytest.mark.parametrize("branch", ["--upload-pack=touch x", "-b", "a..b", "a b", "x.lock", "a//b", ""])
def test_writer_refuses_branches_git_would_misread(tmp_path, branch):
    proc = run_writer(tmp_path, dict(hostile(tmp_path / "MARKER"), repo_branch=branch))
    assert proc.returncode != 0 and "repo_branch" in proc.stderr, proc.stderr


@pytest.mark.parametrize("url,want", [
    ("https://github.com/org/app.git", ("https://github.com/org/app.git", "", "")),
    ("https://x-access-token:ghs_abc@github.com/org/app.git", ("https://github.com/org/app.git", "x-access-token", "ghs_abc")),
    ("https://ghp_tok@github.com/org/app.git", ("https://github.com/org/app.git", "ghp_tok", "")),
    ("git@github.com:org/app.git", ("git@github.com:org/app.git", "", "")),
    ("ssh://git@host:2222/org/app.git", ("ssh://git@host:2222/org/app.git", "", "")),
])
def test_repo_url_credentials_are_split_off(tmp_path, url, want):
    proc = run_writer(tmp_path, dict(hostile(tmp_path / "MARKER"), repo_url=url))
    assert proc.returncode == 0, proc.stderr
    got = systemd_env_file((tmp_path / "conf/deploy").read_text())
    assert (got["REPO_URL"], got["REPO_USERNAME"], got["REPO_PASSWORD"]) == want


# --- The clone and fetch of user_data with a token -------------------------------------------
class AuthGit(SimpleHTTPRequestHandler):
    """git's dumb HTTP protocol from a folder, behind Basic auth."""

    expected = ""

    def do_GET(self):
        if self.headers.get("Authorization") != self.expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, *args):
        pass


def step(script: str, title: str) -> str:
    """A numbered step of user_data (`# N. Title...` up to the next `# M.`), found by its title."""
    m = re.search(rf"^# \d+\. [^\n]*{re.escape(title)}.*?(?=^# \d+\. |\Z)", script, re.M | re.S)
    assert m, f"no step `{title}` in user_data"
    return m.group(0)


def test_repo_token_stays_out_of_ps_and_git_config(tmp_path):
    user, token = "build@ci", "t0k$en'`x`"
    # A bare repository with one commit, served with Basic auth on 127.0.0.1.
    work, served = tmp_path / "work", tmp_path / "served"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "app.py").write_text("v1\n")
    subprocess.run([*git, "-C", str(work), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(work), "commit", "-qm", "v1"], check=True)
    served.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(served / "app.git")], check=True)
    subprocess.run(["git", "-C", str(served / "app.git"), "update-server-info"], check=True)
    handler = type("H", (AuthGit,), {"expected": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        url = f"http://{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(token, safe='')}@127.0.0.1:{port}/app.git"
        values = dict(hostile(tmp_path / "MARKER"), repo_url=url, repo_branch="main")
        proc = run_writer(tmp_path, values)
        assert proc.returncode == 0, proc.stderr
        # Step 4 of the rendered script, with runuser replaced by a stub that runs the command
        # as is, and every git call logged (argv is what ps shows).
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        real_git = subprocess.run(["bash", "-c", "command -v git"], capture_output=True, text=True).stdout.strip()
        (bin_dir / "git").write_text(f'#!/bin/bash\nprintf "%s\\n" "$*" >> "{tmp_path}/git-argv.log"\nexec {real_git} "$@"\n')
        (bin_dir / "runuser").write_text('#!/bin/bash\n[ "$1" = -u ] && [ "$3" = -- ] || exit 99\nshift 3\nexec "$@"\n')
        for f in ("git", "runuser"):
            (bin_dir / f).chmod(0o755)
        script = (REPO / "generated/dev/user_data.sh").read_text()
        src = tmp_path / "src"
        code = "\n".join([
            "set -euo pipefail", f"APP_USER=nobody SRC_DIR='{src}'", f". '{tmp_path}/conf/deploy'", step(script, "The app's code"),
        ])
        env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}
        for run in ("clone", "fetch"):
            done = subprocess.run(["bash", "-c", code], env=env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, f"{run}: {done.stderr}"
            assert (src / "app.py").read_text() == "v1\n"
        argv = (tmp_path / "git-argv.log").read_text()
        assert "clone" in argv and "fetch" in argv
        config = (src / ".git/config").read_text()
        for secret in (token, urllib.parse.quote(token, safe=""), "t0k"):
            assert secret not in argv, f"the token is in a git command line (ps): {argv}"
            assert secret not in config, ".git/config holds the token"
            for f in src.joinpath(".git").rglob("*"):
                if f.is_file():
                    assert secret.encode() not in f.read_bytes(), f"{f} holds the token"
        assert f"url = http://127.0.0.1:{port}/app.git" in config
    finally:
        server.shutdown()
        server.server_close()
