"""Scoring: the front door of the scoring URI, environment builds and the scoring processes."""
