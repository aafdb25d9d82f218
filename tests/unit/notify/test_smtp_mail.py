from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from email import message_from_bytes
from typing import Any

import pytest

from keepalived_py.config.model import GlobalDefs
from keepalived_py.config.model_lvs import RealServer, VirtualServer
from keepalived_py.notify.smtp import (
    Alert,
    Mailer,
    SmtpError,
    SmtpSettings,
    StateMails,
    checker_alerts_on,
    checker_body,
    group_alert,
    instance_alert,
    realserver_alert,
    render,
    send_mail,
    virtualserver_alert,
    vrrp_alerts_on,
)

VS = VirtualServer(address=ipaddress.ip_address("192.0.2.10"), port=80, protocol="TCP")
RS = RealServer(address=ipaddress.ip_address("192.0.2.2"), port=8080)


# -- the pure part ---------------------------------------------------------------------------------
def test_instance_alert_subject_and_body_as_keepalived() -> None:
    assert instance_alert("VI_1", "MASTER") == Alert(
        "VRRP Instance VI_1 - Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <=")
    assert instance_alert("VI_1", "BACKUP") == Alert(
        "VRRP Instance VI_1 - Entering BACKUP state",
        "=> VRRP Instance is no longer owning VRRP VIPs <=")
    assert instance_alert("VI_1", "STOP") == Alert("VRRP Instance VI_1 - Stopping",
                                                   "=> VRRP Instance stopping <=")
    assert instance_alert("VI_1", "INIT") is None
    assert group_alert("G1", "FAULT") == Alert(
        "VRRP Group G1 - Entering FAULT state",
        "=> All VRRP group instances are now in FAULT state <=")


def test_realserver_and_virtualserver_alerts_as_keepalived() -> None:
    a = realserver_alert(RS, VS, False, checker_body("TCP_CHECK", False))
    assert a.subject == ("Realserver [192.0.2.2]:tcp:8080 of virtual server [192.0.2.10]:tcp:80"
                         " - DOWN")
    assert a.body == "=> TCP CHECK failed on service <="
    assert checker_body("HTTP_GET", False) == "=> CHECK failed on service : HTTP request failed <="
    assert checker_body("MISC_CHECK", True) == "=> MISC CHECK succeeded on service <="
    fw = VirtualServer(fwmark=5)
    assert realserver_alert(RS, fw, True, "x").subject.endswith("of virtual server FWM 5 - UP")
    v = virtualserver_alert(VirtualServer(address=VS.address, port=80, quorum=2, hysteresis=1),
                            True, 3)
    assert v == Alert("Virtualserver [192.0.2.10]:tcp:80 - UP", "=> Gained quorum 2+1=3 <= 3 <=")


def test_alert_settings_inherit_as_keepalived() -> None:
    g = GlobalDefs()
    assert not vrrp_alerts_on(None, g)                              # instances: off by default
    assert checker_alerts_on(None, g, real_server=True)             # real servers: on
    assert not checker_alerts_on(None, g, real_server=False)        # virtual servers: off
    g = GlobalDefs(smtp_alert=True, smtp_alert_vrrp=False, smtp_alert_checker=False)
    assert not vrrp_alerts_on(None, g) and vrrp_alerts_on(True, g)
    assert not checker_alerts_on(None, g, real_server=True)
    g = GlobalDefs(smtp_alert=False)
    assert not vrrp_alerts_on(None, g) and not checker_alerts_on(None, g, real_server=True)
    assert vrrp_alerts_on(None, GlobalDefs(smtp_alert=True))


def test_state_mails_only_on_a_new_state_and_no_email_faults() -> None:
    t = StateMails()
    assert t.due("VI_1", "BACKUP")
    assert not t.due("VI_1", "BACKUP")
    assert t.due("VI_1", "MASTER")
    t = StateMails(no_email_faults=True)
    assert t.due("VI_1", "MASTER")
    assert not t.due("VI_1", "FAULT")
    assert not t.due("VI_1", "MASTER")           # FAULT was not mailed nor remembered


def test_render_headers_body_and_dot_stuffing() -> None:
    data = render(Alert("VRRP Instance VI_1 - Entering MASTER state", ".dotted\nline"),
                  router_id="lb1", sender="ka@example.org", recipients=("a@x", "b@y"),
                  date="Wed, 02 Dec 2026 13:20:12 +0000")
    assert data.endswith(b"\r\n.\r\n")
    text = data[:-5]
    assert b"\r\n..dotted\r\n" in text                        # RFC 5321 4.5.2
    assert b"\n" not in text.replace(b"\r\n", b"")            # no bare LF
    msg = message_from_bytes(text.replace(b"\r\n..", b"\r\n."))
    assert msg["Subject"] == "[lb1] VRRP Instance VI_1 - Entering MASTER state"
    assert msg["From"] == "ka@example.org"
    assert msg["To"] == "a@x, b@y"
    assert msg["X-Mailer"] == "Keepalived"
    assert msg["Date"] == "Wed, 02 Dec 2026 13:20:12 +0000"
    assert list(msg.keys()) == ["Date", "From", "Subject", "X-Mailer", "To"]


