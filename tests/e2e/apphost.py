"""The world around the app host in test_app_host.py, built from loopback servers and one network
namespace per test.

The container (systemd-nspawn -b of a Debian root, real cloud-init) boots in its OWN network
namespace, made here with a random name. In it, 169.254.169.254/32 sits on lo, like the instance
metadata address on EC2. A relay (relay.py, one process) joins the two sides: each server of the
test on the host's 127.0.0.1:P (moto, Postgres, the package mirror, git over HTTP, the API
stand-ins) appears at 127.0.0.1:P inside the namespace too (same port, so URLs are the same on
both sides); the IMDSv2 stand-in appears at 169.254.169.254:80; and the container's sshd (22) and
app port (8000) appear on free ports of the host's 127.0.0.1. No fixed port or name on the host;
everything is removed in `close()` (relay stopped, namespace deleted, mounts gone).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from harness import EXAMPLE_APP, REPO, free_port, serve_on_free_port, stop_group

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("FASTAPI_INFRA_CACHE", Path.home() / ".cache/fastapi-infra"))


def sh(*args, timeout=60, check=True, env=None, **kw):
    proc = subprocess.run(["timeout", "-k", "5", str(timeout), *map(str, args)], capture_output=True, text=True, env=env, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def wait_for(what, fn, timeout, every=1.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            ok = fn()
            if ok:
                return ok
        except Exception as e:  # keep the last error for the message
            last = e
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last error: {last})")


def port_open(port, host="127.0.0.1"):
    import socket

    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


# ---------------------------------------------------------------------------------------------
# The image (root + apt repository) and the wheelhouse: built once, cached, concurrency-safe.


def build_image() -> tuple[Path, float]:
    """tests/host/make-rootfs.sh: the cached image folder (root/, apt/) and how long it took."""
    t0 = time.monotonic()
    out = sh(REPO / "tests/host/make-rootfs.sh", timeout=2400).stdout.strip().splitlines()[-1]
    return Path(out), time.monotonic() - t0


def wheelhouse(python_version: str) -> tuple[Path, float]:
    """Wheels of the starter app's requirements (examples/app), uvicorn and pip for the root's Python, downloaded
    once into the cache (keyed by the requirements and the Python version) under a file lock.
    Wheelhouses of other keys go once unused for a day (another checkout's test may use one)."""
    t0 = time.monotonic()
    req = EXAMPLE_APP / "requirements.txt"
    wanted = ["uvicorn", "pip"]
    key = hashlib.sha256((req.read_text() + " ".join(wanted) + python_version).encode()).hexdigest()[:16]
    out = CACHE / f"wheels-{key}"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "wheels.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (out / ".complete").exists():
            out.touch()
        else:
            for old in CACHE.glob("wheels-*"):
                if old.is_dir() and time.time() - old.stat().st_mtime > 86400:
                    shutil.rmtree(old)
            tmp = Path(tempfile.mkdtemp(prefix=f"wheels-{key}.tmp.", dir=CACHE))
            sh(sys.executable, "-m", "pip", "download", "-q", "-d", tmp, "--only-binary=:all:",
               "--python-version", python_version, "--implementation", "cp",
               "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64", "--platform", "any",
               "-r", req, *wanted, timeout=600)
            (tmp / ".complete").touch()
            tmp.rename(out)
    return out, time.monotonic() - t0


# ---------------------------------------------------------------------------------------------
# Servers on the host's loopback.


class Static:
    """python -m http.server on 127.0.0.1 for a folder (git's dumb HTTP, mirrors, API stand-ins)."""

    def __init__(self, folder: Path, log: Path):
        self.log = open(log, "w")

        def spawn(port):
            return subprocess.Popen([sys.executable, "-m", "http.server", "-b", "127.0.0.1", str(port)],
                                    cwd=folder, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

        self.port, self.proc = serve_on_free_port("http.server", spawn, port_open, wait=20)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        stop_group(self.proc)
        self.log.close()


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA (certificate, key) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    crt, key = folder / f"{name}.pem", folder / f"{name}.key"
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", key, "-out", crt, "-days", "2", "-subj", f"/CN=fastapi-infra test {name}")
    return crt, key


def issue_cert(folder: Path, ca: tuple[Path, Path], host: str) -> tuple[Path, Path]:
    """A server certificate for `host` (subjectAltName DNS), signed by `ca`."""
    crt, key, csr, ext = folder / "server.crt", folder / "server.key", folder / "server.csr", folder / "server.ext"
    ext.write_text(f"subjectAltName=DNS:{host}\n")
    sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", key, "-out", csr, "-subj", f"/CN={host}")
    sh("openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
       "-out", crt, "-days", "2", "-extfile", ext)
    return crt, key


class Postgres:
    """A throwaway PostgreSQL server on 127.0.0.1 with TLS (a certificate for `host_name`, signed
    by the test's own CA), run as the `postgres` user."""

    def __init__(self, host_name: str, ca: tuple[Path, Path]):
        # Outside pytest's private tmp folder: the postgres user must reach it.
        self.base = Path(tempfile.mkdtemp(prefix="fastapi-infra-pg-"))
        self.dir = self.base / "data"
        pwfile = self.base / "pw"
        pwfile.write_text("admin-password\n")
        self.cert, self.key = issue_cert(self.base, ca, host_name)
        for f in (self.base, pwfile, self.cert, self.key):
            shutil.chown(f, "postgres", "postgres")
        self.key.chmod(0o600)
        sh("runuser", "-u", "postgres", "--", "initdb", "-D", self.dir, "-A", "scram-sha-256",
           "-U", "postgres", f"--pwfile={pwfile}", timeout=120)
        self.start_on_free_port()
        env = dict(os.environ, PGPASSWORD="admin-password")
        for sql in ("CREATE ROLE app LOGIN PASSWORD 'test-password-123'", "CREATE DATABASE app OWNER app"):
            sh("psql", "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", "-d", "postgres", "-c", sql, env=env)

    def start_on_free_port(self, tries=5):
        """pg_ctl -w waits for this server's own start, and fails when another program took the
        port after free_port(): then start again on another one."""
        for left in reversed(range(tries)):
            self.port = free_port()
            try:
                return self.start()
            except AssertionError:
                log = self.dir / "log"
                if left == 0 or not log.exists() or "could not bind" not in log.read_text():
                    raise

    def start(self):
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.base} -c ssl=on -c ssl_cert_file={self.cert} -c ssl_key_file={self.key}"
        sh("runuser", "-u", "postgres", "--", "pg_ctl", "-D", self.dir, "-l", self.dir / "log", "-w", "-t", "60",
           "-o", opts, "start", timeout=90)

    def stop(self):
        sh("runuser", "-u", "postgres", "--", "pg_ctl", "-D", self.dir, "-m", "fast", "-w", "-t", "60", "stop",
           timeout=90, check=False)

    def remove(self):
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def _utc(iso: str) -> datetime:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


class Imds:
    """An IMDSv2 stand-in: PUT /latest/api/token, then GETs with the token; serves the instance
    role's credentials from `credentials()` (AssumeRole against moto: AccessKeyId, SecretAccessKey,
    SessionToken, Expiration as ISO 8601), renewed 10 minutes before they expire."""

    def __init__(self, role_name: str, credentials, instance_id: str):
        self.role, self.instance_id = role_name, instance_id
        self._credentials, self._creds, self._lock = credentials, None, threading.Lock()
        self.tokens: set[str] = set()
        self.served = {"token": 0, "credentials": 0, "refused": 0}
        imds = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, code, body, ctype="text/plain"):
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self):
                if self.path != "/latest/api/token" or not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    return self._send(400, "bad request")
                token = secrets.token_urlsafe(32)
                imds.tokens.add(token)
                imds.served["token"] += 1
                self._send(200, token)

            def do_GET(self):
                if self.headers.get("X-aws-ec2-metadata-token") not in imds.tokens:
                    imds.served["refused"] += 1  # IMDSv2 required: no token, no answer
                    return self._send(401, "")
                base = "/latest/meta-data/iam/security-credentials/"
                if self.path == base:
                    return self._send(200, imds.role)
                if self.path == base + imds.role:
                    imds.served["credentials"] += 1
                    return self._send(200, json.dumps(imds.credentials()), "application/json")
                if self.path == "/latest/meta-data/instance-id":
                    return self._send(200, imds.instance_id)
                self._send(404, "not found")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def credentials(self) -> dict:
        with self._lock:
            if self._creds is None or (_utc(self._creds["Expiration"]) - datetime.now(timezone.utc)).total_seconds() < 600:
                self._creds = self._credentials()
            c = self._creds
            return {
                "Code": "Success", "Type": "AWS-HMAC", "LastUpdated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"], "Token": c["SessionToken"],
                "Expiration": c["Expiration"],
            }

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------------------------------------
# The namespace, the relay and the container.


