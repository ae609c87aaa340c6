"""FleetPush tests."""
