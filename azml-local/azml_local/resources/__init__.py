"""ARM resources and Azure ML's rules for them.

Workspace and datastores, versioned assets, online and batch endpoints and their deployments,
compute clusters, attached Kubernetes computes and batch jobs.
"""
