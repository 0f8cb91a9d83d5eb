"""Two more Python apps for corpus 3: smtplib under an app's ``logging`` (logger.exception, not a bare
traceback) and Flask-Mail (Debian's python3-flask-mail, which hands smtplib no SSL context).

Configured from $CLIENT_JOB (JSON: lib "logging" or "flask", host, port, tls, ca_file, verify, user, sender,
recipient, timeout); password from $CLIENT_PASSWORD. Written for tests/corpus/explain/capture3.py.
"""
import json
import logging
import os
import smtplib
import socket
import ssl
import sys

job = json.loads(os.environ["CLIENT_JOB"])
password = os.environ.get("CLIENT_PASSWORD", "")
body = f"From: {job['sender']}\r\nTo: {job['recipient']}\r\nSubject: corpus\r\n\r\ncorpus\r\n"

if job["lib"] == "logging":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
    log = logging.getLogger("shop.notifications")
    ctx = ssl.create_default_context(cafile=job["ca_file"] or None)
    if not job.get("verify", True):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    log.info("sending order confirmation to %s via %s:%s", job["recipient"], job["host"], job["port"])
    try:
        if job["tls"] == "implicit":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(job["host"], job["port"], timeout=job["timeout"], context=ctx)
        else:
            smtp = smtplib.SMTP(job["host"], job["port"], timeout=job["timeout"])
        if job["tls"] == "starttls":
            smtp.starttls(context=ctx)
        if job["user"]:
            smtp.login(job["user"], password)
        smtp.sendmail(job["sender"], [job["recipient"]], body)
        smtp.quit()
    except Exception:
        log.exception("could not send order confirmation to %s", job["recipient"])
        sys.exit(1)
    log.info("order confirmation sent")
elif job["lib"] == "flask":
    from flask import Flask
    from flask_mail import Mail, Message

    socket.setdefaulttimeout(job["timeout"])  # Flask-Mail has no timeout setting
    app = Flask("shop")
    app.config.update(MAIL_SERVER=job["host"], MAIL_PORT=job["port"], MAIL_USE_TLS=job["tls"] == "starttls",
                      MAIL_USE_SSL=job["tls"] == "implicit", MAIL_USERNAME=job["user"] or None,
                      MAIL_PASSWORD=password if job["user"] else None, MAIL_DEFAULT_SENDER=job["sender"])
    mail = Mail(app)
    with app.app_context():
        mail.send(Message("corpus", recipients=[job["recipient"]], body="corpus"))
    print("sent", file=sys.stderr)
