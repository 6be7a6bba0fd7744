"""Synthetic NPS exports: an EVTX writer and scenario-driven sample generation."""
