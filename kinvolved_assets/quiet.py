"""Dagster's own notices about its API (beta parameters it passes to itself, the ``dg`` CLI that
supersedes ``dagster dev``) are not for operators: every entry point of the platform (the CLI, the
code location the UI loads) silences exactly these categories. Other warnings still show."""

from __future__ import annotations

import warnings


def quiet_dagster_notices() -> None:
    try:
        from dagster_shared.utils.warnings import BetaWarning, PreviewWarning, SupersessionWarning
    except ImportError:  # pragma: no cover - older layouts
        return
    for category in (BetaWarning, PreviewWarning, SupersessionWarning):
        warnings.filterwarnings("ignore", category=category)
