"""The test servers start on free ports even when another program holds or takes one (issue 12,
item 8: a full run once failed 17 minutes in because a fixed port was briefly taken)."""

import http.server
import socket
import subprocess
import sys
import threading

import harness
from harness import Moto, serve_on_free_port, stop_group


class Answering(http.server.BaseHTTPRequestHandler):
    """Another program on the port: it answers every GET with 200, like the server we start."""

    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"not yours\n")

    def log_message(self, *args):
        pass


def occupied_then_free(monkeypatch, held_port):
    """free_port() names the held port first (as if another program took it after we looked),
    then really free ones."""
    real = harness.free_port
    ports = iter([held_port])
    monkeypatch.setattr(harness, "free_port", lambda: next(ports, None) or real())


def test_a_held_port_that_answers_is_not_taken_for_ours(monkeypatch, tmp_path):
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answering)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    held = other.server_address[1]
    occupied_then_free(monkeypatch, held)
    try:
        moto = Moto(tmp_path)
        try:
            assert moto.port != held
            (log,) = tmp_path.glob("moto-*.log")
            assert f"--- moto_server on port {held}\n" in log.read_text()  # it was tried first
            moto.boto("s3").create_bucket(Bucket="mine")  # the server we talk to is moto, ours
        finally:
            moto.stop()
    finally:
        other.shutdown()
        other.server_close()


def test_a_server_that_cannot_bind_is_started_again(monkeypatch, tmp_path):
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answering)
    held = other.server_address[1]  # bound and listening, never accepting: a silent holder
    occupied_then_free(monkeypatch, held)
    spawned = []

    def spawn(port):
        spawned.append(port)
        return subprocess.Popen([sys.executable, "-m", "http.server", "-b", "127.0.0.1", str(port)], cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    try:
        port, proc = serve_on_free_port("http.server", spawn, port_open, wait=20)
        try:
            assert spawned[0] == held and port == spawned[-1] != held, spawned
        finally:
            stop_group(proc)
    finally:
        other.server_close()


def port_open(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0
