"""A real SMTP server for drills and the journey suite (aiosmtpd): accepts, defers (4xx) or
refuses (5xx) by recipient, records every delivered message's Message-ID (stable per outbox
row) so duplicates are visible, and keeps every delivered message (parsed) for the mailbox of
tests/deployed."""

import collections
import email
import email.policy
import socket
import threading

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SinkHandler:
    def __init__(self):
        self.delivered: collections.Counter[str] = collections.Counter()
        self.temporary: set[str] = set()
        self.permanent: set[str] = set()
        # (recipients, parsed message) of every accepted DATA, in arrival order.
        self.messages: list[tuple[tuple[str, ...], email.message.EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.temporary:
            return "451 4.3.0 Mailbox busy, try again later"
        if address in self.permanent:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        key = str(parsed.get("Message-ID") or "?").strip()
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.delivered[f"{key}|{rcpt}"] += 1
            self.messages.append((tuple(r.lower() for r in envelope.rcpt_tos), parsed))
        return "250 Message accepted"


class SmtpSink:
    def __init__(self):
        self.handler = SinkHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    def settings(self) -> dict:
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": self.port,
            "EMAIL_USE_TLS": False,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
        }
