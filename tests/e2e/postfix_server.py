"""A real Postfix on loopback for end-to-end tests.

``PostfixServer`` builds a private Postfix instance in its own directory (configuration,
queue, maildirs, log) following the design notes' recipe (POSTFIX.md, "A real Postfix
inside a test"), so the system configuration is never read or touched. Virtual alias domains are
expanded through the map under test; every final recipient is a maildir box in the
virtual mailbox domain ``mbox.test``, where tests count the delivered files.

Postfix needs root (it switches to the ``postfix`` user and delivers as uid 65534), so
``unavailable_reason()`` says why a run cannot start one; fixtures skip on it.
"""

from __future__ import annotations

import email
import email.policy
import os
import pty
import re
import select
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from email.message import EmailMessage, Message
from email.utils import make_msgid
from pathlib import Path

MAILBOX_DOMAIN = "mbox.test"
# The file postmap builds from the source file, per map type.
MAP_SUFFIXES = {"hash": ".db", "lmdb": ".lmdb", "cdb": ".cdb"}
MAP_TYPES = tuple(MAP_SUFFIXES)
NOBODY = 65534
SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")
# Queue directories that hold a message until it is delivered, bounced or deleted.
PENDING_QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")
POLL_INTERVAL = 0.05
PROBLEM = re.compile(r"postfix(/[\w/-]+)?\[\d+\]: (error|fatal|panic):")


class PostfixError(RuntimeError):
    """Postfix did not do what the harness asked; the message carries its log."""


def find_program(name: str) -> str | None:
    """Postfix programs live in sbin, which a non-login PATH may lack."""
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN_DIRS))


def unavailable_reason() -> str | None:
    """Why this machine cannot run a test Postfix, or None when it can."""
    for program in ("postfix", "postmap", "postconf"):
        if find_program(program) is None:
            return f"{program} is not installed (Debian: apt-get install postfix postfix-lmdb postfix-cdb)"
    if os.geteuid() != 0:
        return "a test Postfix must be started as root (it delivers mail as uid 65534)"
    if not Path("/etc/postfix/master.cf").is_file():
        return "/etc/postfix/master.cf is missing: the Postfix installation is incomplete"
    return None


