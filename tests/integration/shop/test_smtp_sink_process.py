"""The SMTP sink as a separate process, as the stack tests and `make dev` run it."""

from __future__ import annotations

import email
import email.policy
import signal
import socket
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

from shop.mail import SmtpTransport
from tests.support.polling import wait_for
from tests.support.ports import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def test_the_sink_process_stores_each_message_as_an_eml_file(tmp_path: Path) -> None:
    port, maildir = free_port(), tmp_path / "mail"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.smtp_server",
            "--port",
            str(port),
            "--maildir",
            str(maildir),
        ],
        cwd=PROJECT_ROOT,
        env={"PYTHONPATH": f"{PROJECT_ROOT / 'services'}:{PROJECT_ROOT}", "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: accepts_connections(port), timeout=15, message="the sink to listen")
        message = EmailMessage()
        message["From"] = "shop@shop.test"
        message["To"] = "ada@example.org"
        message["Subject"] = "stored"
        message.set_content("body\n")
        SmtpTransport.from_url(f"smtp://127.0.0.1:{port}").send(message)

        [stored] = wait_for(lambda: sorted(maildir.glob("*.eml")), message="an .eml file")
        parsed = email.message_from_bytes(stored.read_bytes(), policy=email.policy.default)
        assert parsed["Subject"] == "stored"
    finally:
        process.send_signal(signal.SIGTERM)
        _stdout, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr.decode()
