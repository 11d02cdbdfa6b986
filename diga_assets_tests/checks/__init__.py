"""Tests of the asset checks, one module per layer."""
