"""The deployment recipes in deploy/ declare what course.hub expects, consistently.

- deploy/jupyterhub_config.py (one server) is loaded with traitlets' own config loader,
  as JupyterHub loads it, and its service, custom scopes, roles, groups, token scopes
  and server environment are compared with course.hub (tests/test_hub_class.py also runs
  a real hub on it);
- deploy/z2jh-values.yaml (Zero to JupyterHub) declares the same, and its extraConfig
  runs on a traitlets Config;
- deploy/grade-job.yaml is an indexed Job that mounts submissions and sources read-only,
  has no token and no network; its shell script is run here for two shards on real
  submissions, and the merged grades equal one run's.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from traitlets.config import Config, LazyConfigValue, PyFileConfigLoader

from course.hub import client

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COURSES = {"physics101": {"learners": ["alice", "bob"], "teachers": ["tina"],
                          "graders": ["gus"]},
           "chem200": {"learners": ["bob", "cleo"], "teachers": ["tina"], "graders": []}}
KINDS = {"post": ("learners", "{}"), "read": ("teachers", "{}-teachers"),
         "grade": ("graders", "{}-graders")}

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with jupyter's dependencies
    yaml = None
needs_yaml = pytest.mark.skipif(yaml is None, reason="PyYAML is not installed (it comes "
                                                    "with jupyter_events); pip install pyyaml")


@pytest.fixture
def recipe(tmp_path, monkeypatch) -> Config:
    courses = tmp_path / "courses.json"
    courses.write_text(json.dumps(COURSES))
    monkeypatch.setenv("ADLAB_COURSES", str(courses))
    monkeypatch.setenv("ADLAB_SERVICE_DIR", str(tmp_path / "service"))
    monkeypatch.setenv("ADLAB_SERVICE_PORT", "10123")
    monkeypatch.setenv("ADLAB_ADMINS", "root-admin")
    for key in ("ADLAB_SERVICE_URL", "ADLAB_HUB_DB", "ADLAB_HUB_MAX_SUBMISSION"):
        monkeypatch.delenv(key, raising=False)
    loader = PyFileConfigLoader("jupyterhub_config.py", path=str(DEPLOY))
    return loader.load_config()


def value(setting, empty):
    """A setting the recipe added to (a traitlets LazyConfigValue) as its final value."""
    return setting.get_value(empty) if isinstance(setting, LazyConfigValue) else setting


def test_the_recipe_adds_to_settings_made_before_it(tmp_path, monkeypatch):
    """TLJH loads its own configuration first (its services, roles, environment): the
    recipe keeps them."""
    courses = tmp_path / "courses.json"
    courses.write_text(json.dumps(COURSES))
    monkeypatch.setenv("ADLAB_COURSES", str(courses))
    monkeypatch.setenv("ADLAB_SERVICE_DIR", str(tmp_path / "service"))
    before = tmp_path / "before.py"
    before.write_text("c = get_config()\n"
                      "c.JupyterHub.services = [{'name': 'culler', 'command': ['x']}]\n"
                      "c.JupyterHub.load_roles = [{'name': 'culler', 'scopes': ['list:users'],"
                      " 'services': ['culler']}]\n"
                      "c.Spawner.environment = {'TZ': 'UTC'}\n"
                      f"load_subconfig({str(DEPLOY / 'jupyterhub_config.py')!r})\n")
    config = PyFileConfigLoader(before.name, path=str(tmp_path)).load_config()
    assert [s["name"] for s in config.JupyterHub.services] == ["culler", "adlab"]
    assert config.JupyterHub.load_roles[0]["name"] == "culler"
    assert len(config.JupyterHub.load_roles) == 1 + 3 * len(COURSES)
    assert config.Spawner.environment["TZ"] == "UTC"
    assert "ADLAB_SERVICE_URL" in config.Spawner.environment


def service_module_scopes() -> set[str]:
    from course.hub import service

    return {service.POST, service.READ, service.GRADE}


def test_the_one_server_recipe_declares_the_service_as_course_hub_expects(recipe, tmp_path):
    services = {s["name"]: s for s in value(recipe.JupyterHub.services, [])}
    adlab = services[client.SERVICE]
    assert adlab["command"] == [sys.executable, "-m", "course.hub.service"]
    assert adlab["url"] == "http://127.0.0.1:10123"
    assert adlab["environment"]["ADLAB_HUB_DB"] == \
        f"sqlite:///{tmp_path / 'service' / 'adlab-hub.sqlite'}"
    assert (tmp_path / "service").is_dir()
    assert set(adlab["oauth_client_allowed_scopes"]) == set(client.SCOPES.values())
    # the scopes: the client's names, the service's names, the declared ones
    custom = value(recipe.JupyterHub.custom_scopes, {})
    assert set(custom) == set(client.SCOPES.values()) == service_module_scopes()
    for scope, spec in custom.items():
        assert spec["description"], scope


def test_roles_bind_each_course_scope_to_the_courses_groups(recipe):
    roles = {r["name"]: r for r in value(recipe.JupyterHub.load_roles, [])}
    groups = value(recipe.JupyterHub.load_groups, {})
    for course, people in COURSES.items():
        for kind, (who, group_name) in KINDS.items():
            group = group_name.format(course)
            role = roles[f"{course}-{who}"]
            assert role["groups"] == [group]
            assert set(role["scopes"]) == {f"{client.SCOPES[kind]}!group={course}",
                                           f"access:services!service={client.SERVICE}"}
            assert groups[group]["users"] == sorted(people[who])
    assert len(roles) == 3 * len(COURSES)
    assert value(recipe.Authenticator.allowed_users, set()) == \
        {"alice", "bob", "cleo", "tina", "gus", "root-admin"}
    assert value(recipe.Authenticator.admin_users, set()) == {"root-admin"}


def test_roles_and_scopes_are_valid_for_jupyterhub(recipe):
    """JupyterHub's own checks of custom scopes and role scopes accept the recipe."""
    from jupyterhub import scopes

    saved = dict(scopes.scope_definitions)
    try:
        scopes.define_custom_scopes(value(recipe.JupyterHub.custom_scopes, {}))
        for role in value(recipe.JupyterHub.load_roles, []):
            for scope in role["scopes"]:
                base = scope.split("!", 1)[0]
                assert base in scopes.scope_definitions, scope
            scopes._check_scopes_exist(role["scopes"], who_for=f"role {role['name']}")
        scopes._check_scopes_exist(recipe.Spawner.server_token_scopes, who_for="server")
    finally:
        scopes.scope_definitions.clear()
        scopes.scope_definitions.update(saved)


