"""Simulated board: fake IMU, flash and serial around the real firmware."""
