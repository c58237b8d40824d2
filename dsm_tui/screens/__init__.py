"""One screen per view: pulse, servers, jobs, activity, credentials, settings."""
