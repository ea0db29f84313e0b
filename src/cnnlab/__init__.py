"""cnnlab: a course's week on convolutional networks as one reproducible study."""

__version__ = "0.1.0"
