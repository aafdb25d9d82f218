"""E-mail alerts (smtp_alert): keepalived 2.2.7's mails, sent off the decision path.

Theory of operation. The pure part decides *whether* a mail is due and *what* it says, in
keepalived's words (keepalived/core/smtp.c, vrrp/vrrp_notify.c, check/check_*.c):

  Subject: [router_id] VRRP Instance VI_1 - Entering MASTER state
  Subject: [router_id] VRRP Group G1 - Entering BACKUP state
  Subject: [router_id] Realserver [192.0.2.2]:tcp:80 of virtual server [192.0.2.10]:tcp:80 - DOWN
  Subject: [router_id] Virtualserver [192.0.2.10]:tcp:80 - UP

with the headers Date, From, Subject, X-Mailer: Keepalived and To (every address, comma
separated) and a one-line body such as "=> VRRP Instance is now owning VRRP VIPs <=".
Whether a block mails follows keepalived's inheritance: an instance's or sync group's own
`smtp_alert`, else global `smtp_alert_vrrp`, else global `smtp_alert`, else off; a real or
virtual server's own, else `smtp_alert_checker`, else `smtp_alert`, else on for a real server
and off for a virtual server. Nothing is mailed without `notification_email` and
`smtp_server`. An instance mails only when its state differs from the last one mailed
(`no_email_faults` leaves FAULT out).

The edge, `Mailer`, takes alerts into a bounded queue (`submit` never blocks nor does I/O: a
full queue drops the mail and counts it) and a couple of worker tasks deliver them with a
small SMTP client: greeting, HELO, MAIL FROM, one RCPT TO per address, DATA (dot-stuffed),
QUIT, each step bounded by `smtp_connect_timeout` and each reply by 1024 bytes. A dead server
or one that never answers costs the mails, counted as failed and logged in keepalived's words
("Timeout reading data to remote SMTP server [192.0.2.1]:25."), never a delay elsewhere.
"""
from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import pwd
import socket
import time
from dataclasses import field
from typing import Any

from keepalived_py.errors import KeepalivedError
from keepalived_py.obs import slog
from keepalived_py.record import Record

log = slog.get_logger("keepalived_py.notify.smtp")

SUBJECT_MAX = 255          # keepalived's MAX_HEADERS_LENGTH - 1
BODY_MAX = 511             # MAX_BODY_LENGTH - 1
TO_MAX = 1023              # SMTP_BUFFER_MAX - 1 for the To: header
REPLY_MAX = 1024           # SMTP_BUFFER_MAX: one reply (all its lines) must fit
QUEUE_MAX = 64
WORKERS = 2

VRRP_INSTANCE_WORDS = {
    "MASTER": ("Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="),
    "BACKUP": ("Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <="),
    "FAULT": ("Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <="),
    "STOP": ("Stopping", "=> VRRP Instance stopping <="),
    "DELETED": ("Deleted", "=> VRRP Deleted at reload <="),
}
VRRP_GROUP_WORDS = {
    "MASTER": ("Entering MASTER state", "=> All VRRP group instances are now in MASTER state <="),
    "BACKUP": ("Entering BACKUP state", "=> All VRRP group instances are now in BACKUP state <="),
    "FAULT": ("Entering FAULT state", "=> All VRRP group instances are now in FAULT state <="),
    "STOP": ("Stopping", "=> All VRRP group instances are now stopping <="),
}
# check_*.c: the body of a real server's mail per checker, (up, down)
CHECKER_WORDS = {
    "TCP_CHECK": ("=> TCP CHECK succeed on service <=", "=> TCP CHECK failed on service <="),
    "HTTP_GET": ("=> CHECK succeed on service <=",
                 "=> CHECK failed on service : HTTP request failed <="),
    "SSL_GET": ("=> CHECK succeed on service <=",
                "=> CHECK failed on service : HTTP request failed <="),
    "SMTP_CHECK": ("=> CHECK succeed on service <=", "=> CHECK failed on service <="),
    "DNS_CHECK": ("=> DNS_CHECK: succeed on service <=", "=> DNS_CHECK: failed on service <="),
    "UDP_CHECK": ("=> UDP CHECK succeed on service <=", "=> UDP CHECK failed on service <="),
    "PING_CHECK": ("=> ICMP CHECK succeed on service <=", "=> ICMP CHECK failed on service <="),
    "MISC_CHECK": ("=> MISC CHECK succeeded on service <=", "=> MISC CHECK failed on service <="),
}


