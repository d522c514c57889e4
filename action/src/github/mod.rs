//! GitHub reporting: deployments, statuses, the sticky PR comment, the job summary.
