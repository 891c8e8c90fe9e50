"""deploy/nginx/loket.conf rendered with test ports and run by Debian's nginx, as a child process
(not a daemon) with its own pid file, logs and temp folders in a tmp folder."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT
from tests.support.stack import free_port
from tests.support.tls import self_signed

TEMPLATE = PROJECT_ROOT / "deploy" / "nginx" / "loket.conf"
VARIABLE = re.compile(r"\$\{(\w+)\}")
# The access log names the Rasa server each request went to.
MAIN = """\
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
{user}
events {{ worker_connections 256; }}
http {{
    log_format upstream '$request_method $uri $status $upstream_addr';
    access_log {tmp}/access.log upstream;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/loket.conf;
}}
"""


def nginx_binary() -> str:
    """Debian's nginx; skipped without it, except in CI (.ci/run installs it), where it fails."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed (apt-get install -y nginx; .ci/run does this)")
        pytest.skip("nginx is not installed (apt-get install -y nginx)")
    return found


def render(template: str, values: dict[str, str]) -> str:
    """Fill in ${NAME} like the nginx image's envsubst; nginx's own $variables stay."""
    missing = sorted(set(VARIABLE.findall(template)) - set(values))
    if missing:
        raise KeyError(f"no value for {', '.join(missing)}")
    return VARIABLE.sub(lambda m: values[m.group(1)], template)


@dataclass
class Nginx:
    tmp: Path
    http_port: int
    https_port: int
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def ca(self) -> str:
        """For requests' verify=: the test certificate."""
        return str(self.tmp / "tls" / "fullchain.pem")

    def access_log(self) -> list[str]:
        path = self.tmp / "access.log"
        return path.read_text().splitlines() if path.exists() else []

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # nginx: fast shutdown
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_nginx(tmp: Path, rasa_ports: list[int], web_port: int) -> Nginx:
    binary = nginx_binary()
    tmp.mkdir(parents=True, exist_ok=True)
    self_signed(tmp / "tls")
    nginx = Nginx(tmp, free_port(), free_port())
    (tmp / "loket.conf").write_text(render(TEMPLATE.read_text(), {
        "LOKET_DOMAIN": "localhost",
        "LOKET_HTTP_LISTEN": f"127.0.0.1:{nginx.http_port}",
        "LOKET_HTTPS_LISTEN": f"127.0.0.1:{nginx.https_port}",
        "LOKET_TLS_DIR": str(tmp / "tls"),
        "LOKET_RASA_SERVERS": " ".join(f"server 127.0.0.1:{p};" for p in rasa_ports),
        "LOKET_WEB_SERVERS": f"server 127.0.0.1:{web_port};",
    }))
    # As root nginx would run its workers as "nobody", who cannot use this private tmp folder.
    user = "user root;" if os.geteuid() == 0 else ""
    (tmp / "nginx.conf").write_text(MAIN.format(tmp=tmp, user=user))
    check = subprocess.run([binary, "-t", "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", "stderr"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    log = open(tmp / "nginx.out", "ab")  # noqa: SIM115 - closed with the process
    nginx.proc = subprocess.Popen([binary, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", "stderr"],
                                  stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while True:
        assert nginx.proc.poll() is None, (tmp / "nginx.out").read_text()
        try:
            socket.create_connection(("127.0.0.1", nginx.https_port), timeout=1).close()
            return nginx
        except OSError:
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.1)
