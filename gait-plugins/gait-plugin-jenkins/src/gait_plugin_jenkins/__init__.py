"""Gait plugin: the Jenkins pipeline of the regression gate (`gait ci init --provider jenkins`)."""
