"""Signal analysis: face, voice and motion analysers and their orchestration.

This package knows nothing of HTTP or databases: it turns decoded sensor data into
typed, derived results. Raw inputs never leave it.
"""
