"""The message catalogue: both languages everywhere, same placeholders, every used key present."""

from __future__ import annotations

import re
from pathlib import Path

from smtp_doctor import i18n

SRC = Path(__file__).resolve().parents[1] / "src" / "smtp_doctor"


def test_every_message_has_english_and_japanese_with_the_same_placeholders() -> None:
    for key, entry in i18n.catalogue().items():
        assert set(entry) >= {"en", "ja"}, key
        assert entry["ja"].strip(), key
        assert i18n.placeholders(entry["en"]) == i18n.placeholders(entry["ja"]), key


def test_every_literal_key_used_in_code_exists() -> None:
    pattern = re.compile(r"""\bt\(\s*["']([a-z0-9_.\-]+)["']""")
    missing = []
    for path in SRC.rglob("*.py"):
        for key in pattern.findall(path.read_text(encoding="utf-8")):
            if not i18n.has(key):
                missing.append(f"{path.name}: {key}")
    assert not missing, missing


def test_language_detection() -> None:
    assert i18n.detect_language({"LANG": "ja_JP.UTF-8"}) == "ja"
    assert i18n.detect_language({"LC_ALL": "C", "LANG": "ja_JP.UTF-8"}) == "en"
    assert i18n.detect_language({}) == "en"


def test_one_word_for_server_in_japanese() -> None:
    """House style is サーバー: a catalogue that mixes サーバ and サーバー reads as two things."""
    import re
    from pathlib import Path

    messages = Path(__file__).resolve().parents[1] / "src" / "smtp_doctor" / "messages"
    short = re.compile("サーバ(?!ー)")
    offenders = [f"{p.name}:{n}" for p in sorted(messages.glob("*.toml"))
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if short.search(line)]
    assert offenders == []
