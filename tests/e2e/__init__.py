"""End-to-end: a real Home Assistant process, a simulator and a real browser."""
