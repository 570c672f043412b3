"""Schema conformance (issue: review and insight).

Reads the real AWS provider schema (`terraform providers schema -json` with the mirrored
provider) and checks every resource and data source the modules emit, in every env and in a
variant env that turns on the choices the committed envs do not use: each attribute and block
exists with a compatible type, every required attribute and block is set, and no computed-only
attribute is set. A typo or a removed argument fails here, before `terraform validate`.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest

from harness import PLUGIN_DIR, REPO, envs, is_bootstrap

PROVIDER = "registry.terraform.io/hashicorp/aws"
META = {"depends_on", "lifecycle", "count", "for_each", "provider", "//"}


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    d = tmp_path_factory.mktemp("schema")
    (d / "versions.tf.json").write_text((REPO / "generated/dev/versions.tf.json").read_text())
    env = {"TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "PATH": "/usr/local/bin:/usr/bin:/bin"}
    subprocess.run(["timeout", "120", "terraform", "init", "-backend=false", f"-plugin-dir={PLUGIN_DIR}"],
                   cwd=d, env=env, check=True, capture_output=True)
    out = subprocess.run(["timeout", "120", "terraform", "providers", "schema", "-json"],
                         cwd=d, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["provider_schemas"][PROVIDER]


def is_expression(v):
    return isinstance(v, str) and "${" in v


def compatible(t, v):
    if is_expression(v):
        # A reference or a template: Terraform checks its type at plan time. A template with
        # literal text around it can only be a string.
        whole = v.startswith("${") and v.endswith("}") and v.count("${") == 1
        return whole or t in ("string", "dynamic")
    if t == "dynamic":
        return True
    if t == "string":
        return isinstance(v, (str, int, float, bool))
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool) or (isinstance(v, str) and v.replace(".", "", 1).isdigit())
    if t == "bool":
        return isinstance(v, bool) or v in ("true", "false")
    kind, inner = t[0], t[1]
    if kind in ("list", "set"):
        return isinstance(v, list) and all(compatible(inner, x) for x in v)
    if kind == "map":
        return isinstance(v, dict) and all(compatible(inner, x) for x in v.values())
    if kind == "object":
        return isinstance(v, dict) and all(k in inner and compatible(inner[k], x) for k, x in v.items())
    if kind == "tuple":
        return isinstance(v, list) and len(v) == len(inner) and all(compatible(a, b) for a, b in zip(inner, v))
    return False


def check_block(block, body, where, problems):
    attrs, blocks = block.get("attributes", {}), block.get("block_types", {})
    for key, value in body.items():
        path = f"{where}.{key}"
        if key in META:
            continue
        if key in attrs:
            a = attrs[key]
            if a.get("computed") and not a.get("optional") and not a.get("required"):
                problems.append(f"{path}: computed-only attribute is set")
            elif not compatible(a["type"], value):
                problems.append(f"{path}: {value!r} does not fit type {a['type']}")
        elif key in blocks:
            b = blocks[key]
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(i, dict) for i in items):
                problems.append(f"{path}: a nested block must be an object or a list of objects")
                continue
            if b.get("max_items") and len(items) > b["max_items"]:
                problems.append(f"{path}: {len(items)} blocks, at most {b['max_items']}")
            for i, item in enumerate(items):
                check_block(b["block"], item, f"{path}[{i}]", problems)
        else:
            problems.append(f"{path}: no such attribute or block in the provider schema")
    for key, a in attrs.items():
        if a.get("required") and key not in body:
            problems.append(f"{where}.{key}: required attribute is missing")
    for key, b in blocks.items():
        if b.get("min_items", 0) > 0 and key not in body:
            problems.append(f"{where}.{key}: required block is missing")


def check_files(schema, folder: Path):
    problems, seen = [], set()
    for f in sorted(folder.glob("*.tf.json")):
        doc = json.loads(f.read_text())
        for section, key in (("resource", "resource_schemas"), ("data", "data_source_schemas")):
            for kind, blocks in doc.get(section, {}).items():
                s = schema[key].get(kind)
                if s is None:
                    problems.append(f"{section}.{kind}: no such type in the provider")
                    continue
                for name, body in blocks.items():
                    seen.add(f"{section}.{kind}")
                    check_block(s["block"], body, f"{f.parent.name}/{kind}.{name}", problems)
    return problems, seen


@pytest.fixture(scope="module")
def variant(tmp_path_factory):
    """An env file with the choices the committed envs do not make: a pinned AMI, SSH open to the
    world on purpose, lockfile locking, and a moved block."""
    d = tmp_path_factory.mktemp("variant")
    (d / "envs").mkdir()
    (d / "envs/bootstrap.toml").write_text((REPO / "envs/bootstrap.toml").read_text())
    text = (REPO / "envs/dev.toml").read_text()
    text = text.replace('ami = "ubuntu-24.04"', 'ami = "ami-0123456789abcdef0"\nssh_user = "ubuntu"')
    text = text.replace('ssh_ingress_cidrs = ["203.0.113.0/24"]', 'ssh_ingress_cidrs = ["0.0.0.0/0"]\nssh_open_to_world = true')
    text = text.replace('lock = "dynamodb"', 'lock = "lockfile"').replace("-dev-", "-variant-")
    text += '\n[[moved]]\nfrom = "aws_s3_bucket.media"\nto = "aws_s3_bucket.content"\n'
    (d / "envs/variant.toml").write_text(text)
    subprocess.run(["cargo", "run", "-q", "--locked", "-p", "gen", "--", "--envs-dir", str(d / "envs"), "--out", str(d / "out"),
                    "--env", "variant"], cwd=REPO, check=True, timeout=600)
    out = d / "out/variant"
    assert (out / "moved.tf.json").exists()
    # The variant is valid Terraform too, moved block included.
    for args in (["init", "-backend=false", f"-plugin-dir={PLUGIN_DIR}"], ["validate"]):
        proc = subprocess.run(["timeout", "120", "terraform", *args, "-no-color"], cwd=out, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


# Every env file (no hand-kept list), and the variant.
@pytest.mark.parametrize("env", [*envs(), "variant"])
def test_generated_blocks_match_the_provider_schema(schema, variant, env):
    folder = variant if env == "variant" else REPO / "generated" / env
    problems, seen = check_files(schema, folder)
    assert seen, f"no blocks found in {folder}"
    assert problems == [], "\n".join(problems)


def check_write_only(schema, folder: Path):
    """Ephemeral variables reach write-only arguments only (the provider schema says which are), and
    every write-only argument that is set has its `<name>_version` partner set: a new value is
    sent only when the version changes. Returns (problems, write-only arguments seen)."""
    variables = folder / "variables.tf.json"
    doc = json.loads(variables.read_text()) if variables.exists() else {}
    ephemeral = [n for n, v in doc.get("variable", {}).items() if v.get("ephemeral")]
    uses = re.compile(r"\bvar\.(" + "|".join(map(re.escape, ephemeral)) + r")\b") if ephemeral else None
    problems, seen = [], []
    for f in sorted(folder.glob("*.tf.json")):
        for section, key in (("resource", "resource_schemas"), ("data", "data_source_schemas")):
            for kind, blocks in json.loads(f.read_text()).get(section, {}).items():
                attrs = schema[key].get(kind, {}).get("block", {}).get("attributes", {})
                for name, body in blocks.items():
                    for arg, value in body.items():
                        where = f"{folder.name}/{kind}.{name}.{arg}"
                        write_only = attrs.get(arg, {}).get("write_only", False)
                        if uses and uses.search(json.dumps(value)) and not write_only:
                            problems.append(f"{where}: an ephemeral variable in an argument that is not write-only")
                        if write_only:
                            seen.append(f"{kind}.{arg}")
                            if f"{arg}_version" not in attrs or f"{arg}_version" not in body:
                                problems.append(f"{where}: write-only without `{arg}_version`")
    return problems, seen


@pytest.mark.parametrize("env", sorted(envs()))
def test_secrets_reach_write_only_arguments_only(schema, env):
    problems, seen = check_write_only(schema, REPO / "generated" / env)
    assert problems == [], "\n".join(problems)
    if not is_bootstrap(envs()[env]):
        assert {"aws_db_instance.password_wo", "aws_ssm_parameter.value_wo"} <= set(seen), seen


def test_the_write_only_checker_catches_what_it_should(schema, tmp_path):
    (tmp_path / "variables.tf.json").write_text(json.dumps({"variable": {"k": {"type": "string", "ephemeral": True}}}))
    (tmp_path / "main.tf.json").write_text(json.dumps({"resource": {"aws_ssm_parameter": {
        "a": {"name": "a", "type": "SecureString", "value": "${var.k}"},
        "b": {"name": "b", "type": "SecureString", "value_wo": "${var.k}"},
    }}}))
    problems, _ = check_write_only(schema, tmp_path)
    assert problems == [
        f"{tmp_path.name}/aws_ssm_parameter.a.value: an ephemeral variable in an argument that is not write-only",
        f"{tmp_path.name}/aws_ssm_parameter.b.value_wo: write-only without `value_wo_version`",
    ], problems


def test_the_checker_catches_what_it_should(schema):
    inst = schema["resource_schemas"]["aws_instance"]["block"]
    problems = []
    check_block(inst, {"amii": "ami-1", "arn": "x", "instance_type": 5.5, "root_block_device": [{}, {}]}, "t", problems)
    text = "\n".join(problems)
    assert "t.amii: no such attribute" in text
    assert "t.arn: computed-only" in text
    assert "root_block_device: 2 blocks, at most 1" in text
    bucket = schema["resource_schemas"]["aws_s3_bucket_versioning"]["block"]
    problems = []
    check_block(bucket, {"bucket": "${aws_s3_bucket.x.id}"}, "v", problems)
    assert "v.versioning_configuration: required block is missing" in problems
    assert not compatible("bool", "yes") and compatible(["list", "string"], ["a", "${var.b}"])
