"""A Rails app's smtp_settings as the running app sees them: environment file + initializers, in load order."""

from __future__ import annotations

from pathlib import Path

from smtp_doctor.frameworks import to_settings
from smtp_doctor.readers import read_file, read_tree

ENV = ("Rails.application.configure do\n  config.action_mailer.delivery_method = :smtp\n"
       "  config.action_mailer.smtp_settings = {{ {body} }}\nend\n")


def _app(root: Path, body: str, initializers: dict[str, str]) -> Path:
    rb = root / "config" / "environments" / "production.rb"
    rb.parent.mkdir(parents=True)
    rb.write_text(ENV.format(body=body))
    for name, text in initializers.items():
        path = root / "config" / "initializers" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return rb


def test_an_initializer_that_changes_the_port_changes_the_same_config(tmp_path: Path) -> None:
    rb = _app(tmp_path, "address: 'mx.example.com', port: 587, enable_starttls: true",
              {"mail.rb": "Rails.application.config.action_mailer.smtp_settings[:port] = 2525\n"})
    [raw] = read_file(rb)
    s = to_settings(raw)
    assert (s.host.value, s.port.value) == ("mx.example.com", 2525)  # type: ignore[union-attr]
    assert s.port and s.port.origin and s.port.origin.file.endswith("initializers/mail.rb")
    assert [c.file for c in read_tree(tmp_path)] == [str(rb)]  # one app, one config: not two


def test_a_later_initializer_assignment_replaces_the_whole_hash(tmp_path: Path) -> None:
    """Sorted order: a_first.rb amends, z_last.rb assigns a new hash (the amendment is gone with it)."""
    rb = _app(tmp_path, "address: 'mx.example.com', port: 587", {
        "a_first.rb": "ActionMailer::Base.smtp_settings.merge!(user_name: 'app')\n",
        "z_last.rb": "ActionMailer::Base.smtp_settings = { address: 'relay.example.com', port: 25 }\n"})
    [raw] = read_file(rb)
    s = to_settings(raw)
    assert (s.host.value, s.port.value, s.username) == ("relay.example.com", 25, None)  # type: ignore[union-attr]


def test_an_environment_file_alone_is_unchanged(tmp_path: Path) -> None:
    rb = _app(tmp_path, "address: 'mx.example.com', port: 465, tls: true", {"other.rb": "Foo.bar = 1\n"})
    [raw] = read_file(rb)
    assert "readers.note.merged" not in raw.notes and to_settings(raw).port.value == 465  # type: ignore[union-attr]


def test_an_initializer_assigning_the_hash_merged_with_more_changes_the_same_config(tmp_path: Path) -> None:
    """``smtp_settings = smtp_settings.merge(ssl: true)`` (a real pattern: "always use TLS") keeps the hash set
    before and changes it, exactly as ``merge!`` does; it is not a new hash of one key."""
    rb = _app(tmp_path, "address: '127.0.0.1', port: 587, enable_starttls_auto: true",
              {"mail_security.rb": "ActionMailer::Base.smtp_settings = "
                                   "ActionMailer::Base.smtp_settings.merge(ssl: true)\n"})
    [raw] = read_file(rb)
    s = to_settings(raw)
    assert (s.host.value, s.port.value) == ("127.0.0.1", 587)  # type: ignore[union-attr]
    assert s.tls_mode and s.tls_mode.origin and s.tls_mode.origin.file.endswith("mail_security.rb")
