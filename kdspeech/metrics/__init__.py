"""Objective quality and intelligibility metrics (no I/O: arrays in, numbers out)."""

from kdspeech.metrics.enhancement import METRICS, compute, estoi, pesq_nb, pesq_wb, si_sdr, stoi

__all__ = ["METRICS", "compute", "estoi", "pesq_nb", "pesq_wb", "si_sdr", "stoi"]
