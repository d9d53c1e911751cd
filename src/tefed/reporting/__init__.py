"""Figures and the HTML report of a run, drawn from the tables and the summary."""
