"""Clients for the pushed generators: TF Serving over gRPC or REST, or a local SavedModel."""