def supported_map_types() -> set[str]:
    """Map types this Postfix can open (``postconf -m``), without needing a main.cf."""
    with tempfile.TemporaryDirectory() as conf_dir:
        _write_config(Path(conf_dir, "main.cf"), "compatibility_level = 3.6\n")
        result = _run([_program("postconf"), "-c", conf_dir, "-m"])
    return set(result.stdout.split())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll(condition: Callable[[], bool], timeout: float) -> bool:
    """Call ``condition`` until it holds or ``timeout`` seconds pass; the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL)


class PostfixServer:
    """One private Postfix instance: configure on construction, then ``start()``.

    The alias map (``map_type:map_path``) is not created here: the test writes and
    compiles it (by hand or through an aliasdesk deploy) before ``start()``, because a
    Postfix daemon that cannot open its map defers mail. ``conf_dir`` is a complete
    configuration directory, usable as ``postmap -c`` before the server runs;
    ``extra_settings`` add to or override its main.cf.
    """

    def __init__(
        self,
        *,
        mailboxes: Sequence[str],
        alias_domains: Sequence[str] = ("example.com",),
        map_type: str = "hash",
        map_path: Path | str | None = None,
        extra_settings: dict[str, str] | None = None,
    ) -> None:
        if map_type not in MAP_TYPES:
            raise ValueError(f"map type {map_type!r} is not one of {', '.join(MAP_TYPES)}")
        if not mailboxes:
            raise ValueError("a test Postfix needs at least one mailbox")
        # Not pytest's tmp_path: its parents are 0700, and virtual(8) delivers as nobody.
        self.root = Path(tempfile.mkdtemp(prefix="aliasdesk-postfix-"))
        self.root.chmod(0o755)
        self.conf_dir = self.root / "conf"
        self.queue_dir = self.root / "queue"
        self.maildir = self.root / "maildir"
        self.maillog_path = self.root / "maillog"
        self.mailbox_names = list(mailboxes)
        self.alias_domains = list(alias_domains)
        self.map_type = map_type
        self.map_path = Path(map_path) if map_path is not None else self.root / "virtual"
        self.extra_settings = dict(extra_settings or {})
        self.port = 0
        self._master_pid: int | None = None
        try:
            self._configure()
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    # -- setup ---------------------------------------------------------------------

    @property
    def map_spec(self) -> str:
        return f"{self.map_type}:{self.map_path}"

    @property
    def running(self) -> bool:
        return self._master_pid is not None and _alive(self._master_pid)

    def _configure(self) -> None:
        for directory in (self.conf_dir, self.queue_dir, self.root / "data", self.maildir):
            directory.mkdir()
        shutil.chown(self.root / "data", user="postfix")
        os.chown(self.maildir, NOBODY, NOBODY)
        vmailbox = self.root / "vmailbox"
        vmailbox.write_text("".join(f"{box}@{MAILBOX_DOMAIN} {box}/\n" for box in self.mailbox_names))
        _write_config(self.conf_dir / "main.cf", self._main_cf())
        self._write_master_cf(port=0)
        self.postmap(vmailbox, "hash")

    def _main_cf(self) -> str:
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.root / "data",
            "mail_owner": "postfix",
            "myhostname": "mx.test.invalid",
            "mydestination": "",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "maillog_file": self.maillog_path,
            "maillog_file_prefixes": self.root,
            "recipient_delimiter": "+",
            "virtual_alias_domains": ", ".join(self.alias_domains),
            "virtual_alias_maps": self.map_spec,
            "virtual_mailbox_domains": MAILBOX_DOMAIN,
            "virtual_mailbox_base": self.maildir,
            "virtual_mailbox_maps": f"hash:{self.root / 'vmailbox'}",
            "virtual_uid_maps": f"static:{NOBODY}",
            "virtual_gid_maps": f"static:{NOBODY}",
            # Nothing below changes routing; it keeps the instance self-contained and quick.
            "alias_maps": "",  # the defaults read /etc/aliases.db and NIS
            "alias_database": "",
            "local_recipient_maps": "",
            "default_transport": "error:5.7.1 the test Postfix sends nothing outside",
            "relay_transport": "error:5.7.1 the test Postfix sends nothing outside",
            "biff": "no",
            "in_flow_delay": "0",
            "smtpd_error_sleep_time": "0",
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            **self.extra_settings,
        }
        return "".join(f"{name} = {value}\n" for name, value in settings.items())

    def _write_master_cf(self, port: int) -> None:
        lines = []
        for line in Path("/etc/postfix/master.cf").read_text().splitlines():
            fields = line.split()
            if not fields or line[0] in "# \t" or len(fields) < 8:
                lines.append(line)
            elif fields[0] == "smtp" and fields[1] == "inet":
                lines.append(f"127.0.0.1:{port} inet n - n - - smtpd")
            else:
                fields[4] = "n"  # no chroot: the instance lives outside any chroot jail
                lines.append("\t".join(fields))
        _write_config(self.conf_dir / "master.cf", "\n".join(lines) + "\n")

    # -- lifecycle -----------------------------------------------------------------

    def start(self, timeout: float = 20.0) -> None:
        """Start Postfix on a free loopback port and wait for its SMTP greeting.

        Refuses to start without a compiled alias map: Postfix would run and answer
        every recipient with "451 Temporary lookup failure".
        """
        if self.running:
            return
        compiled = Path(f"{self.map_path}{MAP_SUFFIXES[self.map_type]}")
        if not compiled.is_file():
            raise PostfixError(f"no {compiled}: compile {self.map_spec} (deploy it, or postmap()) before start()")
        status, output = self._postfix("check")
        if status != 0:
            log = f"--- {self.maillog_path} ---\n{self.maillog()}"
            raise PostfixError(f"postfix check failed ({status}):\n{output}{log}")
        for attempt in range(3):
            self.port = free_port()  # another process may take it before master binds it: retry
            self._write_master_cf(self.port)
            earlier = len(self.maillog())
            status, output = self._postfix("start")
            if status == 0:
                self._master_pid = self._read_master_pid(timeout)
                if self._wait_for_greeting(timeout, earlier):
                    problems = [line for line in self.maillog()[earlier:].splitlines() if PROBLEM.search(line)]
                    if not problems:
                        return
                    self.stop()
                    raise PostfixError(f"Postfix started with errors: {problems}\n{self._diagnostics()}")
            log = self.maillog()[earlier:]
            self.stop()
            if "Address already in use" not in log or attempt == 2:
                message = f"postfix start failed ({status}):\n{output}" if status else "Postfix did not greet"
                raise PostfixError(f"{message} on 127.0.0.1:{self.port}\n{self._diagnostics(log)}")

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the instance and wait until its master process is gone."""
        pid = self._master_pid
        if pid is None or not _alive(pid):
            self._master_pid = None
            return
        self._postfix("stop")
        if not poll(lambda: not _alive(pid), timeout):
            self._postfix("abort")
            if not poll(lambda: not _alive(pid), 5):
                os.kill(pid, signal.SIGKILL)
        self._master_pid = None

    def close(self) -> None:
        """Stop and delete the instance (kept when ALIASDESK_E2E_KEEP is set)."""
        self.stop()
        if not os.environ.get("ALIASDESK_E2E_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)

    def _postfix(self, command: str) -> tuple[int, str]:
        return _run_on_terminal([_program("postfix"), "-c", str(self.conf_dir), command])

    def flush(self) -> None:
        """Ask the queue manager to try every deferred message again now (postfix flush)."""
        self._postfix("flush")

    def _read_master_pid(self, timeout: float) -> int:
        pid_file = self.queue_dir / "pid" / "master.pid"
        if not poll(lambda: pid_file.is_file() and pid_file.read_text().strip().isdigit(), timeout):
            raise PostfixError(f"Postfix wrote no {pid_file}\n{self._diagnostics()}")
        return int(pid_file.read_text())

    def _wait_for_greeting(self, timeout: float, log_offset: int) -> bool:
        """True once smtpd greets; False as soon as Postfix dies or logs (after log_offset) a fatal error."""
        greeted = False

        def settled() -> bool:
            nonlocal greeted
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                    greeted = sock.recv(512).startswith(b"220")
            except OSError:
                greeted = False
            return greeted or not self.running or "fatal:" in self.maillog()[log_offset:]

        poll(settled, timeout)
        return greeted

    def _diagnostics(self, log: str | None = None) -> str:
        """``postfix check`` output and the mail log (``log``, or the current one)."""
        status, output = self._postfix("check")
        return (
            f"--- postfix check (exit {status}) ---\n{output}"
            f"--- {self.maillog_path} ---\n{self.maillog() if log is None else log}"
        )

    # -- mail ----------------------------------------------------------------------

    def send(
        self,
        sender: str,
        recipients: Iterable[str],
        subject: str,
        body: str = "",
    ) -> str:
        """Send one message over SMTP and return its Message-ID.

        Raises ``smtplib.SMTPRecipientsRefused`` when Postfix rejects every recipient,
        and returns normally when it accepted the message for at least one.
        """
        recipients = list(recipients)
        message = EmailMessage()
        message["From"] = sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain="sender.test")
        message.set_content(body or subject)
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
            refused = client.send_message(message, sender, recipients)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)
        return str(message["Message-ID"])

    def mailboxes(self) -> dict[str, int]:
        """Delivered messages per box: every configured box, plus any other that exists."""
        counts = dict.fromkeys(self.mailbox_names, 0)
        if self.maildir.is_dir():
            for box in self.maildir.iterdir():
                counts[box.name] = self._count(box.name)
        return counts

    def messages(self, mailbox: str) -> list[Message]:
        """The messages delivered to ``mailbox``, parsed, in no particular order."""
        new = self.maildir / mailbox / "new"
        if not new.is_dir():
            return []
        return [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default) for path in sorted(new.iterdir())
        ]

    def wait_for(self, mailbox: str, count: int, timeout: float = 15.0) -> int:
        """Wait until ``mailbox`` holds at least ``count`` messages; return how many it holds."""
        if not poll(lambda: self._count(mailbox) >= count, timeout):
            raise PostfixError(
                f"{mailbox} holds {self._count(mailbox)} messages after {timeout:g} s, expected {count}; "
                f"boxes: {self.mailboxes()}\n{self.maillog()}"
            )
        return self._count(mailbox)

    def wait_until_idle(self, timeout: float = 15.0) -> None:
        """Wait until the queue holds no message: everything accepted is delivered or bounced."""
        if not poll(lambda: not self.queued_files(), timeout):
            raise PostfixError(
                f"the queue still holds {len(self.queued_files())} messages after {timeout:g} s; "
                f"boxes: {self.mailboxes()}\n{self.maillog()}"
            )

    def queued_files(self) -> list[Path]:
        files: list[Path] = []
        for queue in PENDING_QUEUES:
            for directory, _subdirs, names in os.walk(self.queue_dir / queue):
                files.extend(Path(directory, name) for name in names)
        return files

    def _count(self, mailbox: str) -> int:
        new = self.maildir / mailbox / "new"
        try:
            return sum(1 for _ in new.iterdir())
        except FileNotFoundError:
            return 0

    # -- maps and logs ---------------------------------------------------------------

    def maillog(self) -> str:
        try:
            return self.maillog_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def postmap(self, path: Path | str | None = None, map_type: str | None = None) -> None:
        """Compile a source file (the alias map by default) with this instance's config."""
        spec = f"{map_type or self.map_type}:{path or self.map_path}"
        result = _run([_program("postmap"), "-c", str(self.conf_dir), spec])
        if result.returncode != 0:
            raise PostfixError(f"postmap {spec} failed ({result.returncode}):\n{result.stderr}")

    def postmap_s(self, spec: str | None = None) -> dict[str, str]:
        """Every entry of a compiled map (the alias map by default); cdb cannot list its entries."""
        spec = spec or self.map_spec
        result = _run([_program("postmap"), "-c", str(self.conf_dir), "-s", spec])
        if result.returncode != 0:
            raise PostfixError(f"postmap -s {spec} failed ({result.returncode}):\n{result.stderr}")
        return dict(line.split("\t", 1) for line in result.stdout.splitlines())

    def postmap_q(self, key: str) -> str | None:
        """What the compiled alias map answers for ``key``, or None when it has no entry."""
        result = _run([_program("postmap"), "-c", str(self.conf_dir), "-q", key, self.map_spec])
        if result.returncode == 1 and not result.stderr.strip():
            return None
        if result.returncode != 0:
            raise PostfixError(f"postmap -q {key} {self.map_spec} failed ({result.returncode}):\n{result.stderr}")
        return result.stdout.rstrip("\n")


