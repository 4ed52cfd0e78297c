"""Real clients (git, msmtp, mbsync) against the rigs in sigilforge.testing."""