# -- pure: decisions and messages ---------------------------------------------------------------
class Alert(Record, kw_only=False):
    """One mail: the subject after "[router_id] " and the body line."""

    subject: str
    body: str


def vrrp_alerts_on(own: bool | None, g: Any) -> bool:
    """An instance's or sync group's effective smtp_alert (keepalived vrrp.c)."""
    for v in (own, g.smtp_alert_vrrp, g.smtp_alert):
        if v is not None:
            return bool(v)
    return False


def checker_alerts_on(own: bool | None, g: Any, *, real_server: bool) -> bool:
    """A real or virtual server's effective smtp_alert (keepalived check_data.c): a real server
    defaults to on, a virtual server to off."""
    for v in (own, g.smtp_alert_checker, g.smtp_alert):
        if v is not None:
            return bool(v)
    return real_server


def instance_alert(name: str, state: str) -> Alert | None:
    words = VRRP_INSTANCE_WORDS.get(state)
    return None if words is None else Alert(f"VRRP Instance {name} - {words[0]}", words[1])


def group_alert(name: str, state: str) -> Alert | None:
    words = VRRP_GROUP_WORDS.get(state)
    return None if words is None else Alert(f"VRRP Group {name} - {words[0]}", words[1])


def format_vs(vs: Any) -> str:
    """keepalived's FMT_VS: "[ip]:tcp:80", "FWM 5" or "[group]:port"."""
    if vs.group:
        return f"[{vs.group}]:{vs.port or 0}"
    if vs.fwmark is not None:
        return f"FWM {vs.fwmark}"
    return f"[{vs.address}]:{(vs.protocol or 'TCP').lower()}:{vs.port or 0}"


def format_rs(rs: Any, vs: Any) -> str:
    """keepalived's FMT_RS: the real server's "[ip]:proto:port" with the virtual server's
    protocol."""
    return f"[{rs.address}]:{(vs.protocol or 'TCP').lower()}:{rs.port or vs.port or 0}"


def realserver_alert(rs: Any, vs: Any, up: bool, body: str) -> Alert:
    return Alert(f"Realserver {format_rs(rs, vs)} of virtual server {format_vs(vs)} - "
                 f"{'UP' if up else 'DOWN'}", body)


def checker_body(kind: str, up: bool) -> str:
    words = CHECKER_WORDS.get(kind)
    if words is None:
        return f"=> {kind} {'succeed' if up else 'failed'} on service <="
    return words[0] if up else words[1]


def virtualserver_alert(vs: Any, up: bool, weight_sum: int, *, init: bool = False,
                        stopping: bool = False) -> Alert:
    """ipwrapper.c do_vs_notifies: quorum gained or lost."""
    threshold = vs.quorum + (vs.hysteresis if up else -vs.hysteresis)   # the one just crossed
    if stopping:
        body = "=> Shutting down <="
    else:
        what = (("Starting with quorum up" if init else "Gained quorum") if up
                else ("Starting with quorum down" if init else "Lost quorum"))
        body = f"=> {what} {vs.quorum}+{vs.hysteresis}={threshold} <= {weight_sum} <="
    return Alert(f"Virtualserver {format_vs(vs)} - {'UP' if up else 'DOWN'}", body)


def _clean(text: str) -> str:
    """No header injection: a CR or LF in a name would start a new header."""
    return text.replace("\r", " ").replace("\n", " ")


def render(alert: Alert, *, router_id: str | None, sender: str, recipients: tuple[str, ...],
           date: str) -> bytes:
    """The DATA payload, keepalived's headers and body, dot-stuffed (RFC 5321 §4.5.2),
    ending with the lone dot."""
    subject = _clean(f"[{router_id}] {alert.subject}" if router_id else alert.subject)
    to = ""
    for addr in recipients:
        nxt = addr if not to else f"{to}, {addr}"
        if len(nxt) > TO_MAX:
            break
        to = nxt
    body = alert.body[:BODY_MAX]
    text = (f"Date: {date}\r\nFrom: {_clean(sender)}\r\nSubject: {subject[:SUBJECT_MAX]}\r\n"
            f"X-Mailer: Keepalived\r\nTo: {_clean(to)}\r\n\r\n{body}\r\n")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    stuffed = "\r\n".join("." + ln if ln.startswith(".") else ln for ln in lines)
    return stuffed.encode("utf-8", "replace") + b"\r\n.\r\n"


