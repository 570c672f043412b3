"""`gen review` against real plans: dev applied to moto, then one fixture edit per case, a real
`terraform plan` of it, and `gen review --plan`: the comment's flags must agree with the plan's
actions (exit 0, no mismatch), and the comment is compared with a snapshot per case
(tests/e2e/snapshots/review_<case>.md; REVIEW_SNAPSHOTS=update rewrites them, then review the diff).
"""

import json
import os
import re
import shutil
import subprocess

import pytest

from harness import REPO, TEST_VARS, Terraform, write_json
from test_stack_moto import prepare

SNAPSHOTS = REPO / "tests/e2e/snapshots"


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# Each case: the edit of envs/dev.toml, and for the rename the address the base had instead.
CASES = {
    "db_name": lambda t: edit(t, 'db_name = "app"', 'db_name = "app2"'),
    "bucket_name": lambda t: edit(t, 'content = "fastapi-infra-dev-content"', 'content = "fastapi-infra-dev-media"'),
    "cidr": lambda t: edit(t, 'ssh_ingress_cidrs = ["203.0.113.0/24"]', 'ssh_ingress_cidrs = ["198.51.100.0/24"]'),
    "user_data": lambda t: edit(t, 'health_path = "/health"', 'health_path = "/healthz"'),
    "rename": lambda t: t,
}
# The rename: the base had the content bucket as aws_s3_bucket.media; the generator now emits
# aws_s3_bucket.content (no moved block), so the plan destroys one and creates the other.
RENAMED = ("aws_s3_bucket.content", "aws_s3_bucket.media")


def gen(*args, check=True):
    p = subprocess.run(["timeout", "120", "cargo", "run", "-q", "-p", "gen", "--", *args], cwd=REPO,
                       capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"gen {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def rename_in(folder, old, new):
    """The base's files with `old` (a resource address) written as `new`."""
    (kind, old_name), (_, new_name) = old.split("."), new.split(".")
    for f in folder.glob("*.tf.json"):
        doc = json.loads(f.read_text())
        blocks = doc.get("resource", {}).get(kind, {})
        if old_name in blocks:
            blocks[new_name] = blocks.pop(old_name)
        text = json.dumps(doc, indent=2).replace(f"${{{old}.", f"${{{new}.")
        f.write_text(text + "\n")


def normalized(md: str) -> str:
    return re.sub(r"^Base `[^`]*`, head `[^`]*`", "Base `BASE`, head `HEAD`", md, flags=re.M)


@pytest.mark.slow
def test_review_flags_match_real_plans(tmp_path, moto):
    work, tf = prepare("dev", tmp_path, moto)
    write_json(work / "terraform.tfvars.json", TEST_VARS)  # the variables without a default
    tf.run("apply", "-auto-approve", timeout=600)
    failures = []
    for case, change in CASES.items():
        d = tmp_path / case
        envs = d / "envs"
        shutil.copytree(REPO / "envs", envs)
        (envs / "dev.toml").write_text(change((REPO / "envs/dev.toml").read_text()))
        base = d / "base"
        shutil.copytree(REPO / "generated/dev", base / "dev")
        gen("--env", "dev", "--envs-dir", str(envs), "--out", str(d / "new"))
        case_dir = d / "work"
        shutil.copytree(work, case_dir, symlinks=True)
        for f in list(case_dir.glob("*.tf.json")) + [case_dir / "user_data.sh"]:
            if "_override" not in f.name and f.name != "terraform.tfvars.json":
                f.unlink()
        for f in (d / "new/dev").iterdir():
            shutil.copy(f, case_dir / f.name)
        ctf = Terraform(case_dir, d / "terraform.log")
        if case == "rename":
            rename_in(base / "dev", *RENAMED)
            ctf.run("state", "mv", RENAMED[0], RENAMED[1], timeout=60)
        ctf.run("plan", "-out=tfplan", timeout=300)
        (d / "plan.json").write_text(ctf.run("show", "-json", "tfplan").stdout)
        args = ["review", "--env", "dev", "--envs-dir", str(envs), "--out", str(base), "--plan", str(d / "plan.json")]
        md = gen(*args, check=False)
        js = gen(*args, "--json", check=False)
        assert md.returncode in (0, 1) and js.returncode == md.returncode, md.stderr + js.stderr
        review = json.loads(js.stdout)
        actions = {p["address"]: p["action"] for p in review["plan"] if p["action"] not in ("no-op", "read")}
        print(f"\n{case}: plan {actions}; mismatches {review['mismatches']}")
        if review["mismatches"]:
            failures.append((case, review["mismatches"], actions))
        snap = SNAPSHOTS / f"review_{case}.md"
        got = normalized(md.stdout)
        if os.environ.get("REVIEW_SNAPSHOTS") == "update":
            snap.parent.mkdir(exist_ok=True)
            snap.write_text(got)
        assert snap.exists(), f"{snap} is missing: run with REVIEW_SNAPSHOTS=update and review it"
        assert got == snap.read_text(), f"{case}: the comment differs from {snap} (REVIEW_SNAPSHOTS=update to accept)"
        assert len(md.stdout) <= 65536
    # The cases must show what they are about.
    texts = {c: (SNAPSHOTS / f"review_{c}.md").read_text() for c in CASES}
    assert "replaces the database" in texts["db_name"]
    assert "replaces the bucket" in texts["bucket_name"]
    assert "user_data changes stop and start the app host" in texts["user_data"]
    assert "without a moved block" in texts["rename"]
    assert "aws_vpc_security_group_ingress_rule.app_ssh_198_51_100_0_24" in texts["cidr"]
    assert not failures, f"gen's flags disagree with the plan: {failures}"
