"""Real parts for tests: a private D-Bus session bus, a headless gnome-keyring, an
isolated home. Each helper works on its own, outside pytest too (the demo uses them)."""
