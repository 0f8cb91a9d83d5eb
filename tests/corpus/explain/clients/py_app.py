"""A small Python app sending one message, as apps do: smtplib (debuglevel 0/1/2), aiosmtplib or Django.

Configured from $CLIENT_JOB (JSON: lib, debug, host, port, tls, ca_file, verify, user, sender, recipient,
timeout); password from $CLIENT_PASSWORD. Errors are not caught: Python prints the traceback an app's log
shows. Written for tests/corpus/explain/capture.py.
"""
import json
import os
import ssl
import sys

job = json.loads(os.environ["CLIENT_JOB"])
password = os.environ.get("CLIENT_PASSWORD", "")
ctx = ssl.create_default_context(cafile=job["ca_file"] or None)
if not job.get("verify", True):
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
body = f"From: {job['sender']}\r\nTo: {job['recipient']}\r\nSubject: corpus\r\n\r\ncorpus\r\n"

if job["lib"] == "smtplib":
    import smtplib

    if job["tls"] == "implicit":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(job["host"], job["port"], timeout=job["timeout"], context=ctx)
    else:
        smtp = smtplib.SMTP(timeout=job["timeout"])
        smtp.set_debuglevel(job.get("debug", 0))  # before connect(), so the greeting is shown too
        smtp._host = job["host"]  # what SMTP(host) sets; starttls() checks the certificate against it
        smtp.connect(job["host"], job["port"])
    smtp.set_debuglevel(job.get("debug", 0))
    if job["tls"] == "starttls":
        smtp.starttls(context=ctx)
    if job["user"]:
        smtp.login(job["user"], password)
    smtp.sendmail(job["sender"], [job["recipient"]], body)
    smtp.quit()
elif job["lib"] == "aiosmtplib":
    import asyncio

    import aiosmtplib

    async def main() -> None:
        kw = {"hostname": job["host"], "port": job["port"], "timeout": job["timeout"], "tls_context": ctx}
        if job["tls"] == "implicit":
            kw["use_tls"] = True
        elif job["tls"] == "starttls":
            kw["start_tls"] = True
        else:
            kw["start_tls"] = False
        if job["user"]:
            kw["username"], kw["password"] = job["user"], password
        await aiosmtplib.send(body.encode(), sender=job["sender"], recipients=[job["recipient"]], **kw)

    asyncio.run(main())
elif job["lib"] == "django":
    import django
    from django.conf import settings

    settings.configure(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST=job["host"],
                       EMAIL_PORT=job["port"], EMAIL_USE_TLS=job["tls"] == "starttls",
                       EMAIL_USE_SSL=job["tls"] == "implicit", EMAIL_HOST_USER=job["user"],
                       EMAIL_HOST_PASSWORD=password if job["user"] else "", EMAIL_TIMEOUT=job["timeout"])
    django.setup()
    from django.core.mail import send_mail

    send_mail("corpus", "corpus", job["sender"], [job["recipient"]])
print("sent", file=sys.stderr)