def test_render_cannot_inject_headers() -> None:
    data = render(Alert("a\r\nBcc: evil@x", "b"), router_id=None, sender="s\nX: y",
                  recipients=("r",), date="d")
    headers = data.split(b"\r\n\r\n")[0].split(b"\r\n")
    assert [h.split(b":")[0] for h in headers] == [b"Date", b"From", b"Subject", b"X-Mailer", b"To"]


# -- the client against servers on loopback -------------------------------------------------------
async def _script_server(replies: dict[bytes, bytes], greeting: bytes | None = b"220 hi\r\n",
                         log: list[bytes] | None = None) -> tuple[asyncio.AbstractServer, int]:
    """A tiny scripted SMTP server: `replies` maps a command prefix to its reply."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if greeting is None:
                await asyncio.sleep(3600)
            writer.write(greeting)
            in_data = False
            while line := await reader.readline():
                if log is not None:
                    log.append(line)
                if in_data:
                    if line == b".\r\n":
                        in_data = False
                        writer.write(replies.get(b"BODY", b"250 ok\r\n"))
                    continue
                for prefix, reply in replies.items():
                    if line.upper().startswith(prefix):
                        writer.write(reply)
                        break
                else:
                    writer.write(b"250 ok\r\n")
                if line.upper().startswith(b"DATA") and replies.get(b"DATA", b"354")[:3] == b"354":
                    in_data = True
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _settings(port: int, **kw: Any) -> SmtpSettings:
    return SmtpSettings(**{"host": "127.0.0.1", "port": port, "helo": "lb1", "sender": "ka@x",
                           "recipients": ("a@x", "b@y"), "timeout": 2.0, **kw})


def test_client_speaks_smtp_in_keepalived_order() -> None:
    seen: list[bytes] = []

    async def scenario() -> None:
        server, port = await _script_server({b"DATA": b"354 go\r\n", b"QUIT": b"221 bye\r\n",
                                             b"HELO": b"250-hello\r\n250 more\r\n"}, log=seen)
        async with server:
            await send_mail(_settings(port), b"Subject: x\r\n\r\n..b\r\n.\r\n")
    asyncio.run(scenario())
    cmds = [ln for ln in seen if not ln.startswith((b"Subject", b"\r\n", b"..", b"."))]
    assert cmds == [b"HELO lb1\r\n", b"MAIL FROM:<ka@x>\r\n", b"RCPT TO:<a@x>\r\n",
                    b"RCPT TO:<b@y>\r\n", b"DATA\r\n", b"QUIT\r\n"]


@pytest.mark.parametrize(("replies", "greeting", "line"), [
    ({b"RCPT": b"550 no\r\n"}, b"220 hi\r\n",
     "Error processing RCPT cmd on SMTP server [127.0.0.1]:{port}. SMTP status code = 550"),
    ({}, b"554 go away\r\n",
     "Error processing (E)SMTP cmd on SMTP server [127.0.0.1]:{port}. SMTP status code = 554"),
    ({}, None, "Timeout reading data to remote SMTP server [127.0.0.1]:{port}."),
    ({}, b"220-" + b"x" * 2000, "Received buffer from remote SMTP server [127.0.0.1]:{port}"
                               " overflow our get read buffer length."),
])
def test_client_failures_in_keepalived_words(replies: dict[bytes, bytes], greeting: bytes | None,
                                             line: str) -> None:
    async def scenario() -> str:
        server, port = await _script_server(replies, greeting)
        async with server:
            with pytest.raises(SmtpError) as e:
                await send_mail(_settings(port, timeout=1.0), b".\r\n")
            return e.value.line.replace(str(port), "{port}")
    assert asyncio.run(scenario()) == line


def test_client_refused_connection() -> None:
    async def scenario() -> str:
        server, port = await _script_server({})
        server.close()
        await server.wait_closed()
        with pytest.raises(SmtpError) as e:
            await send_mail(_settings(port), b".\r\n")
        return e.value.line.replace(str(port), "P")
    assert asyncio.run(scenario()) == "SMTP connection ERROR to [127.0.0.1]:P."


def test_mailer_delivers_to_aiosmtpd_with_keepalived_headers() -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    got: list[Any] = []

    class Keep(Message):                                  # type: ignore[misc]
        def handle_message(self, message: Any) -> None:
            got.append(message)

    with socket.socket() as probe:                        # a free port (aiosmtpd needs one)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctl = Controller(Keep(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:

        async def scenario() -> Mailer:
            m = Mailer(_settings(port, router_id="lb1"))
            assert m.submit(instance_alert("VI_1", "MASTER"))  # type: ignore[arg-type]
            await m.close(5.0)
            return m
        m = asyncio.run(scenario())
    finally:
        ctl.stop()
    assert (m.sent, m.failed, m.dropped) == (1, 0, 0)
    assert len(got) == 1
    msg = got[0]
    assert msg["Subject"] == "[lb1] VRRP Instance VI_1 - Entering MASTER state"
    assert msg["X-Mailer"] == "Keepalived" and msg["From"] == "ka@x" and msg["To"] == "a@x, b@y"
    assert msg.get_payload().strip() == "=> VRRP Instance is now owning VRRP VIPs <="
    assert msg["X-RcptTo"] == "a@x, b@y"          # one RCPT TO per address


def test_mailer_submit_never_blocks_and_drops_beyond_its_queue() -> None:
    async def scenario() -> tuple[Mailer, float]:
        server, port = await _script_server({}, greeting=None)     # accepts, never answers
        async with server:
            m = Mailer(_settings(port, timeout=1.0), queue_max=4, workers=1)
            t0 = time.monotonic()
            for _ in range(10):
                m.submit(Alert("s", "b"))
            took = time.monotonic() - t0
            await m.close(0.2)
            return m, took
    m, took = asyncio.run(scenario())
    assert took < 0.05
    assert m.sent == 0
    assert m.dropped >= 5                       # 10 - 4 queued - at most 1 taken by the worker


class _Recorder:
    """Stands in for the Mailer's queue only: these tests are about which mails are due."""

    def __init__(self) -> None:
        self.subjects: list[str] = []

    def submit(self, alert: Alert) -> bool:
        self.subjects.append(alert.subject)
        return True


