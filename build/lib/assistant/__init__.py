"""CIMIC doctrine assistant: grounded, cited answers from a small doctrine knowledge base.

Heavy dependencies (torch, chromadb, gradio) are imported inside the modules that need them,
so importing the package or running `cimic --help` stays instant.
"""

__version__ = "0.1.0"
