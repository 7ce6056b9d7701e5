"""Email through SES and SMS through SNS. A send that fails raises; the caller records the attempt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str


class EmailSender:
    def __init__(self, ses: Any, sender: str):
        self._ses = ses
        self.sender = sender

    def send(self, email: Email) -> str:
        response = self._ses.send_email(
            Source=self.sender,
            Destination={"ToAddresses": [email.to]},
            Message={
                "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": email.text, "Charset": "UTF-8"},
                    "Html": {"Data": email.html, "Charset": "UTF-8"},
                },
            },
        )
        return str(response["MessageId"])


class SmsSender:
    def __init__(self, sns: Any):
        self._sns = sns

    def send(self, phone: str, text: str) -> str:
        response = self._sns.publish(
            PhoneNumber=phone,
            Message=text,
            MessageAttributes={
                "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
            },
        )
        return str(response["MessageId"])
