"""Real-service rigs the tests (and a person trying things) start on loopback."""
