"""Readiness checks: the database, each bucket, and the reachability of the Tavily and Gemini
APIs. Each check is bounded by READY_TIMEOUT_SECONDS and reports one line, never a secret."""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor, wait

import boto3
import psycopg
from botocore.config import Config

from .settings import Settings


def database(s: Settings) -> str:
    # DATABASE_URL verifies the server's certificate and host name (sslmode=verify-full).
    timeout = max(2, math.ceil(s.ready_timeout))  # libpq's minimum is 2 s
    with psycopg.connect(s.database_url, connect_timeout=timeout) as conn:
        conn.execute(f"SET statement_timeout = {int(s.ready_timeout * 1000)}")
        one = conn.execute("select 1").fetchone()[0]
        if one != 1:
            raise RuntimeError(f"select 1 gave {one!r}")
        return f"select 1 on {conn.info.host}:{conn.info.port} (TLS, certificate verified)"


def bucket(s: Settings, name: str) -> str:
    # No keys: boto3's default chain finds the instance role (IMDSv2).
    cfg = Config(connect_timeout=s.ready_timeout, read_timeout=s.ready_timeout, retries={"max_attempts": 1})
    boto3.client("s3", region_name=s.aws_region, config=cfg).head_bucket(Bucket=name)
    return f"{name} reachable"


def api(s: Settings, url: str) -> str:
    # Reachability only: any HTTP answer counts (the key is not sent, nothing is billed).
    try:
        with urllib.request.urlopen(url, timeout=s.ready_timeout) as r:
            return f"HTTP {r.status}"
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code}"


def run(s: Settings) -> dict[str, dict]:
    """Every check, side by side, within about READY_TIMEOUT_SECONDS (+1 s) in all."""
    checks = {"database": lambda: database(s), "tavily": lambda: api(s, s.tavily_api_url),
              "gemini": lambda: api(s, s.gemini_api_url)}
    checks.update({f"s3 {role}": (lambda n=n: bucket(s, n)) for role, n in s.buckets.items()})
    pool = ThreadPoolExecutor(max_workers=len(checks))
    try:
        futures = {name: pool.submit(fn) for name, fn in checks.items()}
        wait(futures.values(), timeout=max(2, math.ceil(s.ready_timeout)) + 1)
        out = {}
        for name, f in futures.items():
            if not f.done():
                out[name] = {"ok": False, "detail": f"no answer within {s.ready_timeout:g} s"}
            elif f.exception() is not None:
                e = f.exception()
                out[name] = {"ok": False, "detail": f"{type(e).__name__}: {' '.join(str(e).split())[:500]}"}
            else:
                out[name] = {"ok": True, "detail": f.result()}
        return out
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
