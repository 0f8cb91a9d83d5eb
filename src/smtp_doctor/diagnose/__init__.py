"""Diagnosis: pure functions from facts to findings. No I/O, no clock except what is passed in."""
