"""`fix --write` on a Python settings module whose wrong value it imports from another module (issue 12).

``from config.common import *`` then ``from config.production import *``: the value that makes the app fail is
written in config/common.py. An assignment at the end of the module being checked overrides what it imported,
so the fix goes there, and the re-check reads the copy as if at home (its imports, not the values they had
before the fix). Each case: the real framework fails first and delivers after (matrix 7b dev kind).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import test_check_matrix3 as m3
from app_case import check_entry, fix_write, write_case
from smtp_doctor.lab import LabInfo
from smtp_doctor.predict import Fix
from smtp_doctor.readers import read_file
from smtp_doctor.writers.patch import apply_fix
from test_check_matrix import _agree, other_ca
from test_check_real import _delivered

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it

COMMON = ('EMAIL_HOST = "127.0.0.1"\nEMAIL_PORT = @PORT_IMPLICIT@\nEMAIL_USE_SSL = True\nEMAIL_HOST_USER = "@USER@"\n'
          'EMAIL_HOST_PASSWORD = "@PASSWORD@"\nEMAIL_TIMEOUT = 10\nDEFAULT_FROM_EMAIL = "shop@example.org"\n')
FLASK_BASE = ('MAIL_SERVER = "127.0.0.1"\nMAIL_PORT = 587\nMAIL_USE_TLS = True\nMAIL_USERNAME = "@USER@"\n'
              'MAIL_PASSWORD = "@PASSWORD@"\nMAIL_DEFAULT_SENDER = "shop@example.org"\n')
CASES = {  # name: (runner, server, files, failure before the fix)
    "django_port_moved_ssl_kept": ("django", "starttls", {
        "settings.py": "SECRET_KEY = 'k'\nfrom config.common import *  # noqa\n"
                       "from config.production import *  # noqa\n",
        "config/__init__.py": "", "config/common.py": COMMON,
        "config/production.py": "EMAIL_PORT = @PORT@  # the submission port now\n"}, "implicit_tls_on_plain_port"),
    "flask_base_starttls_on_implicit": ("flask_mail", "implicit", {
        "config.py": "from base_config import *  # noqa\nMAIL_PORT = @PORT@\n", "base_config.py": FLASK_BASE},
        "greeting_timeout"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_value_imported_from_another_module_is_overridden_at_the_end(name: str, lab: LabInfo, tmp_path: Path,
                                                                      other_ca: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    runner, server, files, failure = CASES[name]
    config_name = next(iter(files))
    cell = {"id": name, "half": "dev", "runner": runner, "server": server, "config": config_name,
            "env": {"SSL_CERT_FILE": "@CA@"}, "lock": False, "files": files}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    before = m3._real(runner, app, config, env, f"imported-{uuid.uuid4()}")
    assert before != "DELIVERED" and _agree(failure, m3._read(before)), before
    code, entry, output = check_entry(config, envfile, lab)
    assert code == 1 and _agree(entry["prediction"]["failure"], m3._read(before)), output
    imported = {p: p.read_text() for p in app.rglob("*.py") if p != config}
    code, output = fix_write(config, envfile, lab)
    assert code == 0 and "will deliver" in output, output
    assert {p: p.read_text() for p in imported} == imported  # the imported modules are left as they are
    subject = f"imported-fixed-{uuid.uuid4()}"
    after = m3._real(runner, app, config, env, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after


def test_the_override_goes_at_the_top_level_after_the_last_line(tmp_path: Path) -> None:
    """A module that ends inside an `if` block, without a final line break: the override is not indented into
    the block, nor glued to the last line."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "__init__.py").write_text("")
    (tmp_path / "config" / "common.py").write_text('EMAIL_HOST = "127.0.0.1"\nEMAIL_PORT = 465\nEMAIL_USE_SSL = True\n')
    settings = tmp_path / "settings.py"
    settings.write_text('from config.common import *\nimport os\nif os.environ.get("X"):\n    EMAIL_TIMEOUT = 5')
    [raw] = read_file(settings)
    fix = Fix("plain_port", ("EMAIL_USE_TLS = True", "EMAIL_USE_SSL = False"), keys=("EMAIL_USE_TLS", "EMAIL_USE_SSL"))
    text = apply_fix(settings.read_text(), raw, fix, "python").text
    assert text.endswith('    EMAIL_TIMEOUT = 5\nEMAIL_USE_TLS = True\nEMAIL_USE_SSL = False\n'), text