def test_the_servers_token_and_environment(recipe):
    token_scopes = recipe.Spawner.server_token_scopes
    # the `server` role's defaults stay, and every class scope may be granted
    assert {"users:activity!user", "access:servers!server"} <= set(token_scopes)
    assert set(client.SCOPES.values()) <= set(token_scopes)
    env = value(recipe.Spawner.environment, {})
    assert env["ADLAB_SERVICE_URL"] == "http://127.0.0.1:10123/services/adlab/"
    assert client.service_url({"ADLAB_SERVICE_URL": env["ADLAB_SERVICE_URL"]}) == \
        env["ADLAB_SERVICE_URL"]

    def spawner(*groups: str):
        return SimpleNamespace(user=SimpleNamespace(
            groups=[SimpleNamespace(name=g) for g in groups]))

    course_of = env["ADLAB_COURSE"]
    assert course_of(spawner("physics101")) == "physics101"
    assert course_of(spawner("physics101", "physics101-teachers")) == "physics101"
    assert course_of(spawner("physics101", "chem200")) == ""  # two: the service asks
    assert course_of(spawner()) == ""


# ---------------------------------------------------------------------------------
# Zero to JupyterHub
# ---------------------------------------------------------------------------------

@needs_yaml
def test_the_z2jh_values_declare_the_same():
    values = yaml.safe_load((DEPLOY / "z2jh-values.yaml").read_text())
    hub = values["hub"]
    adlab = hub["services"][client.SERVICE]
    port = int(adlab["url"].rsplit(":", 1)[1])
    assert adlab["command"][-3:] == ["python3", "-m", "course.hub.service"]
    assert set(adlab["oauth_client_allowed_scopes"]) == set(client.SCOPES.values())
    # the port is open: the hub's Service, its ingress policy, the proxy's and the user
    # servers' egress
    assert port in [p["port"] for p in hub["service"]["extraPorts"]]
    assert port in [p["port"] for rule in hub["networkPolicy"]["ingress"]
                    for p in rule["ports"]]
    assert port in [p["port"] for rule in values["proxy"]["chp"]["networkPolicy"]["egress"]
                    for p in rule["ports"]]
    assert port in [p["port"] for rule in values["singleuser"]["networkPolicy"]["egress"]
                    for p in rule["ports"]]
    assert values["singleuser"]["extraEnv"]["ADLAB_SERVICE_URL"] == \
        f"http://hub:{port}/services/adlab/"
    assert set(hub["config"]["JupyterHub"]["custom_scopes"]) == set(client.SCOPES.values())
    roles = hub["loadRoles"]
    for kind, (who, group) in KINDS.items():
        role = roles[f"physics101-{who}"]
        assert role["groups"] == [group.format("physics101")]
        assert f"{client.SCOPES[kind]}!group=physics101" in role["scopes"]
        assert group.format("physics101") in hub["config"]["JupyterHub"]["load_groups"]
    assert hub["extraEnv"]["ADLAB_HUB_DB"]["valueFrom"]["secretKeyRef"]


