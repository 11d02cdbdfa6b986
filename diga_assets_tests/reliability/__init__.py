"""The fault-injection suite: API, process and input faults, secrets and personal data.

Run it alone with ``pytest diga_assets_tests/reliability``; RELIABILITY.md maps each fault to its test.
"""
