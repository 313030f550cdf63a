"""Live updates for the inbox: notices of what changed, carried from commits to browsers."""
