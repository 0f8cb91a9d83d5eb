// A small app sending one message with emailjs (npm), from $CLIENT_JOB (JSON); password from
// $CLIENT_PASSWORD; $EMAILJS is the emailjs entry file under test (ESM ignores NODE_PATH). On failure it
// logs the error object as apps do (console.error). Written for tests/corpus/explain/capture3.py.
import fs from "node:fs";
import { pathToFileURL } from "node:url";

const { SMTPClient } = await import(pathToFileURL(process.env.EMAILJS).href);
const job = JSON.parse(process.env.CLIENT_JOB);
const tlsOpts = {};
if (job.ca_file) tlsOpts.ca = [fs.readFileSync(job.ca_file)];
if (job.verify === false) tlsOpts.rejectUnauthorized = false;
const client = new SMTPClient({
  host: job.host,
  port: job.port,
  ssl: job.tls === "implicit" ? tlsOpts : false,
  tls: job.tls === "starttls" ? tlsOpts : false,
  user: job.user || undefined,
  password: job.user ? process.env.CLIENT_PASSWORD : undefined,
  timeout: job.timeout * 1000,
  logger: job.debug ? (...args) => console.log(...args) : undefined,
});
try {
  await client.sendAsync({ from: job.sender, to: job.recipient, subject: "corpus", text: "corpus" });
  console.log("sent");
} catch (err) {
  console.error("mail failed:", err);
  process.exitCode = 1;
}
