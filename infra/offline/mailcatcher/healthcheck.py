"""The mail catcher image's HEALTHCHECK: exit 0 when both of its ports answer.

SMTP on 1025 must greet with 220 and the API on 8025 must list messages.
"""

from __future__ import annotations

import smtplib
import sys
import urllib.request

SMTP_PORT = 1025
API_URL = "http://127.0.0.1:8025/api/v1/messages?start=0&limit=1"
TIMEOUT = 3


def healthy() -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=TIMEOUT) as client:
            code, _ = client.noop()
            if code != 250:
                return False
        with urllib.request.urlopen(API_URL, timeout=TIMEOUT) as answer:
            return bool(answer.status == 200)
    except OSError as error:
        print(f"unhealthy: {error}", file=sys.stderr)
        return False


if __name__ == "__main__":
    sys.exit(0 if healthy() else 1)
