"""A FastAPI starter app for fastapi-infra's host: `/health` (the env file's health_path) and
`/ready`, which checks the database, S3 and the Tavily and Gemini APIs. Its settings are the
app contract's environment variables only (see settings.py and `gen contract --env ENV`)."""

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from . import checks, settings

VERSION = "v1"

SETTINGS = settings.load()
app = FastAPI()


@app.get("/health")
def health() -> dict:
    """Liveness: the process answers. user_data and deploy.sh wait for it."""
    return {"status": "ok", "version": VERSION, "env": SETTINGS.app_env}


@app.get("/ready")
def ready() -> JSONResponse:
    """Readiness: 200 when every dependency answers, else 503; one line per check."""
    results = checks.run(SETTINGS)
    ok = all(r["ok"] for r in results.values())
    body = {"ready": ok, "timeout_seconds": SETTINGS.ready_timeout, "checks": results}
    return JSONResponse(body, status_code=200 if ok else 503)
