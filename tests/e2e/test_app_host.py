"""The app host, booted for real (issue: app host).

A Debian root (debootstrap, cached) boots with systemd-nspawn; real cloud-init runs the rendered
generated/dev/user_data.sh from a NoCloud seed. Around it, on 127.0.0.1 only: moto (SSM with
the app's settings, S3 with its buckets), a real PostgreSQL, the fixture app in a git
repository served over HTTP, and stand-ins for the Tavily and Gemini APIs. The container shares
the host's network namespace, so the app's port 8000 and the container's sshd (port 2222) are
on the host's loopback.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from harness import FIXTURES, REPO, Moto, free_port, stop_group

ENV = "dev"
APP = "fastapi-infra"
PREFIX = f"/{APP}/{ENV}"
BUCKETS = [f"{APP}-{ENV}-{r}" for r in ("logs", "artifacts", "content")]
SSH_PORT = 2222
APP_PORT = 8000


def sh(*args, timeout=60, check=True, env=None, **kw):
    proc = subprocess.run(["timeout", str(timeout), *args], capture_output=True, text=True, env=env, **kw)
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


def port_free(port):
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


class Postgres:
    """A throwaway PostgreSQL server on 127.0.0.1, run as the `postgres` user."""

    def __init__(self):
        # Outside pytest's private tmp folder: the postgres user must reach it.
        self.base = Path(tempfile.mkdtemp(prefix="fastapi-infra-pg-"))
        self.dir = self.base / "data"
        self.port = free_port()
        pwfile = self.base / "pw"
        pwfile.write_text("admin-password\n")
        shutil.chown(self.base, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
        sh("runuser", "-u", "postgres", "--", "initdb", "-D", str(self.dir), "-A", "scram-sha-256",
           "-U", "postgres", f"--pwfile={pwfile}", timeout=120)
        self.start()
        env = dict(os.environ, PGPASSWORD="admin-password")
        for sql in ("CREATE ROLE app LOGIN PASSWORD 'test-password-123'", "CREATE DATABASE app OWNER app"):
            sh("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-c", sql, env=env)

    def start(self):
        sh("runuser", "-u", "postgres", "--", "pg_ctl", "-D", str(self.dir), "-l", str(self.dir / "log"), "-w", "-t", "60",
           "-o", f"-h 127.0.0.1 -p {self.port} -k /tmp", "start", timeout=90)

    def stop(self):
        sh("runuser", "-u", "postgres", "--", "pg_ctl", "-D", str(self.dir), "-m", "fast", "-w", "-t", "60", "stop",
           timeout=90, check=False)

    def remove(self):
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


class Static:
    """python -m http.server on 127.0.0.1 for a folder (git's dumb HTTP protocol, API stand-ins)."""

    def __init__(self, folder: Path, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "http.server", "-b", "127.0.0.1", str(self.port)],
                                     cwd=folder, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(f"http.server on {self.port}", lambda: not port_free(self.port), 20, 0.2)

    def stop(self):
        stop_group(self.proc)
        self.log.close()


class Container:
    """systemd-nspawn -b of a root folder, its own process group, killed on stop."""

    def __init__(self, root: Path, log: Path):
        self.root = root
        self.log_path = log
        self.proc = None

    def boot(self):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "-q", "-D", str(self.root), "-b", "--register=no", "--keep-unit",
             "--console=pipe", "--machine=fastapi-host"],
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
        # nspawn unmounts what it mounted; be sure nothing is left below the root.
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for m in sorted((m for m in mounts if m.startswith(str(self.root) + "/")), reverse=True):
            subprocess.run(["umount", "-l", m], check=False)


def prepare_root(root: Path, tmp: Path, moto: Moto, tavily: Static, gemini: Static) -> Path:
    # The instance's image: a login user with sudo and our key, sshd on 127.0.0.1:2222.
    key = tmp / "id_ed25519"
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    sh("chroot", str(root), "useradd", "--create-home", "--shell", "/bin/bash", "--groups", "sudo", "ubuntu")
    ssh_dir = root / "home/ubuntu/.ssh"
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "authorized_keys").write_text(Path(f"{key}.pub").read_text())
    sh("chroot", str(root), "chown", "-R", "ubuntu:ubuntu", "/home/ubuntu/.ssh")
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n127.0.1.1 fastapi-host\n")
    (root / "etc/sudoers.d/90-ubuntu").write_text("ubuntu ALL=(ALL) NOPASSWD:ALL\n")
    (root / "etc/ssh/sshd_config.d/90-test.conf").write_text(
        f"Port {SSH_PORT}\nListenAddress 127.0.0.1\nPasswordAuthentication no\n")
    # The instance's site overrides: what IMDS and the real endpoints give on EC2.
    (root / f"etc/default/{APP}").write_text("\n".join([
        "export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test",
        f"export AWS_ENDPOINT_URL={moto.url}",
        f"export TAVILY_API_URL={tavily.url} GEMINI_API_URL={gemini.url}",
        "export PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
    ]) + "\n")
    # cloud-init's NoCloud seed: the rendered user_data of dev, as the stack would pass it.
    seed = root / "var/lib/cloud/seed/nocloud"
    seed.mkdir(parents=True)
    shutil.copy(REPO / f"generated/{ENV}/user_data.sh", seed / "user-data")
    (seed / "meta-data").write_text("instance-id: i-0fastapihost0001\nlocal-hostname: fastapi-host\n")
    return key


