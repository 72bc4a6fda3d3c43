"""The shop's mailers: what each mail is about and the key it is delivered under."""

from __future__ import annotations

from shop.accounts import load_user
from shop.jobs.mailer import Mail, Mailer, mail_action
from shop.mail.messages import (
    admin_signup_delivery_key,
    admin_signup_email,
    report_completed_delivery_key,
    report_completed_email,
    welcome_delivery_key,
    welcome_email,
)
from shop.reports.records import load_report


class ReportMailer(Mailer):
    """Mail about reports."""

    @mail_action
    def completed(self, report_id: str) -> Mail:
        """The report is built: a link to download it, to whoever asked for it."""
        wiring = self.wiring
        report = load_report(wiring.session_factory, report_id)
        return Mail(
            report_completed_email(wiring.settings, report),
            report_completed_delivery_key(report.id),
        )


class UserMailer(Mailer):
    """Mail to the shop's users."""

    @mail_action
    def welcome(self, user_id: int) -> Mail:
        """Greets a user who just signed up."""
        wiring = self.wiring
        user = load_user(wiring.session_factory, user_id)
        return Mail(welcome_email(wiring.settings, user), welcome_delivery_key(user.id))


class AdminMailer(Mailer):
    """Mail to the shop's admin."""

    @mail_action
    def new_signup(self, user_id: int) -> Mail:
        """Tells the admin about a signup."""
        wiring = self.wiring
        user = load_user(wiring.session_factory, user_id)
        return Mail(admin_signup_email(wiring.settings, user), admin_signup_delivery_key(user.id))
