"""The containment battery: attacks run in preset containers on the real engine."""
