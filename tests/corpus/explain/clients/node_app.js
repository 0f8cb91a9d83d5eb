// A small app sending one message with nodemailer, from $CLIENT_JOB (JSON; debug: nodemailer's own logger
// and debug transcript on stdout, as `logger: true, debug: true` gives); password from $CLIENT_PASSWORD.
// Written for tests/corpus/explain/capture.py; NODE_PATH points at the nodemailer under test.
const fs = require("fs");
const nodemailer = require("nodemailer");

const job = JSON.parse(process.env.CLIENT_JOB);
const tls = job.ca_file ? { ca: [fs.readFileSync(job.ca_file)] } : {};
if (job.verify === false) tls.rejectUnauthorized = false;
const transport = nodemailer.createTransport({
  host: job.host,
  port: job.port,
  secure: job.tls === "implicit",
  requireTLS: job.tls === "starttls",
  ignoreTLS: job.tls === "none",
  auth: job.user ? { user: job.user, pass: process.env.CLIENT_PASSWORD } : undefined,
  tls,
  logger: !!job.debug,
  debug: !!job.debug,
  connectionTimeout: job.timeout * 1000,
  greetingTimeout: job.timeout * 1000,
  socketTimeout: (job.timeout + 2) * 1000,
});
transport
  .sendMail({ from: job.sender, to: job.recipient, subject: "corpus", text: "corpus" })
  .then(() => console.log("sent"))
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