def _program(name: str) -> str:
    path = find_program(name)
    if path is None:
        raise PostfixError(f"{name} is not installed")
    return path


def _write_config(path: Path, text: str) -> None:
    """Write a configuration file dated a minute ago.

    Postfix re-reads a main.cf changed within the last two seconds, pausing between
    reads, in case an editor is still writing it: a fresh file costs every command 1.5 s.
    """
    path.write_text(text)
    a_minute_ago = time.time() - 60
    os.utime(path, (a_minute_ago, a_minute_ago))


def _run(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def _run_on_terminal(argv: list[str], timeout: float = 60) -> tuple[int, str]:
    """Run a command with a pseudo-terminal as stdout and stderr; its exit status and output.

    The ``postfix`` command reports errors on stderr only when stderr is a terminal
    (otherwise only to syslog, which a test machine may not have).
    """
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal)
    finally:
        os.close(terminal)
    deadline = time.monotonic() + timeout
    output = b""
    try:
        while select.select([controller], [], [], max(deadline - time.monotonic(), 0))[0]:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: every process holding the terminal has exited
                break
            if not chunk:
                break
            output += chunk
        returncode = process.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        os.close(controller)
    return returncode, output.decode(errors="replace").replace("\r\n", "\n")


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie left for a non-reaping init counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")
