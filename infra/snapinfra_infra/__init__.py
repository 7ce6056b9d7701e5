"""The CDK app of Snapinfra: every AWS resource, derived from the shared topology."""
