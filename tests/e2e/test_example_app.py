"""The starter app (examples/app) keeps to the app contract: it reads only variables the host
gives (generated/<env>/app_contract.json, what `gen contract --json` prints), its requirements
file is where the host looks for it, and a missing setting stops it by name. Running it for real
is the app-host test's job (test_app_host.py deploys this app)."""

import importlib.util
import json
import sys

import pytest

from harness import EXAMPLE_APP, REPO


def settings_module():
    spec = importlib.util.spec_from_file_location("example_settings", EXAMPLE_APP / "app/settings.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look the module up
    spec.loader.exec_module(mod)
    return mod


def contract(env):
    return json.loads((REPO / f"generated/{env}/app_contract.json").read_text())


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_app_reads_only_what_the_contract_gives(env):
    c, s = contract(env), settings_module()
    given = {v["name"] for v in c["variables"]}
    optional = {v["name"] for v in c["optional_variables"]}
    assert set(s.REQUIRED) <= given, set(s.REQUIRED) - given
    assert set(s.OPTIONAL) <= optional, set(s.OPTIONAL) - optional
    code = "\n".join(p.read_text() for p in (EXAMPLE_APP / "app").glob("*.py"))
    assert "AWS_ACCESS_KEY_ID" not in code and "AWS_SECRET_ACCESS_KEY" not in code, "the app reads no AWS keys"
    # The contract's ASGI path and requirements file are there.
    module, attr = c["asgi_app"].split(":")
    assert (EXAMPLE_APP / (module.replace(".", "/") + ".py")).read_text().count(f"\n{attr} = FastAPI(") == 1
    assert "requirements.txt at the root of the repository" in c["requirements"]
    assert (EXAMPLE_APP / "requirements.txt").is_file()
    assert f'@app.get("{c["health_path"]}")' in (EXAMPLE_APP / "app/main.py").read_text()


def test_settings_come_from_the_contract_variables_only():
    c, s = contract("dev"), settings_module()
    env = {v["name"]: f"value of {v['name']}" for v in c["variables"]}
    got = s.load(env)
    assert got.app_env == env["APP_ENV"] and got.database_url == env["DATABASE_URL"]
    assert got.buckets == {"artifacts": env["S3_BUCKET_ARTIFACTS"], "content": env["S3_BUCKET_CONTENT"]}
    assert got.ready_timeout == 3 and got.tavily_api_url == "https://api.tavily.com"
    got = s.load(dict(env, READY_TIMEOUT_SECONDS="0.5", TAVILY_API_URL="http://127.0.0.1:9"))
    assert got.ready_timeout == 0.5 and got.tavily_api_url == "http://127.0.0.1:9"
    with pytest.raises(RuntimeError, match="DATABASE_URL, GEMINI_API_KEY"):
        s.load({k: v for k, v in env.items() if k not in ("DATABASE_URL", "GEMINI_API_KEY")})
    with pytest.raises(RuntimeError, match="READY_TIMEOUT_SECONDS"):
        s.load(dict(env, READY_TIMEOUT_SECONDS="600"))
