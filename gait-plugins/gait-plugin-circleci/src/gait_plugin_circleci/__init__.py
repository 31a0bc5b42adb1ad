"""Gait plugin: the CircleCI config of the regression gate (`gait ci init --provider circleci`)."""
