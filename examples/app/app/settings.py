"""The app's settings: the environment variables of the app contract (`gen contract --env ENV`),
read once at start. Nothing else configures the app; no AWS key is read: boto3 finds the
instance role's credentials itself (IMDSv2)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    app_env: str
    aws_region: str
    # libpq's URL: TLS with sslmode=verify-full against the RDS CA bundle (sslrootcert).
    database_url: str
    tavily_api_key: str
    gemini_api_key: str
    # The app's buckets, by role: S3_BUCKET_ARTIFACTS, S3_BUCKET_CONTENT.
    buckets: dict[str, str]
    # Optional site overrides (only set by /etc/default/<app>): API base URLs, check bound.
    tavily_api_url: str
    gemini_api_url: str
    ready_timeout: float


# The contract's variables this app reads (a test checks each against `gen contract --json`).
REQUIRED = ("APP_ENV", "AWS_REGION", "DATABASE_URL", "TAVILY_API_KEY", "GEMINI_API_KEY",
            "S3_BUCKET_ARTIFACTS", "S3_BUCKET_CONTENT")
OPTIONAL = ("TAVILY_API_URL", "GEMINI_API_URL", "READY_TIMEOUT_SECONDS")


def load(env=os.environ) -> Settings:
    """The settings from the environment; a missing variable stops the app at start, by name."""
    missing = [k for k in REQUIRED if not env.get(k)]
    if missing:
        raise RuntimeError(f"missing environment variables of the app contract: {', '.join(missing)}")
    timeout = float(env.get("READY_TIMEOUT_SECONDS") or 3)
    if not 0 < timeout <= 60:
        raise RuntimeError("READY_TIMEOUT_SECONDS must be a number of seconds from 0 to 60")
    return Settings(
        app_env=env["APP_ENV"],
        aws_region=env["AWS_REGION"],
        database_url=env["DATABASE_URL"],
        tavily_api_key=env["TAVILY_API_KEY"],
        gemini_api_key=env["GEMINI_API_KEY"],
        buckets={"artifacts": env["S3_BUCKET_ARTIFACTS"], "content": env["S3_BUCKET_CONTENT"]},
        tavily_api_url=env.get("TAVILY_API_URL") or "https://api.tavily.com",
        gemini_api_url=env.get("GEMINI_API_URL") or "https://generativelanguage.googleapis.com",
        ready_timeout=timeout,
    )
