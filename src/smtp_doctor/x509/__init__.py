"""Certificates: reading them (cryptography), checking names (RFC 6125/9525, RFC 7817) and
verifying chains exactly as sent against trust sources (OpenSSL's verifier via pyOpenSSL)."""
