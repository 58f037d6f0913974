"""The finance report and periods over HTTP (scope `finance`)."""
