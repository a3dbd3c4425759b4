"""`make run`: start the Procfile's processes, plus simulators for the providers without credentials.

    python -m demo.launcher --port 8000

Reads the settings (the environment and `.env`) to decide per provider, writes demo-only
credentials under var/demo/ (a throwaway RSA key for the VoxImplant service account, a callback
secret), registers the demo form's own origin as a known site (UNKNOWN_SITES=store would otherwise
keep its leads from being called), prints which provider is real and which simulated, then replaces
itself with honcho running the Procfile's lines and, when anything is simulated, one `simulators`
process. Each line runs under demo/keepalive.py: a process that dies is reported and started again,
instead of honcho stopping all the others with it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import socket
import sys
import uuid
from pathlib import Path
from typing import Any

from demo import providers

ROOT = Path(__file__).resolve().parent.parent
# The demo form's own site: what the admin, the dashboard, Bitrix24 and Telegram call it.
DEMO_SITE_NAME = "Demo shop"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run Leadcaller with simulators for providers without credentials.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    parser.add_argument("--call-time-scale", type=float, default=1.0,
                        help="multiplies the simulated calls' 2-25 s durations (tests use a small value)")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadcaller.settings")
    from django.conf import settings  # reads .env into os.environ (the environment wins)

    if not _port_free(args.port):
        sys.exit(f"Port {args.port} is in use. Start on another one: make run PORT={args.port + 50}")
    demo_dir = Path(settings.VAR_DIR) / "demo"
    env, picked, state_url = prepare(settings, os.environ, demo_dir, port=args.port,
                                     call_time_scale=args.call_time_scale)
    demo_sites_register(env["PUBLIC_BASE_URL"])
    print(banner(args.port, picked, state_url is not None, calling_hours=env.get("CALLING_HOURS")), flush=True)
    procfile = write_procfile(demo_dir, simulators=state_url is not None)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    # `-e /dev/null`: settings read `.env` themselves; honcho's copy would override what is set here.
    command = [os.path.join(bin_dir, "honcho"), "start", "--procfile", str(procfile), "--app-root", str(ROOT),
               "--env", os.devnull, "--port", str(args.port)]
    os.execve(command[0], command, env)


def prepare(config: Any, environ: dict[str, str], demo_dir: Path, *, port: int,
            call_time_scale: float = 1.0) -> tuple[dict[str, str], list[providers.Choice], str | None]:
    """(environment for honcho, the choice per provider, the simulators' state URL or None)."""
    env = dict(environ)
    env.pop("DEMO_SIMULATORS_URL", None)  # only this run's simulators, if any
    env.setdefault("PUBLIC_BASE_URL", f"http://localhost:{port}")
    wanted = providers.simulated(config)
    if not wanted:
        return env, providers.choices(config, {}), None
    demo_dir.mkdir(parents=True, exist_ok=True)
    ports = dict(zip([*wanted, "state"], free_ports(len(wanted) + 1)))
    webhook_code = secrets.token_hex(8)
    urls = providers.simulator_urls(ports, webhook_code=webhook_code)
    credentials = demo_dir / "voximplant-credentials.json"
    telegram_token = f"{secrets.randbelow(9 * 10 ** 9) + 10 ** 9}:AA{secrets.token_urlsafe(24)}"
    env.update(providers.simulator_environment(
        config, env, urls, credentials_path=str(credentials), callback_secret=_kept_secret(demo_dir / "callback_secret"),
        telegram_token=telegram_token))
    state_url = f"http://127.0.0.1:{ports['state']}/state.json"
    env["DEMO_SIMULATORS_URL"] = state_url
    simulators: dict[str, Any] = {"state_port": ports["state"]}
    if "bitrix24" in ports:
        simulators["bitrix24"] = {"port": ports["bitrix24"], "webhook_code": webhook_code,
                                  "webhook_user_id": providers.DEMO_WEBHOOK_USER}
    if "voximplant" in ports:
        write_voximplant_key(credentials)
        simulators["voximplant"] = {"port": ports["voximplant"], "credentials": str(credentials),
                                    "rule_id": int(providers.DEMO_RULE_ID), "time_scale": call_time_scale,
                                    "caller_id": env["VOXIMPLANT_CALLER_ID"]}
    if "telegram" in ports:
        simulators["telegram"] = {"port": ports["telegram"], "token": telegram_token,
                                  "chats": providers.telegram_chats(config)}
    _write_private(demo_dir / "simulators.json", json.dumps(simulators, indent=2))
    return env, providers.choices(config, urls), state_url


def banner(port: int, picked: list[providers.Choice], simulators: bool, *, calling_hours: str | None) -> str:
    base = f"http://localhost:{port}"
    lines = ["", "  Leadcaller is starting:",
             f"    demo form      {base}/",
             f"    intake API     {base}/api/v1/leads/   (docs: {base}/api/docs/)",
             f"    admin          {base}/admin/          (create a login: .venv/bin/python manage.py createsuperuser)",
             f"    dashboard      {base}/dashboard/",
             f"    health         {base}/healthz"]
    if simulators:
        lines.append(f"    simulators     {base}/demo/           (what Bitrix24, VoxImplant and Telegram received)")
    lines += ["", "  Providers:"] + [f"    {line}" for line in providers.console_lines(picked)]
    if calling_hours:
        lines.append(f"    Simulated calls are made at any hour (CALLING_HOURS={calling_hours}).")
    lines.append("")
    return "\n".join(lines)


def write_procfile(demo_dir: Path, *, simulators: bool) -> Path:
    """The root Procfile's lines, plus the simulators process, each under demo/keepalive.py."""
    demo_dir.mkdir(parents=True, exist_ok=True)
    lines = [line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    if simulators:
        lines.append(["simulators", f"python -m demo.simulators {shlex.quote(str(demo_dir / 'simulators.json'))}"])
    path = demo_dir / "Procfile"
    path.write_text("".join(f"{name}: python -m demo.keepalive {name} {shlex.quote(command)}\n"
                            for name, command in lines))
    return path


def demo_sites_register(base_url: str) -> None:
    """The demo form's origin (the PUBLIC_BASE_URL's host, and the loopback names a browser may use
    for it) as known sites, so its leads are called. Needs the database migrated (`make run` does)."""
    import django

    django.setup()
    from django.db import DatabaseError

    from leads.models import CallMode, Site
    from leads.selectors import host_normalize
    from sellers.demo import demo_seller_ensure

    try:
        sites = []
        hosts = [host for host in dict.fromkeys([host_normalize(base_url), "localhost", "127.0.0.1"]) if host]
        for index, host in enumerate(hosts):
            name = DEMO_SITE_NAME if index == 0 else f"{DEMO_SITE_NAME} ({host})"
            # offer mode: a person who answers may press 1 and talk to the demo seller
            site, created = Site.objects.get_or_create(domain=host, defaults={
                "name": name, "call_mode": CallMode.OFFER, "record_calls": True})
            if not created and site.name.startswith("Demo form ("):  # the name earlier versions gave it
                Site.objects.filter(pk=site.pk).update(name=name)
            sites.append(site)
        demo_seller_ensure(sites)
    except DatabaseError as exc:
        print(f"  The demo form's site could not be registered ({exc}); run `make migrate` first.", flush=True)


def write_voximplant_key(path: Path) -> None:
    """A throwaway service-account key file, shaped like the one VoxImplant's control panel gives."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    _write_private(path, json.dumps({"account_id": 1000001, "key_id": str(uuid.uuid4()), "private_key": pem,
                                     "account_email": "demo@simulator.invalid"}, indent=2))


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _kept_secret(path: Path) -> str:
    """Kept across runs, so a call started before a restart can still report its result."""
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(32))
    return path.read_text().strip()


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


if __name__ == "__main__":
    main()
