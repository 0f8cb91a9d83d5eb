"""Rendering: findings and reports → text (rich), JSON, Markdown, SARIF. No decisions are made here."""
