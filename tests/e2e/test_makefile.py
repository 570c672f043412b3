"""The Makefile's guard rails, run for real with `make` in a scratch folder (no Terraform)."""

import shutil
import subprocess

import pytest

from harness import REPO


def make(folder, *args):
    return subprocess.run(["timeout", "60", "make", "-f", str(REPO / "Makefile"), "-C", str(folder), *args],
                          capture_output=True, text=True)


@pytest.mark.parametrize("env,example", [("prod", "prod"), ("staging", "dev"), ("qa", "dev")])
def test_missing_tfvars_point_at_an_example_that_exists(tmp_path, env, example):
    (tmp_path / "envs").mkdir()
    for e in ("dev", "prod"):
        shutil.copy(REPO / f"envs/{e}.tfvars.example", tmp_path / "envs")
    for target in ("plan", "apply", "destroy"):
        p = make(tmp_path, target, f"ENV={env}", "TF=false")
        assert p.returncode == 2, p.stdout + p.stderr
        assert f"fix: cp envs/{example}.tfvars.example envs/{env}.tfvars and fill it in" in p.stderr, p.stderr
        assert (tmp_path / f"envs/{example}.tfvars.example").exists()
