"""The GitHub workflows, the pre-commit hooks and the CI env helper, checked without GitHub.

actionlint (the `actionlint` of tests/requirements.txt) lints every workflow, including the
shell in `run:` steps through shellcheck; the rest are the project's own rules: every action
pinned by commit SHA with its release named, least-privilege permissions, the role names that
bootstrap makes, and the same commands in pre-commit, CI and scripts/test.sh.
"""

import re
import shutil
import subprocess
import tomllib

import pytest
import yaml

from harness import REPO

WORKFLOWS = sorted((REPO / ".github/workflows").glob("*.yml"))
PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


def actionlint(*args, cwd=REPO):
    exe = shutil.which("actionlint")
    assert exe, "actionlint is missing: it comes with tests/requirements.txt (scripts/test.sh installs it)"
    return subprocess.run(["timeout", "120", exe, "-no-color", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True)


def load(path):
    # PyYAML reads the key `on` as True.
    return yaml.safe_load(path.read_text())


def test_the_four_workflows_exist():
    assert {p.name for p in WORKFLOWS} == {"ci.yml", "plan.yml", "apply.yml", "drift.yml"}


def test_actionlint_passes_on_every_workflow():
    p = actionlint(*WORKFLOWS)
    assert p.returncode == 0, p.stdout + p.stderr


def test_actionlint_catches_what_it_should(tmp_path):
    # The check above means something: an injectable expression in a run step and a broken
    # shell line are both refused.
    bad = tmp_path / ".github/workflows/bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
                   "      - run: echo ${{ github.event.pull_request.title }}\n"
                   "      - run: if [ -n $X ]; then echo; fi\n")
    p = actionlint(bad, cwd=tmp_path)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "potentially untrusted" in p.stdout
    assert "shellcheck" in p.stdout


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_sha_with_its_release(path):
    uses = [line.split("uses:", 1)[1].strip() for line in path.read_text().splitlines()
            if line.strip().startswith(("uses:", "- uses:"))]
    assert uses, path
    for u in uses:
        assert PIN.match(u), f"{path.name}: `{u}` is not pinned as <action>@<40-hex sha> # vX.Y.Z"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_permissions_are_least_privilege(path):
    wf = load(path)
    cloud = path.name != "ci.yml"
    # Cloud workflows grant nothing at the top; each job asks for what it needs.
    assert wf["permissions"] == ({} if cloud else {"contents": "read"})
    for name, job in wf["jobs"].items():
        perms = job.get("permissions", wf["permissions"])
        assert set(perms.values()) <= {"read", "write"}, (path.name, name)
        writes = {k for k, v in perms.items() if v == "write"}
        uses_aws = "configure-aws-credentials" in yaml.safe_dump(job)
        assert ("id-token" in writes) == uses_aws, (path.name, name, perms)
        assert writes <= {"id-token", "pull-requests"}, (path.name, name, perms)
        for step in job.get("steps", []):
            if "actions/checkout" in step.get("uses", ""):
                assert step["with"]["persist-credentials"] is False, (path.name, name)


def test_role_names_are_the_ones_bootstrap_makes():
    projects = {tomllib.loads(p.read_text())["project"] for p in (REPO / "envs").glob("*.toml")}
    assert len(projects) == 1
    (project,) = projects
    for path in WORKFLOWS:
        wf = load(path)
        text = path.read_text()
        roles = re.findall(r"role-to-assume: (.*)", text)
        if path.name == "ci.yml":
            assert not roles
            continue
        assert wf["env"]["PROJECT"] == project, path.name
        kind = "apply" if path.name == "apply.yml" else "plan"
        assert roles and all(r == "arn:aws:iam::${{ vars.AWS_ACCOUNT_ID }}:role/"
                             "${{ env.PROJECT }}-${{ matrix.env }}-ci-" + kind for r in roles), roles


def test_plan_runs_in_the_envs_plan_environment():
    # The plan role trusts `environment:<env>-plan`, not a bare pull request.
    job = load(REPO / ".github/workflows/plan.yml")["jobs"]["plan"]
    assert job["environment"] == "${{ matrix.env }}-plan"


def test_apply_runs_in_the_envs_github_environment():
    job = load(REPO / ".github/workflows/apply.yml")["jobs"]["apply"]
    assert job["environment"] == "${{ matrix.env }}"
    assert job["concurrency"] == {"group": "apply-${{ matrix.env }}", "cancel-in-progress": False}


