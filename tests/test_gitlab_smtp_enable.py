"""GitLab's smtp_enable left commented out, as its gitlab.rb template ships it (issue 12, matrix 9 dev): every
smtp_* line is set, but omnibus-gitlab writes the SMTP initializer only when smtp_enable is true, and GitLab
sends with sendmail. check said "will deliver"; it now says the SMTP settings are not used, explain reads the
commented line, and fix writes the switch. Asserted with GitLab's real SMTP mapping into ActionMailer (matrix 2's
runner, which refuses as GitLab does), with a new configuration."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import test_check_matrix3 as m3
from app_case import check_entry, fix_write, write_case
from smtp_doctor.explain import explain
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_real import _delivered

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it here

GITLAB_RB = """external_url 'https://code.example.org'

### Email Settings
# gitlab_rails['smtp_enable'] = true
gitlab_rails['smtp_address'] = "127.0.0.1"
gitlab_rails['smtp_port'] = @PORT@
gitlab_rails['smtp_user_name'] = "@USER@"
gitlab_rails['smtp_password'] = "@PASSWORD@"
gitlab_rails['smtp_domain'] = "code.example.org"
gitlab_rails['smtp_authentication'] = "login"
gitlab_rails['smtp_enable_starttls_auto'] = true
gitlab_rails['smtp_ca_file'] = "@CA@"
"""


def test_smtp_settings_without_the_switch_are_not_used(lab: LabInfo, tmp_path: Path, other_ca: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    cell = {"id": "smtp_enable", "half": "dev", "runner": "gitlab", "server": "starttls", "lock": False,
            "config": "gitlab.rb", "env": {}, "files": {"gitlab.rb": GITLAB_RB}}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    code, entry, output = check_entry(config, envfile, lab)
    real = m3._real("gitlab", app, config, env, f"enable-{uuid.uuid4()}")
    assert real != "DELIVERED" and "smtp_enable" in real, real
    assert code == 1 and entry["prediction"]["failure"] == "config_smtp_disabled", output
    found = explain(config.read_text())
    assert found.best is not None and found.best.mode.id == "config_smtp_disabled"
    code, output = fix_write(config, envfile, lab)
    assert code == 0, output
    subject = f"enable-fixed-{uuid.uuid4()}"
    after = m3._real("gitlab", app, config, env, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after