class StateMails(Record, kw_only=False, frozen=False):
    """keepalived's last_email_state: an instance or group mails when its state differs from
    the last one it mailed; with no_email_faults, FAULT is not mailed (nor remembered)."""

    no_email_faults: bool = False
    last: dict[str, str] = field(default_factory=dict)

    def due(self, key: str, state: str) -> bool:
        if self.no_email_faults and state == "FAULT":
            return False
        if self.last.get(key, "INIT") == state:
            return False
        self.last[key] = state
        return True


# -- the client -------------------------------------------------------------------------------------
class SmtpError(KeepalivedError):
    """A mail could not be delivered; `line` is keepalived's log line for why."""

    def __init__(self, line: str) -> None:
        self.line = line
        super().__init__(line)


class SmtpSettings(Record, kw_only=False):
    host: str
    port: int = 25
    helo: str = "localhost"
    sender: str = ""
    recipients: tuple[str, ...] = ()
    timeout: float = 30.0
    router_id: str | None = None

    @classmethod
    def from_config(cls, g: Any) -> SmtpSettings | None:
        """None when keepalived would not mail: no notification_email or no smtp_server.
        Defaults that need the local name (router_id, HELO name, From) are filled in by the
        Mailer, off the loop."""
        if not g.notification_email or not g.smtp_server:
            return None
        return cls(host=g.smtp_server, port=g.smtp_server_port, helo=g.smtp_helo_name or "",
                   sender=g.notification_email_from or "", recipients=tuple(g.notification_email),
                   timeout=float(g.smtp_connect_timeout), router_id=g.router_id)


def host_pair(host: str, port: int) -> str:
    """keepalived's FMT_SMTP_HOST: "[192.0.2.1]:25"."""
    return f"[{host}]:{port}"


def local_name() -> str | None:
    """keepalived's get_local_name: the canonical name of uname's node name (may block on DNS:
    call off the loop)."""
    node = os.uname().nodename
    try:
        info = socket.getaddrinfo(node, None, flags=socket.AI_CANONNAME)
    except OSError:
        return None
    return (info[0][3] or None) if info else None


async def _reply(reader: asyncio.StreamReader, where: str, timeout: float) -> int:
    """Read one (maybe multi-line) reply within `timeout`; its code. Raises SmtpError."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    buf = b""
    while True:
        while b"\r\n" in buf or b"\n" in buf:
            line, _, buf = buf.partition(b"\n")
            line = line.rstrip(b"\r")
            if len(line) >= 4 and line[3:4] == b"-":
                continue                             # a continuation line
            code = line[:3]
            if len(code) == 3 and code.isdigit():
                return int(code)
            raise SmtpError(f"Error reading data from remote SMTP server {where}.")
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise SmtpError(f"Timeout reading data to remote SMTP server {where}.")
        try:
            chunk = await asyncio.wait_for(reader.read(REPLY_MAX - len(buf)), remaining)
        except TimeoutError:
            raise SmtpError(f"Timeout reading data to remote SMTP server {where}.") from None
        except OSError:
            raise SmtpError(f"Error reading data from remote SMTP server {where}.") from None
        if not chunk:
            raise SmtpError(f"Remote SMTP server {where} has closed the connection.")
        buf += chunk
        if len(buf) >= REPLY_MAX:
            raise SmtpError(f"Received buffer from remote SMTP server {where} overflow our get"
                            " read buffer length.")


async def send_mail(settings: SmtpSettings, payload: bytes, *, address: str | None = None) -> None:
    """Deliver one mail (the DATA `payload` from `render`). Every step — connecting, each reply,
    each write — is bounded by settings.timeout. Raises SmtpError with keepalived's line."""
    host = address or settings.host
    where = host_pair(host, settings.port)
    t = settings.timeout
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, settings.port, limit=REPLY_MAX), t)
    except TimeoutError:
        raise SmtpError(f"Timeout opening connection to remote SMTP server {where}.") from None
    except OSError:
        raise SmtpError(f"SMTP connection ERROR to {where}.") from None

    async def command(line: bytes) -> None:
        try:
            writer.write(line)
            await asyncio.wait_for(writer.drain(), t)
        except (OSError, TimeoutError):
            raise SmtpError(f"Cannot send data to remote SMTP server {where}.") from None

    async def expect(name: str, want: int) -> None:
        code = await _reply(reader, where, t)
        if code != want:
            raise SmtpError(f"Error processing {name} cmd on SMTP server {where}."
                            f" SMTP status code = {code}")

    try:
        await expect("(E)SMTP", 220)
        await command(f"HELO {settings.helo or 'localhost'}\r\n".encode())
        await expect("HELO", 250)
        await command(f"MAIL FROM:<{settings.sender}>\r\n".encode())
        await expect("MAIL", 250)
        for rcpt in settings.recipients:
            await command(f"RCPT TO:<{rcpt}>\r\n".encode())
            await expect("RCPT", 250)
        await command(b"DATA\r\n")
        await expect("DATA", 354)
        await command(payload)
        await expect("BODY", 250)
        with contextlib.suppress(SmtpError):         # the mail is accepted: QUIT is a courtesy
            await command(b"QUIT\r\n")
            await _reply(reader, where, min(t, 5.0))
    except SmtpError:
        with contextlib.suppress(Exception):          # keepalived says QUIT after a failure
            writer.write(b"QUIT\r\n")
        raise
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 1.0)


