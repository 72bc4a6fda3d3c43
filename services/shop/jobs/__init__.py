"""The shop's job classes: where the domain meets sidequest.

This is the only part of `shop` that imports sidequest. Importing the package imports
every job module, so `sidequest worker -r shop.jobs` registers every job class:

| job                          | queue   | what it does                                    |
|------------------------------|---------|-------------------------------------------------|
| ProcessReportJob(report_id)  | reports | builds a report, marks it done, mails the link  |
| MailDeliveryJob(m, a, args)  | mailers | delivers a mailer action (`deliver_later`)      |
| SendWelcomeEmailJob(user_id) | default | welcome mail to a new user (unique_for 1 h)     |
| SetupDefaultPreferencesJob   | default | a new user's default preferences                |
| NotifyAdminOfSignupJob       | default | tells the admin about a signup                  |

A worker must listen on the `reports`, `mailers` and `default` queues. The jobs take
their settings, database sessions and mail transport from `shop.jobs.wiring`.
"""

from shop.jobs.application_job import FILESYSTEM_ERRORS, TRANSIENT_ERRORS, ApplicationJob
from shop.jobs.mailer import (
    MAILERS_QUEUE,
    Mail,
    MailDeliveryJob,
    Mailer,
    MessageDelivery,
    UnknownMailAction,
    mail_action,
    mailer_named,
)
from shop.jobs.mailers import AdminMailer, ReportMailer, UserMailer
from shop.jobs.report_jobs import (
    REPORTS_QUEUE,
    ProcessReportJob,
    create_report_and_enqueue,
    enqueue_report_build,
)
from shop.jobs.signup_jobs import (
    NotifyAdminOfSignupJob,
    SendWelcomeEmailJob,
    SetupDefaultPreferencesJob,
    SignupJobs,
    start_signup_workflow,
)
from shop.jobs.wiring import JobWiring, configure, current, reset

#: The queues a worker running these jobs must listen on.
QUEUES = (REPORTS_QUEUE, MAILERS_QUEUE, "default")

__all__ = [
    "FILESYSTEM_ERRORS",
    "MAILERS_QUEUE",
    "QUEUES",
    "REPORTS_QUEUE",
    "TRANSIENT_ERRORS",
    "AdminMailer",
    "ApplicationJob",
    "JobWiring",
    "Mail",
    "MailDeliveryJob",
    "Mailer",
    "MessageDelivery",
    "NotifyAdminOfSignupJob",
    "ProcessReportJob",
    "ReportMailer",
    "SendWelcomeEmailJob",
    "SetupDefaultPreferencesJob",
    "SignupJobs",
    "UnknownMailAction",
    "UserMailer",
    "configure",
    "create_report_and_enqueue",
    "current",
    "enqueue_report_build",
    "mail_action",
    "mailer_named",
    "reset",
    "start_signup_workflow",
]
