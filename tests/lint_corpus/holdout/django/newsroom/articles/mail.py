import smtplib

SMTP_HOST = "mail"


def send_mail_to_subscribers() -> None:
    with smtplib.SMTP(SMTP_HOST) as smtp:
        smtp.sendmail("news@example.com", ["list@example.com"], "Today's digest")
