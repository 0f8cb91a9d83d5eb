"""Shared fixtures: the lab (real servers, real TLS on 127.0.0.1, ephemeral ports)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smtp_doctor.lab import LabInfo, run_lab_in_thread


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabInfo]:
    with run_lab_in_thread(tmp_path_factory.mktemp("lab")) as info:
        yield info
