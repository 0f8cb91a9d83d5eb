"""smtp-doctor audit vs testssl.sh (--starttls smtp) vs sslyze (--starttls smtp) on the audit lab's servers.

Every tool audits every server of src/smtp_doctor/lab/audit.py (each fails one check, two are clean) on
127.0.0.1; the script times each run and reads each tool's JSON for the verdict on the check the server
exists to show. "n/a" means the tool has no such check. Run as:

    .venv/bin/python bench/audit_bench.py [--sslyze /tmp/sslyze-venv/bin/python] [--jobs 2] > /tmp/audit-bench.md

testssl.sh from Debian (`apt-get install testssl.sh`); sslyze from PyPI in its own venv
(`python3 -m venv /tmp/sslyze-venv && /tmp/sslyze-venv/bin/pip install sslyze`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from smtp_doctor.lab.audit import SERVERS, STAPLED, audit_lab_in_thread

#: server -> (the check it fails, smtp-doctor's finding id for it)
CHECKS = {
    "clean": ("(none: clean)", ""),
    "clean-implicit": ("(none: clean, implicit TLS)", ""),
    "injection": ("STARTTLS command injection", "audit.starttls_injection"),
    "leak-after-220": ("bytes after 220", "audit.bytes_after_220"),
    "auth-before-tls": ("AUTH before TLS", "audit.auth_before_tls"),
    "mail-before-tls": ("MAIL before STARTTLS (530)", "audit.mail_before_tls"),
    "starttls-readvertised": ("STARTTLS again inside TLS", "audit.second_starttls"),
    "talks-after-tls": ("talks unprompted (injection must be INCONCLUSIVE)", "audit.starttls_injection_inconclusive"),
    "tls10-only": ("TLS 1.0 only", "audit.legacy_tls_only"),
    "rsa1024": ("RSA-1024 key", "audit.weak_key"),
    "sha1": ("SHA-1 signature", "audit.sha1_signature"),
    "revoked": ("revoked (CRL + OCSP)", "audit.revoked"),
    "crl-unreachable": ("CRL unreachable (must not say good)", "audit.revocation_unchecked"),
    "stapled-good": ("(none: clean, staples a good OCSP answer)", ""),
    "stapled-revoked": ("revoked (stapled OCSP answer)", "audit.revoked"),
}
#: Severities that count as "problem reported" for a false-positive count on the clean servers.
SD_BAD = {"error", "critical"}
TS_BAD = {"HIGH", "CRITICAL"}


def run(argv: list[str], timeout: float = 900) -> tuple[float, str]:
    t0 = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    return time.monotonic() - t0, done.stdout


def smtp_doctor(port: int, ca: str, implicit: bool) -> tuple[float, dict[str, str]]:
    seconds, out = run([sys.executable, "-m", "smtp_doctor", "audit", f"127.0.0.1:{port}", "--ca-file", ca,
                        "--revocation", "--json"])
    try:
        doc = json.loads(out)
    except ValueError:
        return seconds, {"(no JSON output)": "error"}
    return seconds, {f["id"]: f["severity"] for p in doc["ports"] for f in p["findings"]}


def sslyze(python: str, port: int, implicit: bool, work: Path, ca: str) -> tuple[float, dict[str, Any]]:
    out = work / f"sslyze-{port}.json"
    seconds, _ = run([python, "-m", "sslyze", *([] if implicit else ["--starttls", "smtp"]), "--certinfo_ca_file", ca,
                      "--json_out", str(out), f"127.0.0.1:{port}"])
    try:
        return seconds, json.loads(out.read_text())["server_scan_results"][0]["scan_result"] or {}
    except (OSError, ValueError, KeyError, IndexError):
        return seconds, {}


def testssl(port: int, implicit: bool, work: Path, ca: str) -> tuple[float, list[dict[str, str]]]:
    out = work / f"testssl-{port}.json"
    seconds, _ = run(["testssl", *([] if implicit else ["--starttls", "smtp"]), "--add-ca", ca, "--phone-out",
                      "--warnings", "batch",
                      "--color", "0", "--quiet", "--jsonfile", str(out), f"127.0.0.1:{port}"])
    return seconds, json.loads(out.read_text()) if out.exists() else []


def sd_verdict(name: str, found: dict[str, str]) -> str:
    want = CHECKS[name][1]
    if not want:
        bad = sorted(k for k, v in found.items() if v in SD_BAD)
        return "clean" if not bad else "FP: " + ", ".join(bad)
    return "found" if want in found else "MISSED"


def _accepted(scan: dict[str, Any], key: str) -> list[str]:
    res = (scan.get(key) or {}).get("result") or {}
    return [c["cipher_suite"]["name"] for c in res.get("accepted_cipher_suites", [])]


def sslyze_verdict(name: str, scan: dict[str, Any]) -> str:
    try:
        deployment = scan["certificate_info"]["result"]["certificate_deployments"][0]
    except (KeyError, IndexError, TypeError):
        return "no result"
    leaf = deployment["received_certificate_chain"][0]
    if name == "stapled-revoked":
        status = (deployment.get("ocsp_response") or {}).get("certificate_status", "")
        return "found" if "REVOKED" in str(status).upper() else "MISSED"
    if name == "tls10-only":
        only10 = bool(_accepted(scan, "tls_1_0_cipher_suites")) and not _accepted(scan, "tls_1_2_cipher_suites") \
            and not _accepted(scan, "tls_1_3_cipher_suites")
        return "found" if only10 else "MISSED"
    if name == "rsa1024":
        return "found" if (leaf["public_key"]["key_size"] or 4096) < 2048 else "MISSED"
    if name == "sha1":
        return "found" if (leaf["signature_hash_algorithm"] or {}).get("name") == "sha1" else "MISSED"
    if not CHECKS[name][1]:
        return "no rating"
    return "n/a"


def testssl_verdict(name: str, entries: list[dict[str, str]]) -> str:
    by_id = {e["id"]: e for e in entries}
    if len(entries) < 10:  # only its own start-up notes: the scan itself failed
        return "scan failed"
    if name == "tls10-only":
        ok = "not" not in by_id.get("TLS1", {}).get("finding", "not") and "not" in by_id.get("TLS1_2", {}).get(
            "finding", "")
        return "found" if ok else "MISSED"
    if name == "rsa1024":
        return "found" if "1024" in by_id.get("cert_keySize", {}).get("finding", "") else "MISSED"
    if name == "sha1":
        return "found" if "SHA1" in by_id.get("cert_signatureAlgorithm", {}).get("finding", "").upper() else "MISSED"
    if name in ("revoked", "crl-unreachable", "stapled-revoked"):
        texts = " ".join(e["finding"] for e in entries
                         if e["id"] in ("cert_revocation", "cert_crlRevoked", "cert_ocspRevoked"))
        if "revoked" in texts.lower() and "not revoked" not in texts.lower():
            return "found" if name != "crl-unreachable" else "says revoked"
        if "failed" in texts.lower():
            return "said plainly (retrieval failed)" if name == "crl-unreachable" else "MISSED (retrieval failed)"
        return "not reported" if name == "crl-unreachable" else "MISSED"
    if not CHECKS[name][1]:
        bad = sorted({e["id"] for e in entries if e["severity"] in TS_BAD})
        return "clean" if not bad else "rated " + ", ".join(bad)
    return "n/a"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sslyze", default="/tmp/sslyze-venv/bin/python")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-testssl", action="store_true")
    ap.add_argument("--markdown", default=None, metavar="FILE",
                    help="write section 6 of docs/benchmarks.md (heading, method, table) to FILE (bench/run.sh)")
    args = ap.parse_args()
    if not Path(args.sslyze).exists():  # its own venv, so it never touches the project's
        venv = Path(args.sslyze).parents[1]
        print(f"audit_bench: installing sslyze into {venv} …", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "sslyze"], check=True)
    out: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="audit-bench-"))
    have_testssl = not args.no_testssl and shutil.which("testssl") is not None
    rows = []
    with audit_lab_in_thread(work / "lab") as info:
        ca = str(info.ca_file)

        def one(name: str) -> tuple[str, Any]:
            port, implicit = info.ports[name], name not in STAPLED and SERVERS[name].implicit
            sd = smtp_doctor(port, ca, implicit)
            sy = sslyze(args.sslyze, port, implicit, work, ca)
            ts = testssl(port, implicit, work, ca) if have_testssl else (0.0, [])
            return name, (sd, sy, ts)

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = dict(pool.map(one, list(CHECKS)))
    out.append("| lab server | fails | smtp-doctor | s | sslyze | s | testssl.sh | s |")
    out.append("|---|---|---|---|---|---|---|---|")
    totals = [0.0, 0.0, 0.0]
    for name, ((sd_s, sd), (sy_s, sy), (ts_s, ts)) in results.items():
        totals = [totals[0] + sd_s, totals[1] + sy_s, totals[2] + ts_s]
        rows.append(f"| {name} | {CHECKS[name][0]} | {sd_verdict(name, sd)} | {sd_s:.1f} | "
                    f"{sslyze_verdict(name, sy)} | {sy_s:.1f} | "
                    f"{testssl_verdict(name, ts) if have_testssl else 'not run'} | {ts_s:.1f} |")
    out.extend(rows)
    out.append(f"| **total** | | | {totals[0]:.1f} | | {totals[1]:.1f} | | {totals[2]:.1f} |")
    table = "\n".join(out)
    if args.markdown:
        Path(args.markdown).write_text(SECTION.format(jobs=args.jobs, table=table), encoding="utf-8")
    else:
        print(table)
    return 0


SECTION = """## 6. `audit` vs testssl.sh and sslyze on the audit lab

`bench/audit_bench.py` starts the audit lab (`src/smtp_doctor/lab/audit.py`: each server on 127.0.0.1 fails one
check or is clean) and runs, {jobs} servers at a time, `smtp-doctor audit --revocation --json`, sslyze
(`--starttls smtp --certinfo_ca_file`, PyPI, own venv) and testssl.sh (Debian; `--starttls smtp --add-ca
--phone-out`), each given the lab CA. Wall time per server in this run; the verdict on the check the server
exists to show, read from each tool's JSON. "n/a": the tool has no such check.

{table}
"""


if __name__ == "__main__":
    raise SystemExit(main())
