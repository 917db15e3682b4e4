"""The output safety gate: every generated image passes ``SafetyGate.check`` before it
touches disk. It refuses an image that shows a library person who has not consented to this
use, that misses or misplaces a person the prompt asked for, or that is explicit."""
