"""Laravel 8's own CA file in config/mail.php (``'stream' => ['ssl' => ['cafile' => …]]``) replaces the system
store, so the usual trust fix, SSL_CERT_FILE in the app's environment, is never read (issue 12, matrix 7 dev
laravel7_stream_cafile_base_path_missing). When that file is missing or holds another CA, fix now replaces the
value where it is written with the CA file that verified the server's chain. Proven with the real Laravel 8 against
the lab: it fails as written and delivers after `fix --write`."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import test_check_matrix3 as m3
from app_case import check_entry, fix_write, write_case
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_real import _delivered
from test_fix_laravel_shadowed import ENV
from test_laravel8 import _mail_php

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it

STREAM = """
            'stream' => [
                'ssl' => [
                    'cafile' => {cafile},
                ],
            ],"""


@pytest.mark.parametrize("cafile", ["base_path('storage/certs/relay-ca.pem')", "'@OTHER_CA@'"],
                         ids=["missing", "another_ca"])
def test_the_apps_own_ca_file_is_replaced_where_it_is_written(cafile: str, lab: LabInfo, tmp_path: Path,
                                                              other_ca: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cell = {"id": "stream_cafile", "half": "dev", "runner": "laravel", "server": "implicit", "config": ".env",
            "env": {"SSL_CERT_FILE": "@CA@"},  # read by PHP only when no cafile is set: here, never
            "files": {".env": ENV.replace("@HOST@", "127.0.0.1").replace("=tls\n", "=ssl\n"),
                      "config/mail.php": _mail_php(stream=STREAM.format(cafile=cafile))}}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    code, entry, output = check_entry(config, envfile, lab)
    real = m3._read(m3._real("laravel", app, config, env, f"stream-{uuid.uuid4()}"))
    assert real != "delivered" and code == 1 and entry["prediction"]["stage"] == "tls", (real, output)
    code, output = fix_write(config, envfile, lab, "--ca-file", str(lab.ca_file))
    assert code == 0 and "will deliver" in output, output
    assert f"'cafile' => '{lab.ca_file}'," in (app / "config" / "mail.php").read_text()
    subject = f"stream-fixed-{uuid.uuid4()}"
    after = m3._real("laravel", app, config, env, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after
