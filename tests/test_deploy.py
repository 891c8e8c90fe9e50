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


# --- #2: the client's address behind the proxy ---------------------------------------------------


def test_compose_and_kubernetes_trust_one_proxy_for_the_client_address():
    compose = _compose()
    for name in ("rasa", "actions", "web"):
        assert compose["services"][name]["environment"]["LOKET_PROXY_COUNT"] == "1", name
    values = yaml.safe_load((K8S / "values-rasa.yaml").read_text(encoding="utf-8"))
    assert {"name": "LOKET_PROXY_COUNT", "value": "1"} in values["extraEnv"]
    web = next(d for d in _yaml_documents(K8S / "loket-web.yaml")
               if d.get("kind") == "Deployment" and d["metadata"]["name"] == "loket-web")
    [container] = web["spec"]["template"]["spec"]["containers"]
    assert {"name": "LOKET_PROXY_COUNT", "value": "1"} in container["env"]


# --- nginx: one config file for compose and the scale-out test -----------------------------------


def test_compose_fills_in_every_variable_of_the_nginx_template():
    from tests.support.nginx import TEMPLATE, VARIABLE, render

    proxy = _compose()["services"]["proxy"]
    assert "./nginx/loket.conf:/etc/nginx/templates/default.conf.template:ro" in proxy["volumes"]
    template = TEMPLATE.read_text(encoding="utf-8")
    used = set(VARIABLE.findall(template))
    assert used and used <= set(proxy["environment"])
    rendered = render(template, {k: str(v) for k, v in proxy["environment"].items()})
    assert "server rasa:5005;" in rendered and "listen 443 ssl;" in rendered
    assert "client_max_body_size 64k;" in rendered


def test_nginx_forwards_the_client_address_on_every_route():
    from tests.support.nginx import TEMPLATE

    text = TEMPLATE.read_text(encoding="utf-8")
    proxied = re.findall(r"location ([^{]+)\{([^}]*)\}", text)
    passing = [body for _, body in proxied if "proxy_pass" in body]
    assert len(passing) == 3  # socket.io, REST, web app
    for body in passing:
        assert "X-Forwarded-For $proxy_add_x_forwarded_for" in body


# --- #9 Rasa's request size; #8 the web app's own image ------------------------------------------


def test_serve_py_gives_rasa_alone_the_64_kib_request_limit():
    serve = _serve()
    assert serve.environment("rasa")["SANIC_REQUEST_MAX_SIZE"] == str(64 * 1024)
    assert "SANIC_REQUEST_MAX_SIZE" not in serve.environment("actions")
    assert str(DEPLOY.parent) in serve.environment("web")["PYTHONPATH"].split(":")


def test_the_web_app_runs_from_its_own_image_without_rasa():
    dockerfile = (DEPLOY / "Dockerfile.web").read_text(encoding="utf-8")
    assert "pip install --no-cache-dir -r requirements-web.lock" in dockerfile
    assert "rasa" not in re.search(r"^FROM (.*)$", dockerfile, re.M).group(1)
    web = _compose()["services"]["web"]
    assert web["build"]["dockerfile"] == "deploy/Dockerfile.web"
    manifests = (K8S / "loket-web.yaml").read_text(encoding="utf-8")
    assert "loket/loket-web:" in manifests