# -- the edge: a bounded queue and its workers ----------------------------------------------------
class Mailer:
    """Queues alerts and sends them in the background; never blocks its caller."""

    def __init__(self, settings: SmtpSettings, *, queue_max: int = QUEUE_MAX,
                 workers: int = WORKERS) -> None:
        self.settings = settings
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._queue: asyncio.Queue[tuple[Alert, str]] = asyncio.Queue(queue_max)
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []
        self._ready: SmtpSettings | None = None
        self._lock = asyncio.Lock()

    def counters(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed, "dropped": self.dropped,
                "queued": self._queue.qsize()}

    def submit(self, alert: Alert) -> bool:
        """Queue `alert` (dated now); False, counted and logged, when the queue is full."""
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._run()) for _ in range(self._workers)]
        try:
            import email.utils  # (not on the start path: only when a mail is due)
            self._queue.put_nowait((alert, email.utils.formatdate(time.time(), localtime=True)))
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("smtp.alert.dropped", subject=alert.subject, queued=self._queue.qsize())
            return False
        return True

    async def _resolved(self) -> SmtpSettings:
        """The settings with keepalived's defaults that need the local name: router_id, the
        HELO name and From (user@local-name). Looked up once, on a worker thread."""
        async with self._lock:
            if self._ready is None:
                s = self.settings
                name: str | None = None
                if not (s.router_id and s.helo and s.sender):
                    name = await asyncio.get_running_loop().run_in_executor(None, local_name)
                try:
                    user = pwd.getpwuid(os.getuid()).pw_name
                except KeyError:
                    user = "root"
                # keepalived without a local name: router_id "[unknown]", HELO localhost (and
                # a From of "(null)", where we keep user@localhost)
                self._ready = SmtpSettings(
                    host=s.host, port=s.port, helo=s.helo or name or "localhost",
                    sender=s.sender or f"{user}@{name or 'localhost'}", recipients=s.recipients,
                    timeout=s.timeout, router_id=s.router_id or name or "[unknown]")
            return self._ready

    async def _address(self, s: SmtpSettings) -> str:
        """smtp_server may be a name: resolve it (bounded by the timeout)."""
        try:
            ipaddress.ip_address(s.host)
            return s.host
        except ValueError:
            pass
        where = host_pair(s.host, s.port)
        try:
            infos = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(
                s.host, s.port, type=socket.SOCK_STREAM), s.timeout)
        except (OSError, TimeoutError):
            raise SmtpError(f"SMTP connection ERROR to {where}.") from None
        return str(infos[0][4][0])

    async def _run(self) -> None:
        while True:
            alert, date = await self._queue.get()
            try:
                s = await self._resolved()
                payload = render(alert, router_id=s.router_id, sender=s.sender,
                                 recipients=s.recipients, date=date)
                await send_mail(s, payload, address=await self._address(s))
            except SmtpError as e:
                self.failed += 1
                log.info("smtp.alert.failed", subject=alert.subject, compat=e.line)
            except Exception as e:                      # never let a worker die
                self.failed += 1
                log.warning("smtp.alert.failed", subject=alert.subject, error=repr(e))
            else:
                self.sent += 1
                log.debug("smtp.alert.sent", subject=alert.subject,
                          compat="SMTP alert successfully sent.")
            finally:
                self._queue.task_done()

    async def close(self, timeout: float = 1.0) -> None:
        """Give queued mails up to `timeout` (a stop's "Stopping" mails), then stop; what is
        still queued is counted as dropped."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []
        self.dropped += self._queue.qsize()


class _Alerts:
    """A child's mailer, replaced when a reload changes the SMTP settings."""

    mailer: Mailer | None = None

    def _configure_mailer(self, g: Any) -> None:
        settings = SmtpSettings.from_config(g)
        if self.mailer is not None and self.mailer.settings != settings:
            old, self.mailer = self.mailer, None
            asyncio.get_running_loop().create_task(old.close(0.0))
        if settings is not None and self.mailer is None:
            self.mailer = Mailer(settings)

    async def close(self, timeout: float = 1.0) -> None:
        if self.mailer is not None:
            await self.mailer.close(timeout)