@needs_yaml
def test_the_z2jh_extra_config_runs(monkeypatch):
    values = yaml.safe_load((DEPLOY / "z2jh-values.yaml").read_text())
    c = Config()
    # what the chart's own jupyterhub_config.py has done before extraConfig runs
    c.JupyterHub.services = [dict(values["hub"]["services"]["adlab"], name="adlab")]
    c.KubeSpawner.environment = dict(values["singleuser"]["extraEnv"])
    monkeypatch.setenv("ADLAB_HUB_DB", "postgresql+psycopg://adlab:pw@db:5432/adlab")
    exec(compile(values["hub"]["extraConfig"]["adlab"], "extraConfig.adlab", "exec"),
         {"c": c})
    assert c.JupyterHub.services[0]["environment"]["ADLAB_HUB_DB"].startswith("postgresql")
    assert set(client.SCOPES.values()) <= set(c.Spawner.server_token_scopes)
    course_of = c.KubeSpawner.environment["ADLAB_COURSE"]
    groups = [SimpleNamespace(name=g) for g in ("physics101", "physics101-teachers")]
    assert course_of(SimpleNamespace(user=SimpleNamespace(groups=groups))) == "physics101"


# ---------------------------------------------------------------------------------
# The grading Job
# ---------------------------------------------------------------------------------

def job_documents() -> tuple[dict, dict]:
    docs = list(yaml.safe_load_all((DEPLOY / "grade-job.yaml").read_text()))
    job = next(d for d in docs if d["kind"] == "Job")
    policy = next(d for d in docs if d["kind"] == "NetworkPolicy")
    return job, policy


@needs_yaml
def test_the_grading_job_is_indexed_without_token_network_or_writable_inputs():
    job, policy = job_documents()
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert spec["completions"] == spec["parallelism"] == int(env["SHARDS"])
    assert pod["automountServiceAccountToken"] is False
    assert not any("TOKEN" in name for name in env)
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/grading/submissions"].get("readOnly") is True
    assert mounts["/grading/sources"].get("readOnly") is True
    writable = [path for path, m in mounts.items() if not m.get("readOnly")]
    assert sorted(writable) == ["/grading/out", "/tmp"]
    script = container["args"][0]
    assert "JOB_COMPLETION_INDEX" in script and "--shard" in script
    # the policy selects the Job's pods and allows nothing in or out
    labels = spec["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert policy["spec"].get("egress", []) == [] and policy["spec"].get("ingress", []) == []


@needs_yaml
def test_the_grading_jobs_script_shards_like_one_run(tmp_path):
    """The Job's own shell script, run here for each index of a 2-shard Job (paths moved
    under a temporary folder), then merged: the same grades as one `course grade`."""
    job, _ = job_documents()
    script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    grading = tmp_path / "grading"
    for who, source in (("alice", ROOT / "course" / "sources"),
                        ("bob", ROOT / "notebooks"), ("cleo", ROOT / "course" / "sources")):
        (grading / "submissions" / who).mkdir(parents=True)
        shutil.copy(source / "03_forward_mode.ipynb", grading / "submissions" / who)
    shutil.copytree(ROOT / "course" / "sources", grading / "sources")
    (grading / "out").mkdir()
    # one worker, and no top-to-bottom run (it adds notes to the feedback, not points)
    assert "--jobs 2" in script
    script = script.replace("/grading/", f"{grading}/").replace("--jobs 2",
                                                                "--jobs 1 --no-execute")
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ, SHARDS="2", PATH=bindir + os.pathsep + os.environ["PATH"])
    for index in range(2):
        done = subprocess.run(["/bin/sh", "-c", script], env=dict(
            env, JOB_COMPLETION_INDEX=str(index)), capture_output=True, text=True,
            timeout=300)
        assert done.returncode == 0, done.stderr
    course = [str(Path(bindir) / "course")]
    one = tmp_path / "one.csv"
    subprocess.run([*course, "grade", str(grading / "submissions"), "--notebook", "03",
                    "--sources", str(grading / "sources"), "--out", str(one), "--jobs", "1",
                    "--no-execute", "--feedback", str(tmp_path / "feedback")],
                   check=True, capture_output=True, env=env, timeout=300)
    merged = tmp_path / "merged.csv"
    subprocess.run([*course, "merge", str(grading / "out" / "grades-1.csv"),
                    str(grading / "out" / "grades-2.csv"), "--out", str(merged)],
                   check=True, capture_output=True, env=env, timeout=60)
    assert merged.read_text() == one.read_text()
    with open(one, newline="") as handle:
        totals = {row["learner"]: row["total"] for row in csv.DictReader(handle)}
    assert totals["bob"] == "0" and totals["alice"] == totals["cleo"] != "0"
