"""Grid federate: OpenDSS power flow of the distribution feeder."""
