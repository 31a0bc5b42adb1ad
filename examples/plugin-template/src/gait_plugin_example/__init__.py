"""An example third-party Gait plugin."""
