"""scripts/*.sh against hostile input (issue 10, item 6), with stub ssh, curl and terraform on PATH.

A destination from `terraform output` or the environment must never reach ssh as an option,
APP_NAME never becomes code in the script sent to `sudo bash -s`, and every environment-variable
input is checked against a strict pattern (exit 2, naming the input) before anything runs.
Fast: no network, no Terraform; the stubs only record how they were called.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

from harness import REPO

SCRIPTS = REPO / "scripts"

# Each stub appends one JSON line {"argv": [...], "stdin": "..."} to $STUB_LOG/<name>.jsonl.
STUB = r"""#!/usr/bin/env python3
import json, os, sys
name = os.path.basename(sys.argv[0])
stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
with open(os.path.join(os.environ["STUB_LOG"], name + ".jsonl"), "a") as f:
    f.write(json.dumps({"argv": sys.argv[1:], "stdin": stdin}) + "\n")
if name == "terraform":
    # terraform -chdir=DIR output -raw NAME: the value of $STUB_TF_<NAME>, else "no outputs".
    value = os.environ.get("STUB_TF_" + sys.argv[-1])
    if value is None:
        sys.exit(1)
    sys.stdout.write(value)
elif name == "curl":
    sys.stdout.write('{"status":"ok"}')
elif name == "ssh":
    sys.stdout.write(os.environ.get("STUB_SSH_OUT", "PASS database: stub\n"))
"""

GOOD_OUTPUTS = {
    "STUB_TF_instance_public_ip": "203.0.113.10",
    "STUB_TF_ssh_user": "ubuntu",
    "STUB_TF_app_url": "http://203.0.113.10:8000",
}


@pytest.fixture
def run(tmp_path):
    """run(script, *args, **env) -> (CompletedProcess, calls: {stub: [call, ...]})."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("ssh", "curl", "terraform"):
        (bin_dir / name).write_text(STUB)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "log"
    log.mkdir()

    def _run(script, *args, **env):
        for f in log.iterdir():
            f.unlink()
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("SSH_", "APP_", "HEALTH_", "STUB_"))}
        full = dict(base, PATH=f"{bin_dir}:{os.environ['PATH']}", STUB_LOG=str(log),
                    HEALTH_TRIES="1", HEALTH_DELAY="0", **GOOD_OUTPUTS)
        full.update({k: v for k, v in env.items() if v is not None})
        for k in [k for k, v in env.items() if v is None]:
            del full[k]  # None: the variable (or the stub's output) is unset
        proc = subprocess.run(["timeout", "60", str(SCRIPTS / script), *args], capture_output=True, text=True,
                              env=full, stdin=subprocess.DEVNULL, cwd=tmp_path)
        calls = {f.stem: [json.loads(line) for line in f.read_text().splitlines()] for f in log.glob("*.jsonl")}
        return proc, calls

    return _run


def marker_cmd(tmp_path):
    return f"touch {tmp_path / 'MARKER'}"


def refused(proc, calls, *stubs, names):
    """Exit 2 with an error naming the input, and none of `stubs` was called."""
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}\ncalls: {calls}"
    assert names in proc.stderr, proc.stderr
    for s in stubs:
        assert s not in calls, f"{s} was called: {calls[s]}"


def hostile_destinations(tmp_path):
    m = marker_cmd(tmp_path)
    return [f"-oProxyCommand={m}", f"-oLocalCommand={m}", "-F/dev/null", f"x\n-oProxyCommand={m}",
            f"$({m})", "host name", ""]


@pytest.mark.parametrize("source", ["output", "env"])
@pytest.mark.parametrize("what", ["host", "user"])
def test_ssh_destination_is_never_an_option(run, tmp_path, source, what):
    for bad in hostile_destinations(tmp_path):
        if source == "output" and bad == "":
            continue  # an empty output means "unset": the env var then wins, tested below
        if source == "output":
            env = {"STUB_TF_instance_public_ip" if what == "host" else "STUB_TF_ssh_user": bad}
        else:
            env = {"SSH_HOST" if what == "host" else "SSH_USER": bad}
            if bad == "":
                continue  # empty env var = not set: falls back to the (good) output
        for script in ("ssh.sh", "deploy.sh", "verify.sh"):
            proc, calls = run(script, "dev", **env)
            refused(proc, calls, "ssh", names="the app host" if what == "host" else "the ssh user")
    assert not (tmp_path / "MARKER").exists()


