"""TCP relays between the host's loopback and a network namespace (the app-host container's).

    python3 relay.py NETNS_PATH READY_FILE SPEC...

SPEC is one of
    in:HOST_PORT:NS_ADDR:NS_PORT   listen in the namespace on NS_ADDR:NS_PORT, connect to the
                                   host's 127.0.0.1:HOST_PORT (moto, Postgres, IMDS, mirrors...)
    out:NAME:NS_PORT               listen on a free port of the host's 127.0.0.1, connect to
                                   127.0.0.1:NS_PORT in the namespace (the container's sshd, app)

One process, no socket files: a socket belongs to the network namespace of the thread that
created it, so the relay enters the namespace (setns) only to create a socket, then returns.
When every listener is up it writes READY_FILE: JSON {"NAME": host_port} for the `out` specs.
It runs until it is stopped (SIGTERM); every connection it makes has a timeout.
"""

import asyncio
import ctypes
import json
import os
import signal
import socket
import sys

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
HOST_NS = os.open("/proc/self/ns/net", os.O_RDONLY)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def socket_in(ns_fd: int) -> socket.socket:
    """A TCP socket that lives in the namespace `ns_fd` (this thread stays in the host's)."""
    _setns(ns_fd)
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    finally:
        _setns(HOST_NS)
    s.setblocking(False)
    return s


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


def _handler(connect):
    async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        try:
            ur, uw = await asyncio.wait_for(connect(), timeout=10)
        except (OSError, asyncio.TimeoutError):
            cw.close()
            return
        try:
            await asyncio.gather(_pipe(cr, uw), _pipe(ur, cw))
        finally:
            cw.close()
            uw.close()

    return handle


async def main(ns_path: str, ready: str, specs: list[str]) -> None:
    ns_fd = os.open(ns_path, os.O_RDONLY)
    loop = asyncio.get_running_loop()
    servers, ports = [], {}
    for spec in specs:
        kind, *rest = spec.split(":")
        if kind == "in":
            host_port, ns_addr, ns_port = int(rest[0]), rest[1], int(rest[2])
            lsock = socket_in(ns_fd)
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lsock.bind((ns_addr, ns_port))

            def connect(port=host_port):
                return asyncio.open_connection("127.0.0.1", port)

        elif kind == "out":
            name, ns_port = rest[0], int(rest[1])
            lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lsock.bind(("127.0.0.1", 0))
            ports[name] = lsock.getsockname()[1]

            async def connect(port=ns_port):
                s = socket_in(ns_fd)
                try:
                    await loop.sock_connect(s, ("127.0.0.1", port))
                except OSError:
                    s.close()
                    raise
                return await asyncio.open_connection(sock=s)

        else:
            raise SystemExit(f"relay: bad spec {spec!r}")
        lsock.listen(64)
        lsock.setblocking(False)
        servers.append(await asyncio.start_server(_handler(connect), sock=lsock))
    tmp = ready + ".tmp"
    with open(tmp, "w") as f:
        json.dump(ports, f)
    os.replace(tmp, ready)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    for s in servers:
        s.close()


if __name__ == "__main__":
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
