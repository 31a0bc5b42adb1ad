"""Gait plugin: the GitLab CI template of the regression gate (`gait ci init --provider gitlab`)."""