class VrrpAlerts(_Alerts):
    """The VRRP child's mails: instance and sync group transitions, keepalived's rules."""

    def __init__(self, config: Any) -> None:
        self.mailer: Mailer | None = None
        self.tracker = StateMails()
        self.group_state: dict[str, str] = {}
        self.configure(config)

    def configure(self, config: Any) -> None:
        g = config.global_defs
        self._configure_mailer(g)
        self.tracker.no_email_faults = g.no_email_faults
        self.instances = {i.name: (vrrp_alerts_on(i.notify.smtp_alert, g), i.sync_group)
                          for i in config.vrrp_instances}
        self.groups = {sg.name: vrrp_alerts_on(sg.notify.smtp_alert, g)
                       for sg in config.vrrp_sync_groups}

    def instance_changed(self, name: str, state: str) -> None:
        """After the packets of a transition (never blocks)."""
        if self.mailer is None:
            return
        on, group = self.instances.get(name, (False, None))
        if on and self.tracker.due(f"i:{name}", state) and (a := instance_alert(name, state)):
            self.mailer.submit(a)
        if group and self.group_state.get(group) != state and state in VRRP_GROUP_WORDS:
            # keepalived's sync group follows the first member that changes (vrrp_sync.c)
            self.group_state[group] = state
            if self.groups.get(group) and self.tracker.due(f"g:{group}", state) and \
                    (a := group_alert(group, state)):
                self.mailer.submit(a)


class CheckAlerts(_Alerts):
    """The checker child's mails: a real server's checker up/down, a removed real server and a
    virtual server's quorum, keepalived's rules."""

    def __init__(self, config: Any) -> None:
        self.mailer: Mailer | None = None
        self.configure(config)

    def configure(self, config: Any) -> None:
        g = config.global_defs
        self._configure_mailer(g)
        self.g = g

    def checker_changed(self, vs: Any, rs: Any, kind: str, up: bool, rs_changed: bool) -> None:
        """A checker's verdict changed (or, for MISC_CHECK, its first verdict): mail unless
        no_checker_emails and the real server as a whole did not change."""
        if self.mailer is None or not checker_alerts_on(rs.smtp_alert, self.g, real_server=True):
            return
        if rs_changed or not self.g.no_checker_emails:
            self.mailer.submit(realserver_alert(rs, vs, up, checker_body(kind, up)))

    def realserver_removed(self, vs: Any, rs: Any, stopping: bool) -> None:
        if self.mailer is None or not checker_alerts_on(rs.smtp_alert, self.g, real_server=True):
            return
        self.mailer.submit(realserver_alert(
            rs, vs, False, "=> Shutting down <=" if stopping else "=> Removing <="))

    def quorum_changed(self, vs: Any, up: bool, weight_sum: int) -> None:
        if self.mailer is None or not checker_alerts_on(vs.smtp_alert, self.g, real_server=False):
            return
        self.mailer.submit(virtualserver_alert(vs, up, weight_sum))
