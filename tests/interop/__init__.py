"""Interop: generated clients other than the grpcio SDK against the real server."""
