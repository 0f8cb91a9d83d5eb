"""Framework models: what an application will really do with the mail settings it was given.

The facts live in knowledge/frameworks.toml; ``model.py`` interprets them. Use :func:`to_settings`
for the connection plan, :func:`predict` for failures the configuration alone guarantees, and
:func:`expected_error` for the exact text a framework prints for a failure mode.
"""

from .model import Model, Prediction, expected_error, model, models, predict, to_settings, translate

__all__ = ["Model", "Prediction", "expected_error", "model", "models", "predict", "to_settings", "translate"]
