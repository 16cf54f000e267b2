"""leaderboards: the tracking store of runs, submissions and leaderboard snapshots, and its history."""
