"""The generation service: FastAPI app, job store, queue backends, workers.

Calls only gen3d's public API; models are never run in a request handler.
"""
