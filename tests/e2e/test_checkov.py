"""checkov on the committed output of every environment (issues: deployment stack, remote state).

checkov passes silently what it cannot parse, so the test also asserts 0 parsing errors and a
floor of passed checks. versions.tf.json is skipped: checkov reports 0 checks on a file whose
`terraform` block has `required_version`.
"""

import json
import shutil
import subprocess
import tomllib

import pytest

from harness import REPO, envs, is_bootstrap

SKIPS = tomllib.loads((REPO / "tests/checkov/skips.toml").read_text())
# The one list of the checks prod must pass (README.md's is generated from it), and those of
# single-host prod envs, load-balanced envs and load-balanced prod envs.
MUST_PASS = tomllib.loads((REPO / "tests/checkov/must_pass.toml").read_text())
PROD_MUST_PASS = MUST_PASS["prod"]
# Every env file is scanned (no hand-kept list). An env with `protection = "prod"`
# must pass PROD_MUST_PASS; app envs pass more than 50 checks, the bootstrap env more than 20.
ENVS = envs()


def min_passed(env: str) -> int:
    return 20 if is_bootstrap(ENVS[env]) else 50


def is_prod(env: str) -> bool:
    return ENVS[env].get("protection") == "prod"


def is_load_balanced(env: str) -> bool:
    return ENVS[env].get("serving", {}).get("mode") == "load-balanced"


def must_pass(env: str) -> list[str]:
    checks = []
    if is_prod(env):
        checks += PROD_MUST_PASS + MUST_PASS["load_balanced_prod" if is_load_balanced(env) else "single_host_prod"]
    if is_load_balanced(env):
        checks += MUST_PASS["load_balanced"]
    return checks


