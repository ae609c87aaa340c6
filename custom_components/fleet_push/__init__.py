"""FleetPush."""