class NetNS:
    """`ip netns add` with a random name; lo up with 169.254.169.254/32 on it."""

    def __init__(self):
        self.name = f"fi-host-{secrets.token_hex(4)}"
        sh("ip", "netns", "add", self.name)
        self.path = Path("/run/netns") / self.name
        sh("ip", "-n", self.name, "link", "set", "lo", "up")
        sh("ip", "-n", self.name, "addr", "add", "169.254.169.254/32", "dev", "lo")

    def delete(self):
        subprocess.run(["ip", "netns", "delete", self.name], check=False, capture_output=True)


class Relay:
    """relay.py: host services into the namespace (same port), namespace ports out to free ports."""

    def __init__(self, netns: NetNS, into: list[tuple[int, str, int]], out: dict[str, int], log: Path):
        self.ready = log.with_suffix(".ready")
        specs = [f"in:{hp}:{addr}:{np}" for hp, addr, np in into] + [f"out:{name}:{np}" for name, np in out.items()]
        self.log = open(log, "w")
        self.proc = subprocess.Popen([sys.executable, str(HERE / "relay.py"), str(netns.path), str(self.ready), *specs],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for("the relay", lambda: self.ready.exists() or self.proc.poll() is not None, 30, 0.1)
        assert self.proc.poll() is None, f"relay.py exited: {log.read_text()}"
        self.ports: dict[str, int] = json.loads(self.ready.read_text())

    def stop(self):
        stop_group(self.proc)
        self.log.close()


class Container:
    """systemd-nspawn -b of a root folder in a network namespace; its own process group."""

    def __init__(self, root: Path, netns: NetNS, log: Path):
        self.root, self.netns, self.log_path = root, netns, log
        self.proc = None

    def boot(self):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "-q", "-D", str(self.root), "-b", "--register=no", "--keep-unit", "--console=pipe",
             "--machine=fastapi-host", f"--network-namespace-path={self.netns.path}"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def poweroff(self, ssh):
        ssh("sudo", "systemctl", "poweroff", check=False, timeout=20)
        try:
            self.proc.wait(timeout=90)
        finally:
            self.stop()

    def stop(self):
        if self.proc:
            stop_group(self.proc, grace=30)
            self.log.close()
            self.proc = None
        # nspawn unmounts what it mounted; be sure nothing is left below the root.
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for m in sorted((m for m in mounts if m.startswith(str(self.root) + "/")), reverse=True):
            subprocess.run(["umount", "-l", m], check=False)


def apt_packages(user_data: str) -> list[str]:
    """The packages user_data installs (its APT_PACKAGES=(...) line)."""
    m = re.search(r"^APT_PACKAGES=\((.*)\)$", user_data, re.M)
    assert m, "user_data has no APT_PACKAGES=(...) line"
    return m.group(1).split()
