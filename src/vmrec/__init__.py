"""vmrec: a multi-head value model for short-video recommendation on KuaiRec."""

__version__ = "0.1.0"