def scan(env: str, skips: list[str]) -> dict:
    exe = shutil.which("checkov")
    assert exe, "checkov is not on PATH: run the tests through scripts/test.sh"
    args = [exe, "-d", str(REPO / "generated" / env), "--framework", "terraform_json", "--skip-download",
            "--skip-path", "versions.tf.json", "-o", "json", "--compact"]
    if skips:
        args += ["--skip-check", ",".join(skips)]
    proc = subprocess.run(["timeout", "300", *args], capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    return report[0] if isinstance(report, list) else report


def expected_failures(env: str) -> set[tuple[str, str]]:
    """(check, resource) pairs that fail on purpose: entries with `resources` in skips.toml."""
    return {(k, r) for k, v in SKIPS.items() if env in v["envs"] for r in v.get("resources", [])}


@pytest.mark.parametrize("env", sorted(ENVS))
def test_checkov(env):
    assert (REPO / "generated" / env).is_dir(), f"generated/{env} is missing: run `cargo run -p gen -- --env {env}`"
    skips = sorted(k for k, v in SKIPS.items() if env in v["envs"] and "resources" not in v)
    expected = expected_failures(env)
    required = must_pass(env)
    assert not set(skips) & set(required), "a check this env must pass is skipped"
    assert not {c for c, _ in expected} & set(required), "a check this env must pass is expected to fail"
    report = scan(env, skips)
    summary = report["summary"]
    failed = {(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]}
    print(f"\ncheckov {env}: passed {summary['passed']}, failed {summary['failed']} (expected: {sorted(expected)}), skipped {len(skips)} checks: {skips}")
    assert summary["parsing_errors"] == 0
    assert failed - expected == set(), (
        f"checkov failures in {env}: {sorted(failed - expected)}; fix the env, or skip a check on purpose: add `{env}` to its "
        "`envs` in tests/checkov/skips.toml with the reason (then `cargo run -p gen -- --all` updates the README's table)"
    )
    assert expected - failed == set(), f"listed in skips.toml but passing now (remove the entry): {sorted(expected - failed)}"
    assert summary["passed"] > min_passed(env)
    passed = {c["check_id"] for c in report["results"]["passed_checks"]}
    missing = [c for c in required if c not in passed]
    assert not missing, f"{env} must pass (not just not fail) {missing}"


def test_every_env_file_is_scanned(tmp_path):
    """The scanned list is the env folder: a new env file is scanned without editing this test."""
    assert sorted(ENVS) == sorted(p.stem for p in (REPO / "envs").glob("*.toml"))
    folder = tmp_path / "envs"
    folder.mkdir()
    for name in ("bootstrap", "dev"):
        (folder / f"{name}.toml").write_text((REPO / f"envs/{name}.toml").read_text())
    (folder / "staging.toml").write_text((REPO / "envs/dev.toml").read_text().replace("-dev-", "-staging-"))
    assert list(envs(folder)) == ["bootstrap", "dev", "staging"]
    assert is_bootstrap(envs(folder)["bootstrap"]) and not is_bootstrap(envs(folder)["staging"])


def test_prod_is_found():
    assert is_prod("prod") and not is_prod("dev") and not is_prod("bootstrap")
    single = PROD_MUST_PASS + MUST_PASS["single_host_prod"]
    assert len(single) >= 13 and all(c.startswith("CKV") for c in single), single
    assert "CKV_AWS_8" in must_pass("prod") and "CKV_AWS_150" not in must_pass("prod")
    assert {"CKV_AWS_150", "CKV_AWS_2", "CKV2_AWS_11"} <= set(must_pass("prod-ha")), must_pass("prod-ha")


def test_skips_name_existing_envs():
    stale = {(k, e) for k, v in SKIPS.items() for e in v["envs"] if e not in ENVS}
    assert not stale, f"tests/checkov/skips.toml names envs that do not exist: {sorted(stale)}"


OIDC_CHECKS = ["CKV_AWS_358", "CKV_AWS_393"]


def scan_oidc(folder) -> dict:
    exe = shutil.which("checkov")
    assert exe, "checkov is not on PATH: run the tests through scripts/test.sh"
    proc = subprocess.run(["timeout", "300", exe, "-d", str(folder), "--framework", "terraform", "--skip-download",
                           "--check", ",".join(OIDC_CHECKS), "-o", "json", "--compact"],
                          capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    return report[0] if isinstance(report, list) else report


def test_github_oidc_checks_pass_on_the_ci_roles(tmp_path):
    """checkov's GitHub OIDC checks run on `data.aws_iam_policy_document` only in HCL (checkov's
    terraform_json framework does not evaluate them), so they run on `gen --format hcl`'s view of
    bootstrap; a trust widened to every repository makes them fail."""
    subprocess.run(["timeout", "120", "cargo", "run", "-q", "-p", "gen", "--", "--env", "bootstrap", "--format", "hcl",
                    "--out", str(tmp_path)], cwd=REPO, check=True, capture_output=True)
    report = scan_oidc(tmp_path / "bootstrap")
    passed = [(c["check_id"], c["resource"]) for c in report["results"]["passed_checks"]]
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert report["summary"]["parsing_errors"] == 0
    assert not failed, failed
    for env in ("dev", "prod"):
        for role in ("ci_plan", "ci_apply"):
            assert ("CKV_AWS_358", f"aws_iam_policy_document.{env}_{role}_trust") in passed, passed
            assert ("CKV_AWS_393", f"aws_iam_role.{env}_{role}") in passed, passed
    main = tmp_path / "bootstrap/main.tf"
    repo = ENVS["bootstrap"]["ci"]["github_repository"]
    main.write_text(main.read_text().replace(f"repo:{repo}:environment:dev-plan", "repo:*")
                    .replace('"StringEquals"', '"StringLike"'))
    failed = {c["check_id"] for c in scan_oidc(tmp_path / "bootstrap")["results"]["failed_checks"]}
    assert "CKV_AWS_358" in failed, failed


# checkov's SNS, KMS and alarm checks, which its terraform_json framework does not run on these
# blocks (the JSON scan above reports only CKV2_AWS_64 for them).
ALARM_CHECKS = {
    "CKV_AWS_26": "aws_sns_topic.alarms",  # SNS topic encrypted
    "CKV_AWS_7": "aws_kms_key.alarms",  # key rotation
    "CKV_AWS_33": "aws_kms_key.alarms",  # no wildcard principal in the key policy
    "CKV_AWS_227": "aws_kms_key.alarms",  # key enabled
    "CKV_AWS_319": "aws_cloudwatch_metric_alarm.rds_cpu",  # alarm actions enabled
}


def scan_checks(folder, checks) -> dict:
    exe = shutil.which("checkov")
    assert exe, "checkov is not on PATH: run the tests through scripts/test.sh"
    proc = subprocess.run(["timeout", "300", exe, "-d", str(folder), "--framework", "terraform", "--skip-download",
                           "--skip-path", "versions.tf", "--check", ",".join(checks), "-o", "json", "--compact"],
                          capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    return report[0] if isinstance(report, list) else report


@pytest.mark.parametrize("env", sorted(e for e in ENVS if not is_bootstrap(ENVS[e])))
def test_alarm_topic_and_key_checks_pass(env, tmp_path):
    """The alarm topic is encrypted with a rotated key whose policy names no wildcard principal,
    and the alarms' actions are on (checked on `gen --format hcl`'s view); an unencrypted topic
    makes CKV_AWS_26 fail."""
    subprocess.run(["timeout", "120", "cargo", "run", "-q", "-p", "gen", "--", "--env", env, "--format", "hcl",
                    "--out", str(tmp_path)], cwd=REPO, check=True, capture_output=True)
    report = scan_checks(tmp_path / env, ALARM_CHECKS)
    assert report["summary"]["parsing_errors"] == 0
    passed = {(c["check_id"], c["resource"]) for c in report["results"]["passed_checks"]}
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert not failed, failed
    assert set(ALARM_CHECKS.items()) <= passed, sorted(passed)
    main = tmp_path / env / "main.tf"
    text = main.read_text()
    line = next(l for l in text.splitlines() if "kms_master_key_id" in l)
    main.write_text(text.replace(line + "\n", ""))
    failed = {(c["check_id"], c["resource"]) for c in scan_checks(tmp_path / env, ["CKV_AWS_26"])["results"]["failed_checks"]}
    assert ("CKV_AWS_26", "aws_sns_topic.alarms") in failed, failed
