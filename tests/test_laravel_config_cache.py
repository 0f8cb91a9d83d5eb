"""A stale Laravel config cache (issue 12, matrix 9 dev laravel9_stale_config_cache_wins): after `php artisan
config:cache` Laravel reads bootstrap/cache/config.php and neither .env nor config/mail.php, so an edit of those
changes nothing. check already followed the cache (lint SD120); fix edited the .env the app never reads. It now
clears the cache first (--write deletes it, as `php artisan config:clear` does), checks what the files say, and
mends the .env when that fails too. Proven with the real Laravel 8 against the lab: it fails with the cache and
delivers after `fix --write`."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

import test_check_matrix3 as m3
from app_case import check_entry, write_case
from smtp_doctor.cli import cli
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_matrix5 import _with_ports, dead_ports
from test_check_real import _delivered
from test_laravel8 import _mail_php

__all__ = ["dead_ports", "other_ca"]  # the fixtures, imported so pytest finds them here

CACHE = """<?php return array (
  'app' =>
  array (
    'name' => 'Shop',
    'env' => 'production',
  ),
  'mail' =>
  array (
    'default' => 'smtp',
    'mailers' =>
    array (
      'smtp' =>
      array (
        'transport' => 'smtp',
        'host' => 'localhost',
        'port' => @CACHED_PORT@,
        'encryption' => @CACHED_ENCRYPTION@,
        'username' => '@USER@',
        'password' => '@PASSWORD@',
        'timeout' => 5,
      ),
    ),
    'from' =>
    array (
      'address' => 'shop@example.com',
      'name' => 'Shop',
    ),
  ),
);
"""
CASES = {  # name: (lab server, cached port, cached encryption, the .env's MAIL_ENCRYPTION and MAIL_PORT)
    # the port moved; the .env has the new one
    "port_moved": ("starttls", "@CLOSED_PORT@", "'tls'", "tls", "@PORT@"),
    # the relay moved to implicit TLS; the .env says so, the cache still speaks plaintext first
    "mode_moved": ("implicit", "@PORT@", "NULL", "ssl", "@PORT@"),
    # the .env is wrong as well (STARTTLS against implicit TLS): cleared, then mended
    "env_wrong_too": ("implicit", "@CLOSED_PORT@", "'tls'", "tls", "@PORT@"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_stale_cache_is_cleared_then_the_files_are_checked(name: str, lab: LabInfo, tmp_path: Path,
                                                             other_ca: str, monkeypatch: pytest.MonkeyPatch,
                                                             dead_ports: dict[str, str]) -> None:
    server, port, encryption, env_encryption, env_port = CASES[name]
    env_text = ("APP_NAME=Shop\nAPP_ENV=production\nMAIL_MAILER=smtp\nMAIL_HOST=localhost\n"
                f"MAIL_PORT={env_port}\nMAIL_USERNAME=@USER@\nMAIL_PASSWORD=@PASSWORD@\n"
                f"MAIL_ENCRYPTION={env_encryption}\nMAIL_FROM_ADDRESS=shop@example.com\n")
    cell = {"id": f"cache_{name}", "half": "dev", "runner": "laravel", "server": server, "config": ".env",
            "env": {"SSL_CERT_FILE": "@CA@"},
            "files": {".env": env_text, "config/mail.php": _mail_php(),
                      "bootstrap/cache/config.php": CACHE.replace("@CACHED_PORT@", port)
                      .replace("@CACHED_ENCRYPTION@", encryption)}}
    app = tmp_path / "app"
    config, env, envfile = write_case(_with_ports(cell, dead_ports), lab, app, other_ca, monkeypatch)
    code, entry, output = check_entry(config, envfile, lab)
    assert "SD120" in {f["id"] for f in entry["lint"]}, output
    real = m3._real("laravel", app, config, env, f"cache-{uuid.uuid4()}")
    assert real != "DELIVERED" and entry["prediction"]["verdict"] != "delivered", (real, output)
    done = CliRunner().invoke(cli, ["--lang", "en", "fix", str(config), "--write", "--json", "--timeout", "10",
                                    "--env", str(envfile)])
    assert lab.password not in done.output
    [fixed] = json.loads(done.output)["configs"]
    assert done.exit_code == 0 and fixed["delivers"], done.output
    assert fixed["deleted"] == [str(app / "bootstrap" / "cache" / "config.php")]
    assert not (app / "bootstrap" / "cache" / "config.php").exists()
    assert ("MAIL_ENCRYPTION=ssl" in config.read_text()) is (name == "env_wrong_too" or env_encryption == "ssl")
    subject = f"cache-fixed-{uuid.uuid4()}"
    after = m3._real("laravel", app, config, env, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after
