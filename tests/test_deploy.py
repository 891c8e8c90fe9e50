"""Issue 18 #1 (deploy part) and #10: the deploy files run the same channels and checks as `make run`,
Rasa's HTTP API stays off, and only Rasa reaches the action server in Kubernetes."""

from __future__ import annotations

import importlib.util
import re

import pytest
import yaml

from bot.settings import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
K8S = DEPLOY / "kubernetes"


def _yaml_documents(path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def _env_names(items: list) -> set[str]:
    return {item["name"] for item in items or []}


# --- docker compose (#10) -------------------------------------------------------------------------


def test_compose_leaves_rasas_http_api_off():
    compose = _compose()
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        assert "LOKET_RASA_TOKEN" not in env, name
        assert "--enable-api" not in " ".join(map(str, service.get("command") or [])), name
    assert "LOKET_RASA_TOKEN" not in (DEPLOY / "env.example").read_text(encoding="utf-8")


def test_compose_runs_in_production_mode():
    """Production mode refuses a placeholder secret at start (bot/settings.py)."""
    compose = _compose()
    for name in ("rasa", "actions", "web", "migrate"):
        env = compose["services"][name]["environment"]
        assert env["LOKET_ENV"] == "production", name


def test_compose_starts_every_role_through_serve_py():
    compose = _compose()
    entrypoints = {}
    for dockerfile in ("Dockerfile.rasa", "Dockerfile.actions"):
        text = (DEPLOY / dockerfile).read_text(encoding="utf-8")
        entrypoints[dockerfile] = re.search(r"^ENTRYPOINT (.*)$", text, re.M).group(1)
    assert all("deploy/serve.py" in e for e in entrypoints.values())
    assert compose["services"]["rasa"]["command"] == ["rasa"]


# --- Kubernetes (#1) ------------------------------------------------------------------------------


def _serve():
    spec = importlib.util.spec_from_file_location("loket_serve", DEPLOY / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kubernetes_rasa_starts_like_serve_py_with_loket_channels():
    values = yaml.safe_load((K8S / "values-rasa.yaml").read_text(encoding="utf-8"))
    assert values["command"] == ["python", "deploy/serve.py"] and values["args"] == ["rasa"]
    credentials = values["applicationSettings"].get("credentials", {})
    assert not credentials.get("enabled"), "the chart's stock rest/socketio credentials must stay off"
    assert "rest" not in str(credentials.get("additionalChannelCredentials", {}))
    assert not values["applicationSettings"].get("enableAPI")
    env = _env_names(values["extraEnv"])
    assert {"LOKET_TRACKER_DB_URL", "LOKET_REDIS_URL", "LOKET_ACTION_URL", "LOKET_ENV"} <= env
    assert "LOKET_RASA_TOKEN" not in env


def test_serve_py_gives_rasa_the_projects_channels(monkeypatch, tmp_path):
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LOKET_RASA_TOKEN", raising=False)
    monkeypatch.delenv("LOKET_ENV", raising=False)
    from bot import settings

    settings.get_settings.cache_clear()
    try:
        cmd = _serve().command("rasa")
    finally:
        settings.get_settings.cache_clear()
    credentials = cmd[cmd.index("--credentials") + 1]
    channels = yaml.safe_load(open(credentials, encoding="utf-8"))
    assert set(channels) == {"bot.rasa_ext.channels.LoketRestInput", "bot.rasa_ext.channels.LoketSocketIOInput"}
    assert "--enable-api" not in cmd


def _network_policies() -> list[dict]:
    return [d for path in sorted(K8S.glob("*.yaml")) for d in _yaml_documents(path)
            if d.get("kind") == "NetworkPolicy"]


def test_only_rasa_pods_reach_the_action_server():
    actions = {"app.kubernetes.io/name": "rasa-action-server", "app.kubernetes.io/instance": "loket-actions"}
    rasa = {"app.kubernetes.io/name": "rasa", "app.kubernetes.io/instance": "loket-rasa"}
    policies = [p for p in _network_policies()
                if p["spec"]["podSelector"].get("matchLabels") == actions]
    assert len(policies) == 1, "one NetworkPolicy for the action server pods"
    spec = policies[0]["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    [rule] = spec["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": rasa}}]  # no namespace or ipBlock peers
    assert rule["ports"] == [{"protocol": "TCP", "port": 5055}]


def test_the_action_server_values_match_the_policy_labels():
    values = yaml.safe_load((K8S / "values-action-server.yaml").read_text(encoding="utf-8"))
    assert values["applicationSettings"]["port"] == 5055
    assert values["command"] == ["python", "deploy/serve.py"] and values["args"] == ["actions"]


@pytest.mark.parametrize("path", sorted(K8S.glob("*.yaml")), ids=lambda p: p.name)
def test_kubernetes_files_are_valid_yaml(path):
    assert _yaml_documents(path)