def test_drift_is_a_refresh_only_plan_with_detailed_exit_code():
    wf = load(REPO / ".github/workflows/drift.yml")
    assert wf[True]["schedule"]
    text = (REPO / ".github/workflows/drift.yml").read_text()
    assert "plan -refresh-only -detailed-exitcode" in text
    assert ".resource_drift[]" in text and "GITHUB_STEP_SUMMARY" in text


def hooks():
    cfg = load(REPO / ".pre-commit-config.yaml")
    assert [r["repo"] for r in cfg["repos"]] == ["local"]
    return {h["id"]: h for r in cfg["repos"] for h in r["hooks"]}


def test_pre_commit_runs_what_ci_runs():
    h = hooks()
    assert {"cargo-fmt", "clippy", "gen-check", "shellcheck"} <= set(h)
    ci = (REPO / ".github/workflows/ci.yml").read_text()
    test_sh = (REPO / "scripts/test.sh").read_text()
    for hid in ("cargo-fmt", "clippy", "gen-check"):
        assert h[hid]["pass_filenames"] is False
        assert f"run: {h[hid]['entry']}" in ci, hid
        assert h[hid]["entry"] in test_sh, hid
    for hook in h.values():
        assert hook["language"] == "system", hook["id"]


@pytest.mark.parametrize("path,hook,runs", [
    ("crates/gen/src/main.rs", "cargo-fmt", True),
    ("crates/gen/src/main.rs", "clippy", True),
    ("Cargo.lock", "clippy", True),
    ("envs/dev.toml", "gen-check", True),
    ("generated/prod/main.tf.json", "gen-check", True),
    ("README.md", "gen-check", True),
    ("scripts/deploy.sh", "shellcheck", True),
    ("generated/dev/user_data.sh", "shellcheck", True),
    (".ci/run", "shellcheck", True),
    (".github/workflows/plan.yml", "actionlint", True),
    ("tests/e2e/harness.py", "shellcheck", False),
    ("docs/README.md", "gen-check", False),
])
def test_pre_commit_hooks_fire_on_their_files(path, hook, runs):
    assert bool(re.search(hooks()[hook]["files"], path)) == runs


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=cwd, check=True,
                   capture_output=True, timeout=30)


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts/ci-envs.sh", tmp_path / "scripts")
    for env, backend in (("bootstrap", False), ("dev", True), ("prod", True)):
        d = tmp_path / "generated" / env
        d.mkdir(parents=True)
        (d / "main.tf.json").write_text("{}\n")
        if backend:
            (d / "backend.tf.json").write_text("{}\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    return tmp_path


def ci_envs(repo, *args):
    return subprocess.run(["timeout", "30", "bash", "scripts/ci-envs.sh", *args], cwd=repo,
                          capture_output=True, text=True)


def test_ci_envs_lists_app_envs_only(repo):
    p = ci_envs(repo)
    assert (p.returncode, p.stdout) == (0, 'envs=["dev","prod"]\n'), p.stderr


def test_ci_envs_names_the_changed_app_envs(repo):
    (repo / "generated/prod/main.tf.json").write_text('{"x": 1}\n')
    (repo / "generated/bootstrap/main.tf.json").write_text('{"x": 1}\n')
    git(repo, "commit", "-q", "-am", "change prod and bootstrap")
    p = ci_envs(repo, "HEAD~1", "HEAD")
    assert (p.returncode, p.stdout) == (0, 'envs=["prod"]\n'), p.stderr
    p = ci_envs(repo, "HEAD", "HEAD")
    assert (p.returncode, p.stdout) == (0, "envs=[]\n"), p.stderr


def test_ci_envs_refuses_bad_names_and_revisions(repo):
    d = repo / "generated" / "Bad$(id)"
    d.mkdir()
    (d / "backend.tf.json").write_text("{}\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "bad")
    for args in ((), ("HEAD~1", "HEAD")):
        p = ci_envs(repo, *args)
        assert p.returncode == 2 and "is not an env name" in p.stderr, (args, p.stdout, p.stderr)
    p = ci_envs(repo, "--output=/tmp/x", "HEAD")
    assert p.returncode == 2 and "is not a git revision" in p.stderr
