"""The aiohttp web app: widget assets, broker portal, coordination dashboard, JSON API."""
