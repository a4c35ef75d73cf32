"""Recordings shipped with walkdose (see README.md in this folder for sources and licences)."""
