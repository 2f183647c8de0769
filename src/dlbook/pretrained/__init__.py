"""Pretrained-weight ports and the file readers they need (no torch, no download)."""
