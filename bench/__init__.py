"""FleetPush's benchmark: hub simulators in a child process, Home Assistant in the harness."""
