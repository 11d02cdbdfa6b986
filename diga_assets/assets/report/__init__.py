"""``call_report``: the metrics as one offline HTML page (``asset``), from what ``data`` reads
through the analysis views, drawn by ``charts``."""

from diga_assets.assets.report.asset import build_report_asset

__all__ = ["build_report_asset"]
