"""The SMTP transport against a real aiosmtpd server: plain, STARTTLS, TLS, AUTH, failures."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from shop.errors import PermanentMailError, TransientMailError
from shop.mail import SmtpEndpoint, SmtpSecurity, SmtpTransport
from tests.support.ports import free_port
from tests.support.smtp_server import SmtpSink, client_context_trusting, self_signed_certificate


def make_message(to: str = "ada@example.org") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Shop <shop@shop.test>"
    message["To"] = to
    message["Subject"] = "Hello"
    message.set_content("plain body\n")
    message.add_alternative("<p>html body</p>\n", subtype="html")
    return message


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


def test_a_message_reaches_the_server_with_envelope_and_both_parts(smtp_sink: SmtpSink) -> None:
    SmtpTransport.from_url(smtp_sink.url).send(make_message())

    [mail] = smtp_sink.wait_for_messages(1)
    assert mail.mail_from == "shop@shop.test"
    assert mail.recipients == ("ada@example.org",)
    assert mail.message.get_content_type() == "multipart/alternative"
    assert mail.message["Subject"] == "Hello"


def test_a_4xx_reply_is_transient_and_the_next_attempt_succeeds(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next("DATA", code=451, text="4.3.0 Mailbox busy")
    transport = SmtpTransport.from_url(smtp_sink.url)

    with pytest.raises(TransientMailError, match="451") as caught:
        transport.send(make_message())
    assert caught.value.smtp_code == 451
    transport.send(make_message())

    assert len(smtp_sink.wait_for_messages(1)) == 1
    assert smtp_sink.data_attempts == 2


def test_a_5xx_recipient_refusal_is_permanent(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next("RCPT", code=550, text="5.1.1 No such user")

    with pytest.raises(PermanentMailError, match="No such user") as caught:
        SmtpTransport.from_url(smtp_sink.url).send(make_message())
    assert caught.value.smtp_code == 550
    assert smtp_sink.messages == []


def test_a_4xx_recipient_refusal_is_transient(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next("RCPT", code=450, text="4.2.1 Greylisted")
    with pytest.raises(TransientMailError, match="Greylisted"):
        SmtpTransport.from_url(smtp_sink.url).send(make_message())


def test_a_5xx_reply_to_the_data_is_permanent(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next("DATA", code=554, text="5.7.1 Rejected as spam")
    with pytest.raises(PermanentMailError, match="spam"):
        SmtpTransport.from_url(smtp_sink.url).send(make_message())


def test_a_refused_connection_is_transient_and_chains_the_cause() -> None:
    transport = SmtpTransport.from_url(f"smtp://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(TransientMailError, match="ConnectionRefusedError") as caught:
        transport.send(make_message())
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


@pytest.fixture
def starttls_sink(certificate: tuple[Path, Path]) -> Iterator[SmtpSink]:
    with SmtpSink(tls=certificate, users={"shop": "s3cret:/@"}) as sink:
        yield sink


def test_starttls_with_login_delivers(
    starttls_sink: SmtpSink, certificate: tuple[Path, Path]
) -> None:
    transport = SmtpTransport(
        SmtpEndpoint("127.0.0.1", starttls_sink.port, SmtpSecurity.STARTTLS, "shop", "s3cret:/@"),
        ssl_context=client_context_trusting(certificate[0]),
    )
    transport.send(make_message())

    [mail] = starttls_sink.wait_for_messages(1)
    assert mail.login == "shop"


def test_a_wrong_password_is_transient_and_names_the_setting(
    starttls_sink: SmtpSink, certificate: tuple[Path, Path]
) -> None:
    transport = SmtpTransport(
        SmtpEndpoint("127.0.0.1", starttls_sink.port, SmtpSecurity.STARTTLS, "shop", "wrong"),
        ssl_context=client_context_trusting(certificate[0]),
    )
    with pytest.raises(TransientMailError, match="SMTP_URL"):
        transport.send(make_message())
    assert starttls_sink.messages == []


def test_an_untrusted_certificate_is_refused(starttls_sink: SmtpSink) -> None:
    transport = SmtpTransport(SmtpEndpoint("127.0.0.1", starttls_sink.port, SmtpSecurity.STARTTLS))
    with pytest.raises(TransientMailError, match="SSLCertVerificationError"):
        transport.send(make_message())


def test_implicit_tls_delivers(certificate: tuple[Path, Path]) -> None:
    with SmtpSink(tls=certificate, implicit_tls=True) as sink:
        transport = SmtpTransport(
            SmtpEndpoint("127.0.0.1", sink.port, SmtpSecurity.TLS),
            ssl_context=client_context_trusting(certificate[0]),
        )
        transport.send(make_message())
        assert len(sink.wait_for_messages(1)) == 1