def test_ssh_destination_follows_double_dash(run, tmp_path):
    key = tmp_path / "id_test"
    key.write_text("not a key\n")
    proc, calls = run("ssh.sh", "dev", "--", "uptime", SSH_KEY=str(key),
                      SSH_OPTS="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null")
    assert proc.returncode == 0, proc.stderr
    (call,) = calls["ssh"]
    assert call["argv"] == ["-p", "22", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15",
                            "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                            "--", "ubuntu@203.0.113.10", "uptime"]
    # An IPv6 host is a destination too.
    proc, calls = run("ssh.sh", "dev", SSH_HOST="2001:db8::10")
    assert proc.returncode == 0 and calls["ssh"][0]["argv"][-2:] == ["--", "ubuntu@2001:db8::10"], proc.stderr


@pytest.mark.parametrize("var,value", [
    ("SSH_PORT", "22 -oProxyCommand=x"), ("SSH_PORT", "0"), ("SSH_PORT", "65536"), ("SSH_PORT", "-1"),
    ("SSH_OPTS", "-oProxyCommand=x"), ("SSH_OPTS", "-o ProxyCommand=touch x"), ("SSH_OPTS", "user@evil"),
    ("SSH_OPTS", "-o"), ("SSH_KEY", "/nonexistent/key"),
])
def test_ssh_settings_are_checked(run, var, value):
    proc, calls = run("ssh.sh", "dev", **{var: value})
    refused(proc, calls, "ssh", names=var)


def hostile_app_names(tmp_path):
    m = marker_cmd(tmp_path)
    return [f'x"; {m}; "', f"x$({m})", f"x`{m}`", f"x\n{m}", "x y", "-x", "X", "a" * 40]


@pytest.mark.parametrize("script", ["deploy.sh", "verify.sh", "ssh.sh", "curl-health.sh"])
def test_app_name_is_checked(run, tmp_path, script):
    for bad in hostile_app_names(tmp_path):
        proc, calls = run(script, "dev", APP_NAME=bad)
        refused(proc, calls, "ssh", "curl", names="APP_NAME")
    assert not (tmp_path / "MARKER").exists()


@pytest.mark.parametrize("script", ["deploy.sh", "verify.sh"])
def test_script_sent_to_sudo_bash_is_constant(run, script):
    """The app's name travels as a quoted argument of `bash -s`, never inside the code."""
    texts = set()
    for app in ("fastapi-infra", "other-app2"):
        proc, calls = run(script, "dev", APP_NAME=app, APP_URL="http://127.0.0.1:9")
        ssh = [c for c in calls["ssh"] if "bash -s" in c["argv"][-1]]
        assert len(ssh) == 1, calls
        assert ssh[0]["argv"][-1] == f"sudo bash -s -- {app}"
        assert app not in ssh[0]["stdin"]
        texts.add(ssh[0]["stdin"])
        subprocess.run(["bash", "-n"], input=ssh[0]["stdin"], text=True, check=True)
    assert len(texts) == 1, "the script differs with APP_NAME"


def test_remote_args_quote_for_the_host_shell(tmp_path):
    """remote_args: whatever the value, the host's shell sees exactly one word with it."""
    m = marker_cmd(tmp_path)
    values = [f"a b; {m}", f"$({m})", f"`{m}`", "it's", 'say "hi"', "x\ny", "*", "~root", "", "-n"]
    code = f'. {SCRIPTS / "lib.sh"}; remote_args "$@"'
    line = subprocess.run(["bash", "-c", code, "_", *values], capture_output=True, text=True, check=True).stdout
    got = subprocess.run(["bash", "-c", f"printf '%s\\0' {line}"], capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout
    assert got.split("\0")[:-1] == values
    assert not (tmp_path / "MARKER").exists()


@pytest.mark.parametrize("source", ["APP_URL", "arg", "output"])
def test_health_url_is_never_a_curl_option(run, tmp_path, source):
    for bad in ["-K/etc/passwd", "--config=/etc/passwd", "file:///etc/passwd", "http://h/$(x)", "http://a b/",
                "http://h/\n-K/etc/passwd", "gopher://h/"]:
        if source == "APP_URL":
            proc, calls = run("curl-health.sh", "dev", APP_URL=bad)
        elif source == "arg":
            if not bad.startswith("http"):
                continue  # not a URL argument: read as an env name, refused as such (below)
            proc, calls = run("curl-health.sh", bad)
        else:
            proc, calls = run("curl-health.sh", "dev", STUB_TF_app_url=bad)
        refused(proc, calls, "curl", names={"APP_URL": "APP_URL", "arg": "URL argument", "output": "app_url"}[source])


def test_health_call_is_quoted_and_after_double_dash(run):
    proc, calls = run("curl-health.sh", "dev")
    assert proc.returncode == 0, proc.stderr
    assert calls["curl"][0]["argv"][-2:] == ["--", "http://203.0.113.10:8000/health"]


@pytest.mark.parametrize("var,value", [
    ("HEALTH_PATH", "health"), ("HEALTH_PATH", "/a b"), ("HEALTH_PATH", "/x\n-K"), ("HEALTH_TRIES", "0"),
    ("HEALTH_TRIES", "1;2"), ("HEALTH_DELAY", "1s"), ("HEALTH_DELAY", "-1"), ("HEALTH_EXPECT", "a\nb"),
    ("HEALTH_EXPECT", "x" * 201),
])
def test_health_settings_are_checked(run, var, value):
    proc, calls = run("curl-health.sh", "dev", **{var: value})
    refused(proc, calls, "curl", names=var)


@pytest.mark.parametrize("script", ["ssh.sh", "deploy.sh", "verify.sh", "curl-health.sh"])
def test_env_argument_is_a_name_not_a_path(run, script):
    for bad in ("dev/../dev", "../dev", "Dev", "dev prod"):
        proc, calls = run(script, bad)
        refused(proc, calls, "ssh", "curl", "terraform", names="environment")


HOST_ALL_PASS = "".join(f"PASS {c}: stub\n" for c in ("database", "s3", "tavily", "gemini"))


@pytest.mark.parametrize("host_says,code,line", [
    (HOST_ALL_PASS, 0, "verify: all checks passed"),
    (HOST_ALL_PASS.replace("PASS tavily", "FAIL tavily"), 1, "FAIL tavily: stub"),
    ("PASS database: stub\nPASS tavily: stub\nPASS gemini: stub\n", 1, "FAIL s3: no result from the host"),
    ("", 1, "FAIL host: no answer over ssh"),
])
def test_verify_exits_as_the_readme_says(run, host_says, code, line):
    """0 when every check passed; 1 when one failed or the host did not report it."""
    proc, calls = run("verify.sh", "dev", STUB_SSH_OUT=host_says)
    assert proc.returncode == code, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert line in proc.stdout, proc.stdout
    readme = (REPO / "README.md").read_text()
    assert "`verify.sh` exits 0 when every check passes, 1 when any fails or gives no result" in readme


@pytest.mark.parametrize("missing,var", [
    ("STUB_TF_instance_public_ip", "SSH_HOST"), ("STUB_TF_ssh_user", "SSH_USER"), ("STUB_TF_app_url", "APP_URL"),
])
def test_a_missing_output_names_its_variable(run, missing, var):
    """Bad input stops verify.sh with exit 2 before any check runs, naming the variable to set."""
    proc, calls = run("verify.sh", "dev", **{missing: None})
    refused(proc, calls, "ssh", "curl", names=f"or set {var}")
    assert "PASS" not in proc.stdout and "FAIL" not in proc.stdout, proc.stdout