def _vrrp_config(**g: Any) -> Any:
    from keepalived_py.config.model import Config, Notify, VrrpInstance, VrrpSyncGroup
    gd = GlobalDefs(notification_email=("a@x",), smtp_server="192.0.2.1", **g)
    return Config(global_defs=gd, vrrp_instances=(
        VrrpInstance(name="VI_1", interface="eth0", virtual_router_id=1, sync_group="G1",
                     notify=Notify(smtp_alert=True)),
        VrrpInstance(name="VI_2", interface="eth0", virtual_router_id=2, sync_group="G1"),
    ), vrrp_sync_groups=(VrrpSyncGroup(name="G1", group=("VI_1", "VI_2"),
                                       notify=Notify(smtp_alert=True)),))


def test_vrrp_alerts_follow_keepalived_rules() -> None:
    from keepalived_py.notify.smtp import VrrpAlerts
    alerts = VrrpAlerts(_vrrp_config(no_email_faults=True))
    rec = _Recorder()
    alerts.mailer = rec                                          # type: ignore[assignment]
    for name, state in [("VI_1", "BACKUP"), ("VI_2", "BACKUP"), ("VI_1", "MASTER"),
                        ("VI_2", "MASTER"), ("VI_1", "FAULT"), ("VI_2", "FAULT"),
                        ("VI_1", "BACKUP")]:
        alerts.instance_changed(name, state)
    assert rec.subjects == [
        "VRRP Instance VI_1 - Entering BACKUP state",    # VI_2 has smtp_alert unset: no mails
        "VRRP Group G1 - Entering BACKUP state",         # the group follows its first member
        "VRRP Instance VI_1 - Entering MASTER state",
        "VRRP Group G1 - Entering MASTER state",
        "VRRP Instance VI_1 - Entering BACKUP state",    # no_email_faults: FAULT not mailed
        "VRRP Group G1 - Entering BACKUP state",
    ]


def test_vrrp_alerts_nothing_without_server_or_addresses() -> None:
    from keepalived_py.config.model import Config
    from keepalived_py.notify.smtp import VrrpAlerts
    assert VrrpAlerts(Config(global_defs=GlobalDefs(smtp_server="192.0.2.1"))).mailer is None
    assert VrrpAlerts(Config(global_defs=GlobalDefs(notification_email=("a@x",)))).mailer is None


def test_check_alerts_no_checker_emails_and_defaults() -> None:
    from keepalived_py.config.model import Config
    from keepalived_py.notify.smtp import CheckAlerts
    g = GlobalDefs(notification_email=("a@x",), smtp_server="192.0.2.1", no_checker_emails=True)
    alerts = CheckAlerts(Config(global_defs=g))
    rec = _Recorder()
    alerts.mailer = rec                                          # type: ignore[assignment]
    alerts.checker_changed(VS, RS, "TCP_CHECK", False, rs_changed=False)   # another checker down
    alerts.checker_changed(VS, RS, "TCP_CHECK", False, rs_changed=True)
    alerts.quorum_changed(VS, False, 0)                           # virtual servers: off by default
    off = RealServer(address=RS.address, port=RS.port, smtp_alert=False)
    alerts.checker_changed(VS, off, "TCP_CHECK", True, rs_changed=True)
    assert rec.subjects == [realserver_alert(RS, VS, False, "").subject]
