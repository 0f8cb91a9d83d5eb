"""``python -m smtp_doctor``."""

from .cli import main

main()
