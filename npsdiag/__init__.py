"""npsdiag: diagnose NPS extension for Microsoft Entra MFA failures from exported logs."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
