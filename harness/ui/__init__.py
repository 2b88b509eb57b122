"""`drydock ui`: a loopback page over the Step Functions API (`harness.ui.server`, static files in `static/`)."""
