"""The photo library: find photos (folders, Google Photos Takeout), decode them, import them."""
