"""Timing: measure, the timer, contention, worker processes, options, calibration, roofline."""
