"""The demo's `simulators` process: the local fakes of the providers without credentials (the same
ones the tests use), and a small JSON endpoint telling what each one received, for the /demo/ page.

    python -m demo.simulators var/demo/simulators.json    (written by demo.launcher)

No Django here: the fakes speak the providers' HTTP APIs, and the production clients talk to them
unchanged. The VoxImplant simulator plays our scenario's part: it fetches the call settings, waits
a realistic few seconds, and posts a result (person, voicemail, no answer, busy) to our callback.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from demo.fakes.base import LocalHttpFake, _Handler
from demo.fakes.bitrix24 import FakeBitrix24
from demo.fakes.telegram import FakeTelegram
from demo.fakes.voximplant import FakeVoximplant, weighted

PARTNER_COMPANIES = 5
SCENARIO = Path(__file__).resolve().parents[1] / "telephony" / "voxengine" / "leadcaller.js"


class Simulators:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.bitrix24: FakeBitrix24 | None = None
        self.voximplant: FakeVoximplant | None = None
        self.telegram: FakeTelegram | None = None
        self.chats: dict[int, str] = {}
        self.state = StateEndpoint(self, port=int(config["state_port"]))

    def start(self) -> None:
        if "bitrix24" in self.config:
            cfg = self.config["bitrix24"]
            self.bitrix24 = FakeBitrix24(port=cfg["port"], webhook_code=cfg["webhook_code"],
                                         webhook_user_id=cfg["webhook_user_id"], verbose=True).start()
            self.bitrix24.seed_companies(PARTNER_COMPANIES)
            print(f"Bitrix24 simulator: {self.bitrix24.portal_url} ({PARTNER_COMPANIES} partner companies)", flush=True)
        if "voximplant" in self.config:
            cfg = self.config["voximplant"]
            key = json.loads(Path(cfg["credentials"]).read_text())
            self.voximplant = FakeVoximplant(
                port=cfg["port"], account_id=int(key["account_id"]), key_id=key["key_id"],
                private_key_pem=key["private_key"], rule_ids=(cfg["rule_id"],),
                simulate=weighted(seed=None, time_scale=float(cfg.get("time_scale", 1.0))),
                fetch_settings=True, verbose=True).start()
            self._voximplant_account_ready(cfg)
            print(f"VoxImplant simulator: {self.voximplant.url} (calls end after a few seconds: person, "
                  "voicemail, no answer or busy)", flush=True)
        if "telegram" in self.config:
            cfg = self.config["telegram"]
            self.telegram = FakeTelegram(port=cfg["port"], token=cfg["token"], echo=True).start()
            for chat in cfg["chats"]:
                self._add_chat(str(chat))
            print(f"Telegram simulator: {self.telegram.url} (chats {', '.join(map(str, self.chats))})", flush=True)
        self.state.start()
        print(f"Simulator state: http://127.0.0.1:{self.state.port}/state.json", flush=True)

    def _voximplant_account_ready(self, cfg: dict[str, Any]) -> None:
        """The demo account as `manage.py voximplant_setup` leaves one: our scenario behind the rule, and
        the caller ID rented, so the admin's VoxImplant check and test call work against the simulator."""
        assert self.voximplant is not None
        account = self.voximplant.account
        for scenario_id in account.rules[cfg["rule_id"]].scenario_ids:
            scenario = account.scenarios[scenario_id]
            scenario.name, scenario.script = "leadcaller", SCENARIO.read_text(encoding="utf-8")
        if cfg.get("caller_id"):
            account.rent_number(cfg["caller_id"])

    def _add_chat(self, chat: str) -> None:
        assert self.telegram is not None
        if re.fullmatch(r"-?\d+", chat):
            chat_id, username = int(chat), None
        else:  # @channelname
            chat_id, username = -1009000000000 - len(self.chats), chat.lstrip("@")
        kind = "supergroup" if str(chat_id).startswith("-100") else "group" if chat_id < 0 else "private"
        title = "Sales (simulated)" if not self.chats else f"Chat {chat}"
        self.telegram.add_chat(chat_id, kind, title=title, username=username)
        self.chats[chat_id] = title

    def stop(self) -> None:
        for fake in (self.state, self.bitrix24, self.voximplant, self.telegram):
            if fake is not None:
                fake.stop()

    def snapshot(self) -> dict[str, Any]:
        return {"bitrix24": self._bitrix24(), "voximplant": self._voximplant(), "telegram": self._telegram()}

    def _bitrix24(self) -> dict[str, Any] | None:
        if self.bitrix24 is None:
            return None
        comments = self.bitrix24.comments
        leads = [{**lead, "comments": [c["COMMENT"] for c in comments.get(lead_id, [])]}
                 for lead_id, lead in sorted(self.bitrix24.leads.items(), reverse=True)]
        return {"url": self.bitrix24.portal_url, "leads": leads}

    def _voximplant(self) -> dict[str, Any] | None:
        if self.voximplant is None:
            return None
        deliveries = self.voximplant.deliveries
        calls = []
        for session in sorted(self.voximplant.sessions, key=lambda s: s.id, reverse=True):
            data = {k: v for k, v in session.data.items() if k != "token"}  # the attempt's HMAC: not for display
            sent = [d for d in deliveries if d.session_id == session.id]
            calls.append({
                "session_id": session.id, "started_at": session.started_at.isoformat(), "custom_data": data,
                "finished": session.finish_reason is not None, "duration": session.duration,
                "requests": [{"method": d.method, "payload": {k: v for k, v in (d.payload or {}).items() if k != "token"},
                              "status": d.status, "error": d.error} for d in sent]})
        return {"url": self.voximplant.url, "calls": calls}

    def _telegram(self) -> dict[str, Any] | None:
        if self.telegram is None:
            return None
        chats = []
        for chat_id, title in self.chats.items():
            messages = [{"message_id": m.message_id, "date": m.date, "edit_date": m.edit_date, "plain": m.plain,
                         "entities": m.entities, "reply_markup": m.reply_markup, "edits": len(m.edits)}
                        for m in reversed(self.telegram.messages(chat_id))]
            chats.append({"id": chat_id, "title": title, "messages": messages})
        return {"url": self.telegram.url, "chats": chats}


class StateEndpoint(LocalHttpFake):
    """`GET /state.json`: what the simulators received. Bound to 127.0.0.1 only."""

    name = "simulator-state"

    def __init__(self, simulators: Simulators, *, port: int) -> None:
        self.simulators, self.host, self.port, self.verbose = simulators, "127.0.0.1", port, False
        super().__init__()

    def _handle(self, h: _Handler) -> None:
        if h.path.split("?")[0] != "/state.json":
            status, body = 404, b'{"error": "not found"}'
        else:
            status, body = 200, json.dumps(self.simulators.snapshot(), ensure_ascii=False).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.exit("usage: python -m demo.simulators <simulators.json>")
    simulators = Simulators(json.loads(Path(args[0]).read_text()))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    simulators.start()
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        simulators.stop()


if __name__ == "__main__":
    main()