@pytest.mark.slow
def test_app_host_boot_deploy_verify(tmp_path, moto):
    for port in (SSH_PORT, APP_PORT):
        assert port_free(port), f"port {port} on 127.0.0.1 is taken; the test needs it"
    t0 = time.monotonic()
    cached = sh(str(REPO / "tests/host/make-rootfs.sh"), timeout=1800).stdout.strip().splitlines()[-1]
    t_rootfs = time.monotonic() - t0
    root = tmp_path / "root"
    sh("cp", "-a", "--reflink=auto", cached, str(root), timeout=300)

    servers, container, pg = [], None, None
    try:
        # The world around the instance, on loopback.
        pg = Postgres()
        repo = tmp_path / "git"
        repo.mkdir()
        sh("git", "init", "-q", "--bare", "-b", "main", str(repo / "app.git"))
        work = tmp_path / "work"
        shutil.copytree(FIXTURES / "app", work)
        git = ["git", "-C", str(work), "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
        sh(*git[:3], "init", "-q", "-b", "main")
        sh(*git, "add", "-A")
        sh(*git, "commit", "-q", "-m", "v1")
        sh(*git, "push", "-q", str(repo / "app.git"), "main")
        sh("git", "-C", str(repo / "app.git"), "update-server-info")
        git_http = Static(repo, tmp_path / "git-http.log")
        servers.append(git_http)
        apis = tmp_path / "apis"
        apis.mkdir()
        tavily = Static(apis, tmp_path / "tavily.log")
        gemini = Static(apis, tmp_path / "gemini.log")
        servers += [tavily, gemini]

        ssm, s3 = moto.boto("ssm"), moto.boto("s3")
        settings = {
            "db_host": "127.0.0.1", "db_port": str(pg.port), "db_name": "app", "db_username": "app",
            "db_password": "test-password-123", "tavily_api_key": "tvly-test", "gemini_api_key": "gemini-test",
            "repo_url": f"{git_http.url}/app.git", "repo_branch": "main",
        }
        for k, v in settings.items():
            ssm.put_parameter(Name=f"{PREFIX}/{k}", Value=v, Type="SecureString")
        for b in BUCKETS:
            s3.create_bucket(Bucket=b)

        key = prepare_root(root, tmp_path, moto, tavily, gemini)
        script_env = dict(os.environ, SSH_HOST="127.0.0.1", SSH_PORT=str(SSH_PORT), SSH_USER="ubuntu", SSH_KEY=str(key),
                          SSH_OPTS="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
                          APP_URL=f"http://127.0.0.1:{APP_PORT}", HEALTH_TRIES="30", HEALTH_DELAY="1")

        def script(name, *args, timeout=300, check=True):
            return sh(str(REPO / "scripts" / name), *args, timeout=timeout, check=check, env=script_env)

        def ssh(*cmd, timeout=60, check=True):
            return script("ssh.sh", ENV, "--", *cmd, timeout=timeout, check=check)

        # First boot: cloud-init runs user_data.
        t_boot = time.monotonic()
        container = Container(root, tmp_path / "console.log")
        container.boot()
        wait_for("sshd in the container", lambda: ssh("true", timeout=15, check=False).returncode == 0, 180, 2)
        status = ssh("sudo", "cloud-init", "status", "--wait", timeout=900, check=False)
        log = ssh("sudo", "cat", "/var/log/user-data.log", check=False).stdout
        assert "status: done" in status.stdout, f"cloud-init: {status.stdout}{status.stderr}\nuser-data.log:\n{log[-6000:]}"
        t_boot = time.monotonic() - t_boot

        unit = f"{APP}.service"
        assert ssh("systemctl", "is-enabled", unit).stdout.strip() == "enabled"
        assert ssh("systemctl", "is-active", unit).stdout.strip() == "active"
        pid = ssh("systemctl", "show", "-p", "MainPID", "--value", unit).stdout.strip()
        assert ssh("ps", "-o", "user=", "-p", pid).stdout.strip() == "fastapi", "the app must not run as root"
        assert ssh(f"sudo stat -c '%a %U' /etc/{APP}/env").stdout.strip() == "600 root"
        user_data = ssh("sudo", "cat", "/var/lib/cloud/instance/user-data.txt").stdout
        assert "set -euo pipefail" in user_data and "test-password-123" not in user_data

        health = script("curl-health.sh", ENV)
        assert '"version":"v1"' in health.stdout, health.stdout
        assert ssh("hostname").stdout.strip() == "fastapi-host"

        # deploy.sh rolls out a new commit.
        main_py = work / "app/main.py"
        main_py.write_text(main_py.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
        sh(*git, "commit", "-q", "-am", "v2")
        sh(*git, "push", "-q", str(repo / "app.git"), "main")
        sh("git", "-C", str(repo / "app.git"), "update-server-info")
        script_env["HEALTH_EXPECT"] = '"version":"v2"'
        deployed = script("deploy.sh", ENV, timeout=300)
        assert "healthy" in deployed.stdout and '"version":"v2"' in deployed.stdout, deployed.stdout

        # A broken commit: deploy.sh fails, says why, and shows the journal; a fix recovers.
        main_py.write_text(main_py.read_text().replace("app = FastAPI()", 'raise RuntimeError("boom at import")\napp = FastAPI()'))
        sh(*git, "commit", "-q", "-am", "broken")
        sh(*git, "push", "-q", str(repo / "app.git"), "main")
        sh("git", "-C", str(repo / "app.git"), "update-server-info")
        script_env["HEALTH_TRIES"] = "5"
        failed = script("deploy.sh", ENV, timeout=300, check=False)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "recent journal" in failed.stderr and "boom at import" in failed.stderr, failed.stderr[-3000:]
        script_env["HEALTH_TRIES"] = "30"
        main_py.write_text(main_py.read_text().replace('raise RuntimeError("boom at import")\n', ""))
        sh(*git, "commit", "-q", "-am", "fixed")
        sh(*git, "push", "-q", str(repo / "app.git"), "main")
        sh("git", "-C", str(repo / "app.git"), "update-server-info")
        script("deploy.sh", ENV, timeout=300)
        del script_env["HEALTH_EXPECT"]

        # user_data is safe to run twice.
        again = ssh("sudo", "bash", "/var/lib/cloud/instance/user-data.txt", timeout=600, check=False)
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
        assert '"version":"v2"' in script("curl-health.sh", ENV).stdout

        # kill -9 of the app: systemd restarts it.
        pid = ssh("systemctl", "show", "-p", "MainPID", "--value", unit).stdout.strip()
        ssh("sudo", "kill", "-9", pid)
        wait_for("a new app process", lambda: ssh("systemctl", "show", "-p", "MainPID", "--value", unit).stdout.strip() not in ("0", pid), 60)
        script("curl-health.sh", ENV)

        # verify.sh: every check passes, then the database goes away and it says so.
        verified = script("verify.sh", ENV, timeout=180, check=False)
        print("\n" + verified.stdout)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        for check in ("health", "database", "s3", "tavily", "gemini"):
            assert re.search(rf"^PASS {check}:", verified.stdout, re.M), f"{check} missing:\n{verified.stdout}"
        # The app's buckets: artifacts and content (the logs bucket is S3's log delivery target).
        assert verified.stdout.count("PASS s3:") == 2
        pg.stop()
        broken = script("verify.sh", ENV, timeout=180, check=False)
        assert broken.returncode == 1 and re.search(r"^FAIL database:", broken.stdout, re.M), broken.stdout
        pg.start()

        # Second boot: user_data does not run again, the service comes back by itself.
        runs = ssh("sudo", "cat", "/var/log/user-data.log").stdout.count("user-data: start")
        assert runs == 2, "one run by cloud-init, one by hand above"
        t_reboot = time.monotonic()
        container.poweroff(ssh)
        container.boot()
        wait_for("sshd after reboot", lambda: ssh("true", timeout=15, check=False).returncode == 0, 180, 2)
        ssh("sudo", "cloud-init", "status", "--wait", timeout=300, check=False)
        script("curl-health.sh", ENV)
        log = ssh("sudo", "cat", "/var/log/user-data.log").stdout
        assert log.count("user-data: start") == runs, "user_data ran again on the second boot"
        assert ssh("systemctl", "is-active", unit).stdout.strip() == "active"
        t_reboot = time.monotonic() - t_reboot
        print(f"\napp host timings (s): rootfs {t_rootfs:.1f} (cached when small), first boot to cloud-init done {t_boot:.1f}, "
              f"second boot to healthy {t_reboot:.1f}, whole test {time.monotonic() - t0:.1f}")
    finally:
        if container:
            container.stop()
        for s in servers:
            s.stop()
        if pg:
            pg.remove()
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)
