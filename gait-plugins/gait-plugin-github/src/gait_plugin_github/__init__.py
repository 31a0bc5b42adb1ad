"""Gait plugin: GitHub Actions for the regression gate.

`gait ci init --provider github` writes `.github/workflows/gait-regress.yml`; inside a GitHub
job, `gait ci regress` hands its result to this plugin, which writes the step summary, the
step outputs and an error annotation per failing grader.
"""
