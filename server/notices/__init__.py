"""Notices to the shop a cross-door case names (跨门经营): recorded, listed, audited."""
