"""The published marts: dbt settings for a build, the build plan, read-only access, figures and the
plausibility checks."""
