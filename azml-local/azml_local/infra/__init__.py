"""The emulator's infrastructure, below every resource.

The https server and routing, ARM long-running operations, Entra ID tokens and cloud metadata,
TLS material, the blob proxy and Azurite, the state store and the test controls.
"""
